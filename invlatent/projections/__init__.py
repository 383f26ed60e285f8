"""Invariant projections π with π(g·z) = π(z), one registry for every group family.

Fields on a grid (``cN:grid``/``dN:grid``) get *equivariant* reductions instead: they pool the
grid into the plain regular fields ``cN``/``dN``, whose own projections then apply.

Each method declares its guarantees (invariant, injective on orbits, isometric, convex image,
output size, canonicalising element); ``invlatent project --list`` prints them and
``docs/projections.md`` explains them. Random methods derive their templates from the seed and
the shape of one sample only, so projecting rows separately or together gives the same result.

>>> import numpy as np
>>> z = np.array([[[3.0], [1.0], [2.0]]], dtype=np.float32)
>>> project_array("sn", z, method="sort")
array([[1., 2., 3.]], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.projections import _grid, _o3, _o3_nodes, _regular, _sn, _so2, _trivial
from invlatent.projections._base import Method, Params, iter_chunks, run_chunked, template_rng
from invlatent.projections._o3 import bispectrum_features, power_features
from invlatent.projections.actions import as_action

__all__ = [
    "Method",
    "Params",
    "as_action",
    "check_options",
    "bispectrum_features",
    "power_features",
    "template_rng",
    "REGISTRY",
    "family_of",
    "get_method",
    "guarantees",
    "methods_for",
    "project_array",
    "project_chunks",
    "project_with_extras",
]

MAX_TEMPLATE_VALUES = 1 << 26  # dim × values per row of z: random templates are float64

REGISTRY: dict[tuple[str, str], Method] = {
    (m.family, m.name): m
    for m in (
        *_sn.METHODS, *_regular.METHODS, *_grid.METHODS, *_so2.METHODS, *_o3.METHODS,
        *_o3_nodes.METHODS, *_trivial.METHODS,
    )
}  # fmt: skip


def family_of(action) -> str:
    """The registry family of an action: sn, regular (cN/dN), grid (cN:grid/dN:grid), so2,
    o3 (o3/so3), sn*o3 (sn*o3/sn*so3) or trivial."""
    action = Action.parse(action)
    return action.family.projection_family(action)


def methods_for(action) -> list[str]:
    """Names of the projections that apply to ``action``, in registry order."""
    fam = family_of(action)
    return [name for (f, name) in REGISTRY if f == fam]


def get_method(action, name: str) -> Method:
    """The registered method ``name`` for ``action``, or an error listing the valid ones."""
    method = REGISTRY.get((family_of(action), name))
    if method is None:
        raise InvlatentError(
            f"unknown method {name!r} for action {Action.parse(action)}; "
            f"choose from: {', '.join(methods_for(action))}"
        )
    return method


def guarantees(action) -> list[dict[str, str]]:
    """The guarantees table of every method for ``action`` (one dict per method)."""
    return [get_method(action, name).guarantees() for name in methods_for(action)]


def project_with_extras(action, z, mask=None, *, method, dim=None, seed=0, key_channel=None):
    """π(z) as float32 (B, D) and the extra per-row tensors (``perm``, ``canon``, ``n_nodes``).

    Equivariant methods (grid pooling) also return (B, D) here, D = F·|G|; ``project`` gives
    their file the layout of ``Method.output_action``.
    """
    action = Action.parse(action)
    m = get_method(action, method)
    params = Params(tuple(int(s) for s in z.shape[1:]), dim, int(seed), key_channel)
    check_options(action, m, z.shape, mask, params)
    return run_chunked(m, action, z, mask, params)


def project_chunks(action, z, mask=None, *, method, dim=None, seed=0, key_channel=None):
    """``project_with_extras`` as ``(start, out, extras)`` row chunks, for writing as they come
    (no (B, D) array: saves a copy and its page faults per chunk on a stream)."""
    action = Action.parse(action)
    m = get_method(action, method)
    params = Params(tuple(int(s) for s in z.shape[1:]), dim, int(seed), key_channel)
    check_options(action, m, z.shape, mask, params)
    return iter_chunks(m, action, z, mask, params)


def project_array(
    action, z, mask=None, *, method, dim=None, seed=0, key_channel=None
) -> np.ndarray:
    """The invariant projection π(z) of a batch z (B, ...) as float32 (B, D)."""
    out, _ = project_with_extras(
        action, z, mask, method=method, dim=dim, seed=seed, key_channel=key_channel
    )
    return out


def check_options(action: Action, m: Method, shape, mask, p: Params) -> None:
    """One ``InvlatentError`` if z's shape, the mask's or an option does not fit the method."""
    problem = action.shape_problem(tuple(shape))
    if problem:
        raise InvlatentError(problem)
    if p.dim is not None and (m.dim_help is None or p.dim < 1):
        what = f"dim must be at least 1, got {p.dim}" if m.dim_help else "dim is not used"
        raise InvlatentError(f"method {m.name}: {what}")
    if p.dim is not None and p.dim * math.prod(shape[1:]) > MAX_TEMPLATE_VALUES:
        raise InvlatentError(
            f"method {m.name}: dim {p.dim} templates of {math.prod(shape[1:])} values each is "
            f"over the limit of {MAX_TEMPLATE_VALUES} template values"
        )
    if p.key_channel is not None:
        d = shape[-1]
        if not m.key_channel:
            raise InvlatentError(f"method {m.name}: key_channel is only used by sn sort")
        if not 0 <= p.key_channel < d:
            raise InvlatentError(
                f"key_channel {p.key_channel} is out of range: z has {d} channels (0..{d - 1})"
            )
    if p.seed < 0:
        raise InvlatentError(f"seed must be >= 0, got {p.seed}")
    if mask is not None and tuple(mask.shape) != tuple(shape[:2]):
        raise InvlatentError(f"mask has shape {list(mask.shape)}, expected {list(shape[:2])}")
