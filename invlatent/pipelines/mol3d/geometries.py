"""The batch of 3-D molecules every mol3d module passes around, and the element symbols."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from invlatent.errors import InvlatentError

SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge "
    "As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm "
    "Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U "
    "Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()  # Z = 0 (X) stands for padding
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
    labels: np.ndarray | None = None  # (B,) int64 class labels (encode --labels KEY)

    def __len__(self) -> int:
        return int(self.pos.shape[0])

    def take(self, index: np.ndarray) -> Geometries:
        """The molecules ``index`` (``rejected`` is kept as is)."""
        keys = ("pos", "species", "mask", "ids", "split", "targets", "labels")
        arrays = {k: getattr(self, k) for k in keys}
        return replace(self, **{k: None if a is None else a[index] for k, a in arrays.items()})

    def part(self, split: str) -> Geometries:
        """``all`` or the molecules of one split (``train``, ``val``, ``test``)."""
        if split == "all":
            return self
        if split not in ("train", "val", "test"):
            raise InvlatentError(f"split must be all, train, val or test, got {split!r}")
        return self.take(np.flatnonzero(self.split == ("train", "val", "test").index(split)))
