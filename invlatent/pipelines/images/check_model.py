"""``invlatent check`` for image models: the measured equivariance error of a latent layer.

For each group element g (and for rotations half-way between elements) the relative error
``‖f(g·x) − g·f(x)‖ / ‖f(x)‖`` over ``samples`` test images, computed in float64 from the
float32 outputs. For a plain CNN (trivial action) ``g·f(x) = f(x)``: the same numbers measure
how invariant augmentation made it, at the rotations of C8. For a feature map (``--layer
blockK-map``, action ``cN:grid``) g·f(x) also turns the map: exact for quarter turns, bilinear
for the other elements, whose error then includes that interpolation.

With ``--lift cN|dN`` (:func:`check_lift`) the same table measures the lifted encoder of
``encode --lift`` (any plain checkpoint layer, or a foreign encoder) per element of the group:
exact for quarter turns and the mirror, approximate where the turn is bilinear.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from invlatent.errors import InvlatentError
from invlatent.groups import act
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images
from invlatent.pipelines.images.data import load_data
from invlatent.pipelines.images.encode import guarded, load_foreign
from invlatent.pipelines.images.gconv import group_elements
from invlatent.pipelines.images.lift import (
    check_liftable,
    exact_element,
    lifted,
    measure_lift,
    parse_lift,
)
from invlatent.pipelines.images.models import limit_threads, load_model, resolve_device
from invlatent.pipelines.images.onnx_model import load_onnx

TRIVIAL_PROBE = Action.parse("c8")


def check_model(
    model_path: str, data: str, *, seed: int, samples: int, device: str, layer: str | None = None
) -> dict:
    """Equivariance error per group element and between elements, as a JSON-ready dict."""
    net, config = load_model(model_path, device)
    layer = _layer(net, layer)
    x = _sample(data, config, samples, seed)
    action = Action.parse(net.layer_action(layer))
    probe = action if action.group_size else TRIVIAL_PROBE
    limit_threads()
    dev = resolve_device(device)
    encode = _runner(net, layer, dev)
    z, pred = encode(x)
    rows = [
        _row(encode, x, z, pred, action, i, a, f, "element")
        for i, (a, f) in enumerate(group_elements(probe))
    ]
    half = math.pi / probe.order
    rows += [
        _row(encode, x, z, pred, action, i, a + half, f, "between")
        for i, (a, f) in enumerate(group_elements(probe))
        if not f
    ]
    return {
        "model": model_path,
        "arch": config["arch"],
        "group": config.get("group"),
        "layer": layer,
        "action": str(action),
        "data": data,
        "samples": int(len(x)),
        "seed": seed,
        "measure": "invariance" if action.is_invariant else "equivariance",
        "rows": rows,
        "max_error_elements": max(r["max_relative_error"] for r in rows if r["kind"] == "element"),
        "max_error_between": max(r["max_relative_error"] for r in rows if r["kind"] == "between"),
    }


def check_lift(
    model_path: str,
    data: str,
    *,
    lift: str,
    seed: int,
    samples: int,
    device: str,
    layer: str | None = None,
    foreign: str | None = None,
) -> dict:
    """Per element of ``lift``: the lifted encoder's error ‖F(g·x) − g·F(x)‖ / ‖F(x)‖, for a
    checkpoint's layer or a foreign encoder (``foreign``: ``torchscript`` or ``onnx``)."""
    group = parse_lift(lift)
    load = functools.partial(_foreign, kind=foreign) if foreign else _checkpoint
    fn, action, x, arch, layer = load(model_path, data, layer, device, samples, seed)
    check_liftable(action, x.shape)
    limit_threads()
    info = measure_lift(lifted(fn, group), x, group, resolve_device(device))
    rows = [_lift_row(e) for e in info["elements"]]
    return {
        "model": model_path,
        "arch": arch,
        "group": None,
        "lift": str(group),
        "layer": layer,
        "action": str(group),
        "data": data,
        "samples": int(len(x)),
        "seed": seed,
        "measure": "equivariance",
        "rows": rows,
        "max_error_elements": max(r["max_relative_error"] for r in rows),
        "max_error_exact": max(r["max_relative_error"] for r in rows if r["exact"]),
    }


def _checkpoint(model_path: str, data: str, layer, device: str, samples: int, seed: int):
    """A checkpoint's layer as an encoder: (fn, its action, sampled images, arch, layer)."""
    net, config = load_model(model_path, device)
    layer = _layer(net, layer)
    x = _sample(data, config, samples, seed)
    fn = lambda t: net.encode(t, layer)  # noqa: E731
    return fn, net.layer_action(layer), x, config["arch"], layer


