"""Regular fields of the cyclic group ``cN`` and the dihedral group ``dN``: ``z (B, F, |G|)``,
or on a square pixel grid ``z (B, F, |G|, H, W)`` (``cN:grid``, ``dN:grid``); ``g`` holds
element indices (docs/format.md, ``transforms`` for the encoding)."""

from __future__ import annotations

import re

import numpy as np

from invlatent.groups import quotient, transforms
from invlatent.groups.action import Action
from invlatent.groups.family import Family, register

_FINITE = re.compile(r"^([cd])([0-9]{1,12})(:grid)?$")
MAX_ORDER = 1024  # N of cN/dN: element tables hold |G|² entries


class Regular(Family):
    """cN (rotations) or dN (rotations and mirrors) acting on their regular representation."""

    projections = "regular"
    closed_orbits = True

    def __init__(self, kind: str, letter: str, reflections: bool) -> None:
        self.kind, self.letter, self.reflections = kind, letter, reflections

    def parse(self, text: str):
        m = _FINITE.match(text)
        if not m or m.group(1) != self.letter:
            return None
        return Action(self.kind, int(m.group(2)), grid=bool(m.group(3)))

    def format(self, action) -> str:
        return f"{self.letter}{action.order}{':grid' if action.grid else ''}"

    def problem(self, action) -> str | None:
        if action.order < 2:
            return f"group {self.format(action)!r}: the order N must be at least 2"
        if action.order > MAX_ORDER:
            return f"group {self.format(action)!r}: the order N must be at most {MAX_ORDER}"
        return None

    def group_size(self, action) -> int:
        return action.order * (2 if self.reflections else 1)

    def g_kind(self, action) -> str:
        return "index"

    def projection_family(self, action) -> str:
        return "grid" if action.grid else "regular"

    def shape_problem(self, action, shape):
        size = self.group_size(action)
        if action.grid:
            return _grid_shape_problem(action, shape, size)
        if len(shape) != 3:
            return f"action {action} needs z of shape [B, F, {size}], got {list(shape)}"
        if shape[2] != size:
            return f"action {action} needs a last axis of {size} (one per element), got {shape[2]}"
        return None

    def act(self, action, z, g, mask=None, g_perm=None):
        if action.grid:
            return transforms.act_grid(action, z, g), mask
        perm = transforms.regular_permutations(action)[np.asarray(g, dtype=np.intp)]
        out, rows = np.empty_like(z), np.arange(len(z))
        for i in range(z.shape[-1]):  # one gather per output slot: 4x take_along_axis
            out[..., i] = z[rows, ..., perm[:, i]]
        return out, mask

    def sample(self, action, batch, rng, n_nodes=0):
        return rng.integers(0, self.group_size(action), size=batch, dtype=np.int64)

    def align(self, action, z1, z2, mask1=None, mask2=None):
        if action.grid:
            return quotient.align_grid(action, z1, z2)
        return quotient.align_regular(action, z1, z2)

    def orbit_elements(self, action, size, rng, n_nodes=0):
        return transforms.elements(action)

    def orbit_paths(self, action, element):
        return element // action.order if self.reflections else np.zeros_like(element)


def _grid_shape_problem(action, shape, size: int) -> str | None:
    """Why ``shape`` is not ``(B, F, |G|, H, H)``: fields on a square grid, or None."""
    if len(shape) != 5:
        return f"action {action} needs z of shape [B, F, {size}, H, W], got {list(shape)}"
    if shape[2] != size:
        return f"action {action} needs axis 2 of {size} (one per element), got {shape[2]}"
    if shape[3] != shape[4] or shape[3] < 1:
        return f"action {action} needs a square grid (H = W ≥ 1), got {shape[3]}×{shape[4]}"
    return None


CYCLIC = register(Regular("cyclic", "c", reflections=False))
DIHEDRAL = register(Regular("dihedral", "d", reflections=True))
