"""Orbits to draw: copies of one object that share an ``id``, or its images under group elements.

Element choice (``group_elements``): every element of a finite group (cN, dN); ``size`` evenly
spaced angles for SO(2); the identity plus ``size - 1`` seeded random permutations for Sn, and
the identity plus ``size - 1`` seeded Haar-random rotations (with inversions for o3) for O(3)/SO(3)
irreps, paired with random node permutations for ``sn*o3``/``sn*so3``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invlatent import groups
from invlatent.errors import InvlatentError
from invlatent.groups.action import Action


@dataclass
class Orbits:
    """Orbit members of K objects: latent rows with the object and element of each row.

    ``z`` has the layout of the latents it was made from; ``path`` splits an object's members
    into loops drawn in order (the two cosets of dN); ``closed`` says whether loops close.
    """

    z: np.ndarray
    mask: np.ndarray | None
    obj: np.ndarray
    element: np.ndarray
    path: np.ndarray
    source: str
    closed: bool


def group_elements(action: Action, size: int, rng: np.random.Generator, n_nodes: int = 0):
    """The group elements an orbit is drawn with, in the ``g`` encoding of ``action``."""
    els = action.family.orbit_elements(action, size, rng, n_nodes)
    if els is None:
        raise InvlatentError(f"action {action} is trivial: there is no group orbit to draw")
    return els


def _repeat_elements(els, k: int):
    """``els`` repeated for each of ``k`` objects (an array, or the (R, P) pair of a product)."""
    if isinstance(els, tuple):
        return tuple(_repeat_elements(e, k) for e in els)
    return np.tile(els, (k,) + (1,) * (els.ndim - 1))


def group_orbits(
    action: Action, z: np.ndarray, mask: np.ndarray | None, rows: np.ndarray, size: int, seed: int
) -> Orbits:
    """The images ``g·z[r]`` of each row ``r`` in ``rows`` under ``group_elements``."""
    rng = np.random.default_rng(seed)
    n_nodes = z.shape[1] if action.has_nodes else 0
    els = group_elements(action, size, rng, n_nodes)
    m, k = len(els[0] if isinstance(els, tuple) else els), len(rows)
    zz = np.repeat(np.asarray(z[rows]), m, axis=0)
    mm = None if mask is None else np.repeat(np.asarray(mask[rows]), m, axis=0)
    g = _repeat_elements(els, k)
    moved, moved_mask = groups.act(action, zz, g, mm)
    element = np.tile(np.arange(m), k)
    path = action.family.orbit_paths(action, element)
    return Orbits(
        z=moved,
        mask=moved_mask,
        obj=np.repeat(np.arange(k), m),
        element=element,
        path=path,
        source="group",
        closed=action.family.closed_orbits,
    )


def copy_orbits(
    ids: np.ndarray, z: np.ndarray, mask: np.ndarray | None, chosen: np.ndarray, g=None
) -> Orbits:
    """The rows whose ``id`` is in ``chosen``, ordered by their element ``g`` when it is 1-D."""
    ids = np.asarray(ids)
    rows, objs = [], []
    for k, ident in enumerate(chosen):
        r = np.flatnonzero(ids == ident)
        if g is not None and np.ndim(g) == 1:
            r = r[np.argsort(np.asarray(g)[r], kind="stable")]
        rows.append(r)
        objs.append(np.full(len(r), k))
    rows_all = np.concatenate(rows)
    return Orbits(
        z=np.asarray(z[rows_all]),
        mask=None if mask is None else np.asarray(mask[rows_all]),
        obj=np.concatenate(objs),
        element=np.concatenate([np.arange(len(r)) for r in rows]),
        path=np.zeros(len(rows_all), dtype=np.int64),
        source="ids",
        closed=g is not None and np.ndim(g) == 1,
    )


def repeated_ids(ids: np.ndarray | None) -> np.ndarray:
    """The ids that occur more than once (the objects stored in several poses)."""
    if ids is None:
        return np.zeros(0, dtype=np.int64)
    values, counts = np.unique(np.asarray(ids), return_counts=True)
    return values[counts > 1]


def choose(candidates: np.ndarray, k: int, seed: int, labels: np.ndarray | None = None):
    """``k`` of ``candidates`` (all when fewer), seeded; with ``labels``, classes take turns."""
    candidates = np.asarray(candidates)
    if k >= len(candidates):
        return candidates
    order = np.random.default_rng(seed).permutation(len(candidates))
    if labels is not None:
        lab = np.asarray(labels)[order]
        rank = np.zeros(len(lab), dtype=np.int64)
        for c in np.unique(lab):
            rank[lab == c] = np.arange(int((lab == c).sum()))
        order = order[np.argsort(rank, kind="stable")]
    return candidates[np.sort(order[:k])]