def _foreign(model_path: str, data: str, layer, device: str, samples: int, seed: int, kind: str):
    """A TorchScript / torch.export / ONNX encoder (trivial action) as :func:`_checkpoint`."""
    if layer:
        raise InvlatentError("layer applies to invlatent checkpoints, not to a foreign encoder")
    net = load_onnx(model_path, device) if kind == "onnx" else load_foreign(model_path, device)
    x = _sample(data, None, samples, seed)
    if kind == "onnx":
        net.check_input(x.shape[1:])
    return guarded(net), "trivial", x, kind, "output"


def _lift_row(e: dict) -> dict:
    """An element of :func:`measure_lift` as a row of this module's table."""
    return {
        "kind": "element",
        "angle_deg": e["angle_deg"],
        "flip": e["flip"],
        "compared_with": e["name"],
        "exact": e["exact"],
        "relative_error": e["mean_relative_error"],
        "max_relative_error": e["max_relative_error"],
    }


def _layer(net, layer: str | None) -> str:
    """The layer to check (default: the model's latent), refused when the model has none such."""
    layer = layer or net.default_layer
    if layer not in net.layer_names:
        raise InvlatentError(f"layer {layer!r}: this model has layers {', '.join(net.layer_names)}")
    return layer


def _sample(data: str, config: dict | None, samples: int, seed: int) -> np.ndarray:
    if samples < 1:
        raise InvlatentError(f"samples must be at least 1, got {samples}")
    images = load_data(data)
    part = images.part("test") if (images.split == 2).any() else images
    want = [config["in_channels"], *config["image_size"]] if config else list(part.x.shape[1:])
    if list(part.x.shape[1:]) != want:
        raise InvlatentError(
            f"{data}: images of shape {list(part.x.shape[1:])}, the model was trained on {want}"
        )
    idx = np.random.default_rng(seed).permutation(len(part.labels))[:samples]
    return part.x[np.sort(idx)]


def _runner(net, layer: str, device: torch.device):
    @torch.no_grad()
    def encode(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xt = torch.from_numpy(x).to(device)
        z = net.encode(xt, layer).double().cpu().numpy()
        pred = net(xt).argmax(1).cpu().numpy()
        return z, pred

    return encode


def _row(
    encode, x, z, pred, action: Action, index: int, angle: float, flip: bool, kind: str
) -> dict:
    """Errors for one transformation ``(angle, flip)`` compared against element ``index``."""
    b = len(x)
    zg, pg = encode(rotate_images(x, np.full(b, angle), np.full(b, flip)))
    expected = act(action, z, np.full(b, index))[0] if action.group_size else z
    num = np.linalg.norm((zg - expected).reshape(b, -1), axis=1)
    den = np.maximum(np.linalg.norm(z.reshape(b, -1), axis=1), 1e-30)
    rel = num / den
    return {
        "kind": kind,
        "angle_deg": round(math.degrees(angle), 4),
        "flip": bool(flip),
        "compared_with": _element_name(index, action, flip),
        "exact": exact_element(angle),
        "relative_error": float(rel.mean()),
        "max_relative_error": float(rel.max()),
        "prediction_agreement": float((pg == pred).mean()),
    }


def _element_name(index: int, action: Action, flip: bool) -> str:
    if not action.group_size:
        return "identity"
    k = index % action.order
    return f"r^{k}" + (" f" if flip else "")


def render(result: dict) -> str:
    """A table for stderr: one line per transformation (the columns its rows have)."""
    model = " ".join(filter(None, [result["arch"], result["group"]]))
    if result.get("lift"):
        model += f" lifted to {result['lift']} (as encode --lift)"
    head = (
        f"{result['measure']} error of {result['layer']} ({result['action']}) of {model} on "
        f"{result['samples']} images of {result['data']}; exact: the turn permutes pixels "
        "(rot90/flip), else bilinear"
    )
    cols = [c for c in _COLUMNS if all(c[1] in r for r in result["rows"])]
    lines = [head, " ".join(_cell(h, w, k) for k, (h, _, w, _) in enumerate(cols))]
    for r in result["rows"]:
        lines.append(" ".join(_cell(f(r[key]), w, k) for k, (_, key, w, f) in enumerate(cols)))
    return "\n".join(lines)


def _cell(text: str, width: int, k: int) -> str:
    return text.ljust(width) if k == 0 else text.rjust(width)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


_COLUMNS = [  # header, row key, width, format
    ("kind", "kind", 8, str),
    ("angle°", "angle_deg", 8, lambda v: f"{v:.2f}"),
    ("flip", "flip", 5, _yes),
    ("vs", "compared_with", 8, str),
    ("exact", "exact", 5, _yes),
    ("mean rel.err", "relative_error", 13, lambda v: f"{v:.3e}"),
    ("max rel.err", "max_relative_error", 12, lambda v: f"{v:.3e}"),
    ("same pred", "prediction_agreement", 9, lambda v: f"{v:.3f}"),
]
