"""Random poses of 3-D molecules: Haar-random rotations (optionally with inversions), random
atom orders, and applying them to padded geometries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from invlatent.pipelines.mol3d.geometries import Geometries


def random_rotations(rng: np.random.Generator, b: int, improper: bool = False) -> np.ndarray:
    """``b`` Haar-random 3×3 rotations (float64); with ``improper`` half of them times −I."""
    q, r = np.linalg.qr(rng.standard_normal((b, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0] *= -1.0
    if improper:
        q = q * np.where(rng.random(b) < 0.5, -1.0, 1.0)[:, None, None]
    return q


def random_permutations(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One random order of the node slots per molecule (padding slots shuffled too)."""
    return np.argsort(rng.random(mask.shape), axis=1)


def posed(geo: Geometries, rot: np.ndarray | None, perm: np.ndarray | None) -> Geometries:
    """``geo`` rotated (``pos @ R.T``) and with atoms reordered: new atom i is old atom P[i]."""
    pos, species, mask = geo.pos, geo.species, geo.mask
    if rot is not None:
        pos = np.einsum("bnj,bij->bni", pos.astype(np.float64), rot).astype(np.float32)
    if perm is not None:
        pos = np.take_along_axis(pos, perm[:, :, None], axis=1)
        species = np.take_along_axis(species, perm, axis=1)
        mask = np.take_along_axis(mask, perm, axis=1)
    return replace(geo, pos=pos, species=species, mask=mask)
