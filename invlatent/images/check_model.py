"""``invlatent check`` for image models: the measured equivariance error of a latent layer.

For each group element g (and for rotations half-way between elements) the relative error
``‖f(g·x) − g·f(x)‖ / ‖f(x)‖`` over ``samples`` test images, computed in float64 from the
float32 outputs. For a plain CNN (trivial action) ``g·f(x) = f(x)``: the same numbers measure
how invariant augmentation made it, at the rotations of C8. For a feature map (``--layer
blockK-map``, action ``cN:grid``) g·f(x) also turns the map: exact for quarter turns, bilinear
for the other elements, whose error then includes that interpolation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from invlatent.action import Action
from invlatent.errors import InvlatentError
from invlatent.groups import act
from invlatent.images.data import load_data
from invlatent.images.gconv import group_elements
from invlatent.images.models import limit_threads, load_model, resolve_device
from invlatent.images.rotate import rotate_images

TRIVIAL_PROBE = Action.parse("c8")


def check_model(
    model_path: str, data: str, *, seed: int, samples: int, device: str, layer: str | None = None
) -> dict:
    """Equivariance error per group element and between elements, as a JSON-ready dict."""
    net, config = load_model(model_path, device)
    layer = layer or net.default_layer
    if layer not in net.layer_names:
        raise InvlatentError(
            f"--layer {layer!r}: this model has layers {', '.join(net.layer_names)}"
        )
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


def _sample(data: str, config: dict, samples: int, seed: int) -> np.ndarray:
    if samples < 1:
        raise InvlatentError(f"--samples must be at least 1, got {samples}")
    images = load_data(data)
    part = images.part("test") if (images.split == 2).any() else images
    want = [config["in_channels"], *config["image_size"]]
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
    """A table for stderr: one line per transformation."""
    head = (
        f"{result['measure']} error of {result['layer']} ({result['action']}) of {result['arch']} "
        f"{result['group'] or ''} on {result['samples']} images of {result['data']}"
    )
    lines = [
        head,
        f"{'kind':8} {'angle°':>8} {'flip':>5} {'vs':>7} "
        f"{'mean rel.err':>13} {'max rel.err':>12} {'same pred':>9}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['kind']:8} {r['angle_deg']:8.2f} {str(r['flip']).lower():>5} "
            f"{r['compared_with']:>7} {r['relative_error']:13.3e} "
            f"{r['max_relative_error']:12.3e} {r['prediction_agreement']:9.3f}"
        )
    return "\n".join(lines)
