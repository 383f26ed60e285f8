"""Orbit lifting: any image encoder made G-equivariant by encoding every pose of each input.

For an encoder f with invariant-free output (trivial action) and a finite group G of plane
rotations (and reflections) acting on images, the lifted encoder

    F(x)[…, i(g)] = f(g⁻¹·x)        (i(g): the element order of docs/format.md §4)

is equivariant with the regular representation: F(h·x)[i(g)] = f(g⁻¹h·x) = F(x)[i(h⁻¹g)] =
(h·F(x))[i(g)]. The output ``z`` is ``(B, D, |G|)`` with action ``cN``/``dN``, and every
projection of that family applies (``pool-mean`` is test-time-augmentation averaging). It is
exact wherever g acts exactly on the input: quarter turns and the mirror of square images, done
here by ``torch.rot90``/``torch.flip``; other angles are bilinear
(``groups.pixels.turn_planes``), so the lifted encoder is only approximately equivariant for
them: :func:`measure_lift` measures it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images, turn_planes

if TYPE_CHECKING:
    import torch

MEASURE_IMAGES = 16


def parse_lift(text: str) -> Action:
    """The group of ``--lift``: ``cN`` or ``dN`` (N ≥ 2), refused with one line otherwise."""
    try:
        action = Action.parse(text)
    except InvlatentError:
        action = None
    if action is None or not action.finite or action.grid:
        raise InvlatentError(f"lift {text!r}: expected cN or dN with N >= 2 (e.g. c4, c8, d4)")
    return action


def check_liftable(layer_action: str | Action, image_shape: tuple[int, ...]) -> None:
    """Refuse encoders whose output already carries an action, and images that are not square."""
    act = Action.parse(layer_action)
    if not act.is_invariant:
        raise InvlatentError(
            f"lift: the encoder's output already has the action {act}; lifting it would need "
            "a product action (output action × lifted group), which invlatent does not have. "
            "Encode it without --lift, or lift a layer with the trivial action"
        )
    h, w = image_shape[-2:]
    if h != w:
        raise InvlatentError(f"lift: images must be square to be turned, got {h}×{w}")


def group_elements(action: Action) -> list[tuple[float, bool]]:
    """(angle, flip) of each element of ``cN``/``dN`` in index order ``i = m·N + k``."""
    flips = (False, True) if action.reflections else (False,)
    return [(2 * math.pi * k / action.order, m) for m in flips for k in range(action.order)]


def inverse_poses(action: Action) -> list[tuple[float, bool]]:
    """(angle, flip) of g⁻¹ for every element g in index order: r^k ↦ r^-k, r^k f ↦ r^k f."""
    return [(a if f else -a, f) for a, f in group_elements(action)]


def exact_element(angle: float) -> bool:
    """Whether a turn by ``angle`` (radians) is a multiple of 90°: a pixel permutation."""
    q = angle / (math.pi / 2)
    return abs(q - round(q)) < 1e-9


def pose(x: torch.Tensor, angle: float, flip: bool) -> torch.Tensor:
    """Images ``(B, C, H, H)`` reflected (``flip``) then turned by ``angle``, like
    ``rotate_images``: exactly by ``rot90`` for quarter turns, bilinearly otherwise."""
    import torch

    if exact_element(angle):
        y = torch.flip(x, dims=(-1,)) if flip else x
        return torch.rot90(y, round(angle / (math.pi / 2)) % 4, dims=(-2, -1))
    turned = turn_planes(x.detach().cpu().numpy(), angle, flip)
    return torch.from_numpy(turned).to(x.device)


def lifted(fn, action: Action):
    """The lifted encoder ``x (B, C, H, H) → z (B, D, |G|)`` of ``fn`` (one pass of B per g)."""
    import torch

    poses = inverse_poses(action)

    def run(x: torch.Tensor) -> torch.Tensor:
        outs = [_flat_rows(fn(pose(x, a, f)), len(x)) for a, f in poses]
        return torch.stack(outs, dim=-1)

    return run


def _flat_rows(out, b: int) -> torch.Tensor:
    """One encoder output as ``(b, D)`` float32, refused when it is not one row per image."""
    import torch

    if isinstance(out, np.ndarray):
        out = torch.from_numpy(out)
    if not isinstance(out, torch.Tensor):
        raise InvlatentError(f"the encoder returned {type(out).__name__}, expected one tensor")
    if out.ndim < 2 or out.shape[0] != b:
        raise InvlatentError(
            f"the encoder's output does not fit --lift: {b} rows of features expected, "
            f"got {list(out.shape)}"
        )
    return out.detach().float().reshape(b, -1)


def measure_lift(run, x: np.ndarray, action: Action, device: torch.device) -> dict:
    """Per element g: the relative equivariance error ‖F(g·x) − g·F(x)‖ / ‖F(x)‖ of the lifted
    encoder ``run`` on images ``x``, computed in float64 (mean and max over the images)."""
    import torch

    from invlatent.groups import act

    b = len(x)
    with torch.no_grad():
        z = run(torch.from_numpy(x).to(device)).double().cpu().numpy()
        rows = []
        for i, (angle, flip) in enumerate(group_elements(action)):
            xg = rotate_images(x, np.full(b, angle), np.full(b, flip))
            zg = run(torch.from_numpy(xg).to(device)).double().cpu().numpy()
            rows.append(_element_error(z, zg, act(action, z, np.full(b, i))[0], action, i))
    return {"group": str(action), "images": b, "elements": rows}


def _element_error(z, zg, expected, action: Action, i: int) -> dict:
    b = len(z)
    num = np.linalg.norm((zg - expected).reshape(b, -1), axis=1)
    rel = num / np.maximum(np.linalg.norm(z.reshape(b, -1), axis=1), 1e-30)
    angle, flip = group_elements(action)[i]
    return {
        "element": i,
        "name": f"r^{i % action.order}" + (" f" if flip else ""),
        "angle_deg": round(math.degrees(angle), 4),
        "flip": bool(flip),
        "exact": exact_element(angle),
        "mean_relative_error": float(rel.mean()),
        "max_relative_error": float(rel.max()),
    }


def render_lift(info: dict) -> list[str]:
    """Lines for people: the lifted encoder's equivariance error per element."""
    lines = [
        f"lifted to {info['group']}: equivariance error per element on {info['images']} images "
        "(‖F(g·x) − g·F(x)‖ / ‖F(x)‖; not exact where the turn is bilinear)",
        f"{'element':<8} {'angle°':>8} {'flip':>5} {'exact':>6} {'mean rel.err':>13} "
        f"{'max rel.err':>12}",
    ]
    for e in info["elements"]:
        lines.append(
            f"{e['name']:<8} {e['angle_deg']:8.2f} {_yes(e['flip']):>5} {_yes(e['exact']):>6} "
            f"{e['mean_relative_error']:13.3e} {e['max_relative_error']:12.3e}"
        )
    return lines


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
