"""The batch of 3-D molecules every mol3d module passes around, and the element symbols."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from invlatent.errors import InvlatentError

SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe"
).split()
NUMBER = {s: z for z, s in enumerate(SYMBOLS) if z}
QM9_MAX_ATOMS = 29
QM9_SPECIES = (1, 6, 7, 8, 9)  # H, C, N, O, F


@dataclass
class Geometries:
    """Padded 3-D molecules with their source rows, split codes and optional targets."""

    pos: np.ndarray  # (B, n, 3) float32, Å; zero on padding
    species: np.ndarray  # (B, n) int64 atomic numbers; 0 on padding
    mask: np.ndarray  # (B, n) bool
    ids: np.ndarray  # (B,) int64 source rows
    split: np.ndarray  # (B,) uint8: 0 train, 1 val, 2 test
    targets: np.ndarray | None = None  # (B, k) float32
    target_names: tuple[str, ...] = ()
    target_units: tuple[str, ...] = ()
    source: str = ""
    rejected: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return int(self.pos.shape[0])

    def take(self, index: np.ndarray) -> Geometries:
        """The molecules ``index`` (``rejected`` is kept as is)."""
        t = None if self.targets is None else self.targets[index]
        arrays = {k: getattr(self, k)[index] for k in ("pos", "species", "mask", "ids", "split")}
        return replace(self, targets=t, **arrays)

    def part(self, split: str) -> Geometries:
        """``all`` or the molecules of one split (``train``, ``val``, ``test``)."""
        if split == "all":
            return self
        if split not in ("train", "val", "test"):
            raise InvlatentError(f"split must be all, train, val or test, got {split!r}")
        return self.take(np.flatnonzero(self.split == ("train", "val", "test").index(split)))
