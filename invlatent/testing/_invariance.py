"""The invariance error of a projection on random group elements, measured as ``check`` does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from invlatent.analysis import check
from invlatent.groups import act, sample
from invlatent.groups.action import Action
from invlatent.projections import project_with_extras

TOLERANCE = check.INVARIANCE_TOLERANCE


def invariance_error(
    projection: str | Callable,
    action,
    z,
    mask=None,
    *,
    seed: int = 0,
) -> float:
    """max over rows of ‖π(g·z) − π(z)‖ / mean ‖π(z)‖ for one random g per row (seeded).

    ``projection`` is a method name (``"power"``, see ``invlatent project --list``) or a
    function ``z -> features`` (numpy in, array-like out); ``action`` an ``Action`` or its text
    (``"c8"``); ``z`` the latents ``[B, ...]`` (and ``mask`` for padded node sets)."""
    action = Action.parse(action) if isinstance(action, str) else action
    z = np.asarray(z)
    rng = np.random.default_rng(seed)
    n = z.shape[1] if action.has_nodes else 0
    g = sample(action, len(z), rng, n)
    gz, gmask = act(action, z, g, mask)
    p, pg = _run(projection, action, z, mask, seed), _run(projection, action, gz, gmask, seed)
    return check.invariance_error(p, pg)


def _run(projection, action, z, mask, seed: int) -> np.ndarray:
    if isinstance(projection, str):
        out = project_with_extras(action, z, mask, method=projection, seed=seed)[0]
    else:
        out = projection(z) if mask is None else projection(z, mask)
        out = out.detach().cpu().numpy() if hasattr(out, "detach") else out
    out = np.asarray(out, dtype=np.float64)
    return out.reshape(len(out), -1)


def assert_invariant(
    projection: str | Callable,
    action,
    z,
    mask=None,
    *,
    tol: float = TOLERANCE,
    seed: int = 0,
) -> float:
    """Fail (AssertionError) when ``invariance_error`` exceeds ``tol``; else return the error."""
    err = invariance_error(projection, action, z, mask, seed=seed)
    name = projection if isinstance(projection, str) else getattr(projection, "__name__", "π")
    assert err <= tol, (
        f"{name} is not invariant under {action}: invariance error {err:.3g} > {tol:g}"
    )
    return err
