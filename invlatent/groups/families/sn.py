"""Node permutations ``sn``: ``z (B, n, d)``, ``(p·z)[i] = z[p[i]]``; ``g`` holds ``p``."""

from __future__ import annotations

import numpy as np

from invlatent.groups import quotient_sn
from invlatent.groups.action import Action
from invlatent.groups.family import Family, register


class NodePermutations(Family):
    """Sn acting on node sets (with an optional mask of real nodes)."""

    kind = "sn"
    projections = "sn"

    def parse(self, text: str):
        return Action("sn") if text == "sn" else None

    def g_kind(self, action) -> str:
        return "perm"

    def has_nodes(self, action) -> bool:
        return True

    def shape_problem(self, action, shape):
        if len(shape) != 3:
            return f"action sn needs z of shape [B, n, d], got {list(shape)}"
        return None

    def act(self, action, z, g, mask=None, g_perm=None):
        return permute_nodes(z, g, mask)

    def sample(self, action, batch, rng, n_nodes=0):
        return random_permutations(batch, n_nodes, rng)

    def align(self, action, z1, z2, mask1=None, mask2=None):
        return quotient_sn.align_nodes(z1, z2, mask1, mask2)

    def orbit_elements(self, action, size, rng, n_nodes=0):
        perms = random_permutations(size, n_nodes, rng)
        perms[0] = np.arange(n_nodes)
        return perms


def permute_nodes(z: np.ndarray, perm: np.ndarray, mask=None):
    """``z[b, perm[b, i]]`` as node i (and the mask alike)."""
    perm = np.asarray(perm).astype(np.intp)
    moved = np.take_along_axis(z, perm[:, :, None], axis=1)
    return moved, None if mask is None else np.take_along_axis(mask, perm, axis=1)


def random_permutations(batch: int, n_nodes: int, rng: np.random.Generator) -> np.ndarray:
    """``batch`` uniformly random permutations of ``n_nodes`` nodes."""
    return np.argsort(rng.random((batch, n_nodes)), axis=1).astype(np.int64)


SN = register(NodePermutations())
