"""The equivariance error of a user's encoder per group element, measured as ``check MODEL``
does: ``‖f(g·x) − g·f(x)‖ / ‖f(x)‖`` per input, its maximum over the inputs, in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from invlatent.analysis.check import INVARIANCE_TOLERANCE
from invlatent.errors import InvlatentError
from invlatent.groups import act, elements, grid_element, sample
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images


def equivariance_error(
    model: Callable,
    action,
    inputs,
    *,
    transform: Callable | None = None,
    seed: int = 0,
) -> list[dict]:
    """Per group element: ``{"element", "exact", "error"}`` with the max over ``inputs`` of
    ``‖f(g·x) − g·f(x)‖ / ‖f(x)‖``; ``action`` acts on the outputs of ``model``.

    ``model`` is a torch module or any function; given torch ``inputs`` it is called with
    tensors. For ``cN``/``dN`` (and their grids) every element is measured, and images
    ``[B, C, H, W]`` are turned on their pixel grid by default: exact for quarter turns and
    mirrors, bilinear (``exact`` False) otherwise. Other inputs, or continuous groups (one
    random element per input, seeded), need ``transform(x, g) -> g·x`` with ``g`` in the ``g``
    tensor's encoding."""
    action = Action.parse(action) if isinstance(action, str) else action
    tensor = hasattr(inputs, "detach")
    x = np.asarray(inputs.detach().cpu().numpy() if tensor else inputs)
    run = _runner(model, tensor or _is_torch(model))
    z = run(x)
    if not action.group_size:
        if transform is None:
            raise InvlatentError(f"transform: needed to move inputs under {action}")
        g = sample(action, len(x), np.random.default_rng(seed), z.shape[1] * action.has_nodes)
        err = _error(z, run(transform(x, g)), action, g)
        return [{"element": "random", "exact": True, "error": err}]
    rows = []
    for e in elements(action):
        g = np.full(len(x), e)
        moved = transform(x, g) if transform is not None else _turn(x, action, int(e))
        exact = transform is not None or _exact_turn(action, int(e))
        rows.append({"element": int(e), "exact": exact, "error": _error(z, run(moved), action, g)})
    return rows


def _error(z: np.ndarray, zg: np.ndarray, action: Action, g) -> float:
    expected = act(action, z, g)[0]
    b = len(z)
    num = np.linalg.norm((zg - expected).reshape(b, -1), axis=1)
    den = np.maximum(np.linalg.norm(z.reshape(b, -1), axis=1), 1e-30)
    return float((num / den).max(initial=0.0))


def _turn(x: np.ndarray, action: Action, e: int) -> np.ndarray:
    if x.ndim != 4:
        raise InvlatentError(
            f"inputs: images [B, C, H, W] are turned by default, got shape {list(x.shape)}; "
            "give transform= for other inputs"
        )
    angle, flip = grid_element(action, e)
    return rotate_images(x, np.full(len(x), angle), np.full(len(x), flip))


def _exact_turn(action: Action, e: int) -> bool:
    return (4 * (e % action.order)) % action.order == 0


def _runner(model: Callable, torch_in: bool) -> Callable[[np.ndarray], np.ndarray]:
    """``model`` as numpy in, float64 numpy out: a torch module (or any model given torch
    inputs) gets float32 tensors on its device and runs without gradients."""

    def run(x: np.ndarray) -> np.ndarray:
        if torch_in:
            import torch

            params = list(model.parameters()) if _is_torch(model) else []
            device = params[0].device if params else torch.device("cpu")
            with torch.no_grad():
                out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device))
            return out.detach().double().cpu().numpy()
        out = model(x)
        out = out.detach().cpu().numpy() if hasattr(out, "detach") else out
        return np.asarray(out, dtype=np.float64)

    return run


def _is_torch(model) -> bool:
    return callable(getattr(model, "parameters", None))


def assert_equivariant(
    model: Callable,
    action,
    inputs,
    *,
    tol: float = INVARIANCE_TOLERANCE,
    tol_approx: float | None = None,
    transform: Callable | None = None,
    seed: int = 0,
) -> list[dict]:
    """Fail (AssertionError) when an exact element's error exceeds ``tol`` (an approximate
    one's ``tol_approx``, when given); else return ``equivariance_error``'s rows."""
    rows = equivariance_error(model, action, inputs, transform=transform, seed=seed)
    bad = [
        r
        for r in rows
        if (r["exact"] and r["error"] > tol)
        or (not r["exact"] and tol_approx is not None and r["error"] > tol_approx)
    ]
    assert not bad, f"not equivariant under {action}: " + ", ".join(
        f"element {r['element']} ({'exact' if r['exact'] else 'approximate'}) error "
        f"{r['error']:.3g}"
        for r in bad
    )
    return rows
