"""O(3) and SO(3) irreps in e3nn's layout: ``o3:IRREPS`` on ``z (B, D)``, and the product with
node permutations ``sn*o3:IRREPS`` on ``z (B, n, D)``; ``g`` holds the matrix R (and ``g_perm``
the node permutation)."""

from __future__ import annotations

import re

import numpy as np

from invlatent.groups import irreps, quotient_o3
from invlatent.groups.action import Action, ActionError
from invlatent.groups.families.sn import permute_nodes, random_permutations
from invlatent.groups.family import Family, register
from invlatent.groups.irreps import Irreps, IrrepsError

_O3 = re.compile(r"^(sn\*)?(o3|so3)(?::(.*))?$")


class Rotations3d(Family):
    """O(3) (``reflections``: inversions too) or SO(3) on irreps, optionally per node."""

    projections = "o3"
    optimised_quotient = True

    def __init__(self, kind: str, reflections: bool) -> None:
        self.kind, self.reflections = kind, reflections

    def parse(self, text: str):
        m = _O3.match(text)
        if not m or m.group(2) != self.kind:
            return None
        return Action(self.kind, irreps=_parse_irreps(m.group(3), text), nodes=bool(m.group(1)))

    def format(self, action) -> str:
        return f"{'sn*' if action.nodes else ''}{self.kind}:{action.irreps}"

    def problem(self, action) -> str | None:
        return None if action.irreps.dim else f"group {self.kind}: needs irreps, e.g. o3:1x1o"

    def g_kind(self, action) -> str:
        return "rotation+perm" if action.nodes else "rotation"

    def has_nodes(self, action) -> bool:
        return action.nodes

    def projection_family(self, action) -> str:
        return "sn*o3" if action.nodes else "o3"

    def shape_problem(self, action, shape):
        d = action.irreps.dim
        want = f"[B, n, {d}]" if action.nodes else f"[B, {d}]"
        if len(shape) != (3 if action.nodes else 2) or shape[-1] != d:
            return f"action {action} needs z of shape {want} (D = Σ mul·(2l+1)), got {list(shape)}"
        return None

    def act(self, action, z, g, mask=None, g_perm=None):
        R, perm = g if isinstance(g, tuple) else (g, g_perm)
        if action.nodes and perm is not None:
            z, mask = permute_nodes(z, perm, mask)
        return irreps.rotate(action.irreps, z, R), mask

    def sample(self, action, batch, rng, n_nodes=0):
        R = irreps.random_rotations(batch, rng, improper=self.reflections)
        return (R, random_permutations(batch, n_nodes, rng)) if action.nodes else R

    def align(self, action, z1, z2, mask1=None, mask2=None):
        return quotient_o3.align(action, z1, z2, mask1, mask2)

    def orbit_elements(self, action, size, rng, n_nodes=0):
        g = self.sample(action, size, rng, n_nodes)
        rot, perm = g if isinstance(g, tuple) else (g, None)
        rot[0] = np.eye(3)
        if perm is None:
            return rot
        perm[0] = np.arange(n_nodes)
        return rot, perm


def _parse_irreps(body: str | None, original: str) -> Irreps:
    """The Irreps after ``o3:``; an empty or unreadable one is an ``ActionError``."""
    try:
        parsed = Irreps(body or "")
    except IrrepsError as e:
        raise ActionError(f"group {original[:60]!r}: {e}") from None
    if not parsed.dim:
        raise ActionError(f"group {original[:60]!r}: needs irreps after ':', e.g. o3:16x0e+8x1o")
    return parsed


O3 = register(Rotations3d("o3", reflections=True))
SO3 = register(Rotations3d("so3", reflections=False))
