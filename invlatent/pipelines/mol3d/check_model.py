"""``invlatent check MODEL DATA`` for 3-D networks: measured equivariance error of every layer
(of the built-in network) or of the output of a user's own 3-D encoder (``--torchscript``/
``--onnx`` with ``--group``).

For ``samples`` test molecules and each kind of transformation of the input — a Haar-random
rotation, the inversion −I, a random improper rotation, a random translation, a random atom order,
and all of them at once — the relative error ``‖f(g·x) − g·f(x)‖ / ‖f(x)‖`` per molecule, computed
in float64 from the float32 outputs, with ``g·f(x)`` from invlatent's own ``groups.act`` on the
layer's declared action. For the plain baseline (only atom order built in) the same numbers
measure how far from invariant rotation augmentation made it. Every row names the structure
(its id: a frame index or QM9 source row) where the error is largest.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups import act
from invlatent.groups.action import Action
from invlatent.pipelines.mol3d.data import load_geometries
from invlatent.pipelines.mol3d.defaults import LAYERS
from invlatent.pipelines.mol3d.geometries import Geometries
from invlatent.pipelines.mol3d.poses import posed, random_permutations, random_rotations

KINDS = ("rotation", "inversion", "improper", "translation", "permutation", "all")


def check_model(
    model_path: str, data: str, *, seed: int, samples: int, device: str, layer: str | None = None
) -> dict:
    """Equivariance error per layer and transformation kind, as a JSON-ready dict."""
    from invlatent.pipelines.mol3d.models import check_species, load_model

    if device != "cpu":
        raise InvlatentError(f"device {device}: 3-D models are checked on cpu only")
    layers = [layer] if layer else list(LAYERS)
    for name in layers:
        if name not in LAYERS:
            raise InvlatentError(f"layer {name!r}: this model has layers {', '.join(LAYERS)}")
    net, config = load_model(model_path)
    geo = _sample(data, samples, seed, test_only=True)
    check_species(geo, config["model"]["species"], data)
    actions = {name: net.layer_action(name) for name in layers}
    rows = _measure(lambda g: _outputs(net, g, layers), actions, geo, seed)
    return _result(model_path, config["architecture"], data, geo, seed, rows)


def check_foreign(
    model_path: str, data: str, *, group: str | None, onnx: bool, seed: int, samples: int
) -> dict:
    """The same table for a user's 3-D encoder (:mod:`invlatent.pipelines.mol3d.foreign`) with
    the declared output action ``group``, on ``samples`` structures of ``data``."""
    from invlatent.pipelines.mol3d.foreign import (
        load_structure_encoder,
        run_structures,
        structure_action,
    )

    action = structure_action(group)
    fn = load_structure_encoder(model_path, onnx)
    geo = _sample(data, samples, seed, test_only=False)
    rows = _measure(
        lambda g: {"output": run_structures(fn, g, action, model_path)},
        {"output": str(action)},
        geo,
        seed,
    )
    return _result(model_path, "onnx" if onnx else "torchscript", data, geo, seed, rows)


def _measure(outputs, actions: dict[str, str], geo: Geometries, seed: int) -> list[dict]:
    """One row per (transformation kind, output) from ``outputs(geo) -> {name: array}``."""
    rng = np.random.default_rng(seed)
    base = outputs(geo)
    rows = []
    for kind in KINDS:
        rot, perm, shift = _transform(kind, geo, rng)
        moved = posed(geo, rot, perm)
        moved.pos = np.where(moved.mask[..., None], moved.pos + shift[:, None, :], 0.0).astype(
            np.float32
        )
        out = outputs(moved)
        for name, action in actions.items():
            rows.append(_row(kind, name, action, base, out, geo, rot, perm))
    return rows


def _result(model_path: str, arch: str, data: str, geo: Geometries, seed: int, rows) -> dict:
    worst = max(rows, key=lambda r: r["max_relative_error"])
    return {
        "model": model_path,
        "arch": arch,
        "data": data,
        "samples": len(geo),
        "seed": seed,
        "rows": rows,
        "max_error": worst["max_relative_error"],
        "worst": {k: worst[k] for k in ("worst_id", "transform", "layer", "max_relative_error")},
    }


def _sample(data: str, samples: int, seed: int, test_only: bool) -> Geometries:
    """``samples`` structures of ``data`` in file order, drawn from its test split when
    ``test_only`` and it has one (a trained model's own test molecules)."""
    if samples < 1:
        raise InvlatentError(f"samples must be at least 1, got {samples}")
    geo = load_geometries(data)
    part = geo.part("test") if test_only and (geo.split == 2).any() else geo
    idx = np.random.default_rng(seed).permutation(len(part))[:samples]
    return part.take(np.sort(idx))


def _transform(kind: str, geo: Geometries, rng: np.random.Generator):
    """(rotations or None, permutations or None, translations (B, 3)) of one kind."""
    b = len(geo)
    rot = {
        "rotation": lambda: random_rotations(rng, b),
        "inversion": lambda: np.broadcast_to(-np.eye(3), (b, 3, 3)).copy(),
        "improper": lambda: -random_rotations(rng, b),
        "all": lambda: random_rotations(rng, b, improper=True),
    }.get(kind, lambda: None)()
    perm = random_permutations(rng, geo.mask) if kind in ("permutation", "all") else None
    shift = rng.normal(0.0, 5.0, (b, 3)) if kind in ("translation", "all") else np.zeros((b, 3))
    return rot, perm, shift


def _outputs(net, geo: Geometries, layers: list[str]) -> dict[str, np.ndarray]:
    from invlatent.pipelines.mol3d.models import run

    out = run(net, geo.pos, geo.species, geo.mask, [*layers, "pred"], 128)
    return {k: v.astype(np.float64) for k, v in out.items()}


def _row(kind, layer, action, base, out, geo: Geometries, rot, perm) -> dict:
    """Errors of one layer under one transformation, against invlatent's action on f(x), and
    the structure (its id) where the error is largest."""
    a = Action.parse(action)
    mask = geo.mask
    z, b = base[layer], len(mask)
    if a == Action("sn"):
        expected = z if perm is None else act(a, z, perm, mask)[0]
    elif a.g_kind in ("rotation", "rotation+perm"):
        r = np.broadcast_to(np.eye(3), (b, 3, 3)) if rot is None else rot
        expected = act(a, z, r, mask, g_perm=perm)[0]
    else:
        expected = z
    num = np.linalg.norm((out[layer] - expected).reshape(b, -1), axis=1)
    rel = num / np.maximum(np.linalg.norm(z.reshape(b, -1), axis=1), 1e-30)
    row = {
        "transform": kind,
        "layer": layer,
        "action": action,
        "relative_error": float(rel.mean()),
        "max_relative_error": float(rel.max()),
        "worst_id": int(geo.ids[int(np.argmax(rel))]),
    }
    if "pred" in base:
        pred = np.abs(out["pred"] - base["pred"]).max() / max(np.abs(base["pred"]).max(), 1e-30)
        row["prediction_change"] = float(pred.max())
    return row


def render(result: dict) -> str:
    """A table for stderr: one line per (transformation, layer), then the worst structure."""
    lines = [
        f"equivariance error of the {result['arch']} model {result['model']} on "
        f"{result['samples']} structures of {result['data']} (relative, float32 model)",
        f"{'transform':12} {'layer':10} {'action':28} {'mean rel.err':>13} {'max rel.err':>12} "
        f"{'worst id':>9} {'pred change':>12}",
    ]
    for r in result["rows"]:
        pred = f"{r['prediction_change']:12.3e}" if "prediction_change" in r else f"{'-':>12}"
        lines.append(
            f"{r['transform']:12} {r['layer']:10} {r['action'][:28]:28} "
            f"{r['relative_error']:13.3e} {r['max_relative_error']:12.3e} {r['worst_id']:9d} "
            f"{pred}"
        )
    w = result["worst"]
    lines.append(
        f"max relative error {result['max_error']:.3e}: structure {w['worst_id']} of "
        f"{result['data']} ({w['transform']}, {w['layer']})"
    )
    return "\n".join(lines)
