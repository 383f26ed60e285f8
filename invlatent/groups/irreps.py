"""O(3) irreps in e3nn's convention, computed in numpy (no torch): parsing, Wigner-D, CG.

An :class:`Irreps` is a tuple of ``(mul, l, p)`` (multiplicity, degree, parity ±1) parsed from an
e3nn Irreps string (``"16x0e+8x1o+4x2e"``); ``str`` prints e3nn's form (``1x0e``, never ``0e``).
A tensor of that Irreps has D = Σ mul·(2l+1) entries: blocks in string order, each block
``[mul, 2l+1]`` flattened, in e3nn's real basis.

The basis is e3nn's: the real form of the spherical harmonics, times (−i)^l so that the
Clebsch–Gordan coefficients are real. In it the l = 1 block is the vector (x, y, z) itself, so
D¹(R) = R (e3nn 0.6; the tests check every claim here against the installed e3nn). Higher
Wigner-D matrices come from the exact recursion D^l = Cᵀ (D^{l−1} ⊗ D¹) C through the
Clebsch–Gordan isometry C: (l−1) ⊗ 1 → l (Racah's formula moved to the real basis). No table is
copied; everything is float64 and exact to rounding for every rotation, with no Euler angles.

An element of O(3) acts on the irrep (l, p) by det(R)^{(1−p)/2} · D^l(det(R)·R).
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from invlatent.errors import InvlatentError

_ITEM = re.compile(r"^(?:([0-9]{1,9})x)?([0-9]{1,9})([eoy])$")
MAX_L = 10  # degree: Wigner-D and Clebsch-Gordan work grows like l^4 and beyond
MAX_MUL = 1 << 20  # multiplicity of one irrep
MAX_ITEMS = 4096  # irreps in one string
MAX_DIM = 1 << 24  # D = Σ mul·(2l+1)


class IrrepsError(InvlatentError):
    """An Irreps string that cannot be read."""


class Irreps(tuple):
    """A direct sum of O(3) irreps: a tuple of ``(mul, l, p)``, p = +1 (even) or −1 (odd).

    >>> str(Irreps("16x0e + 8x1o+2e"))
    '16x0e+8x1o+1x2e'
    >>> Irreps("0e+1o").dim
    4
    """

    def __new__(cls, value: str | Irreps | tuple = ()) -> Irreps:
        if isinstance(value, str):
            return super().__new__(cls, _parse(value))
        return super().__new__(cls, tuple((int(m), int(l), int(p)) for m, l, p in value))

    def __str__(self) -> str:
        return "+".join(f"{m}x{l}{'e' if p == 1 else 'o'}" for m, l, p in self)

    @property
    def dim(self) -> int:
        """D = Σ mul·(2l+1), the length of a vector of these irreps."""
        return sum(m * (2 * l + 1) for m, l, _ in self)

    @property
    def lmax(self) -> int:
        """The largest degree l present (−1 when empty)."""
        return max((l for m, l, _ in self if m), default=-1)

    def slices(self) -> list[slice]:
        """The columns of each block, in string order."""
        stops = np.cumsum([0] + [m * (2 * l + 1) for m, l, _ in self])
        return [slice(int(a), int(b)) for a, b in zip(stops[:-1], stops[1:], strict=True)]

    def blocks(self) -> list[tuple[int, int, int, slice]]:
        """``(mul, l, p, columns)`` for every non-empty block."""
        return [(m, l, p, s) for (m, l, p), s in zip(self, self.slices(), strict=True) if m]


def _parse(text: str) -> tuple[tuple[int, int, int], ...]:
    """e3nn's grammar: ``MULxLP`` items joined by ``+``, P in e/o/y (y: p = (−1)^l)."""
    s = text.replace(" ", "").lower()
    if not s:
        return ()
    out = []
    for item in s.split("+"):
        m = _ITEM.match(item)
        if not m:
            raise IrrepsError(
                f"cannot read irreps {text[:60]!r}: item {item[:30]!r} is not MULxLP "
                "(e.g. 16x0e, 1o, 3x2e; at most 9 digits)"
            )
        mul, l = int(m.group(1) or 1), int(m.group(2))
        if l > MAX_L or mul > MAX_MUL:
            raise IrrepsError(
                f"irreps {text[:60]!r}: item {item!r} is over the limits "
                f"(degree l <= {MAX_L}, multiplicity <= {MAX_MUL})"
            )
        p = {"e": 1, "o": -1, "y": (-1) ** l}[m.group(3)]
        out.append((mul, l, p))
    if len(out) > MAX_ITEMS or sum(m * (2 * l + 1) for m, l, _ in out) > MAX_DIM:
        raise IrrepsError(
            f"irreps {text[:60]!r}: over the limits ({MAX_ITEMS} items, dimension {MAX_DIM})"
        )
    return tuple(out)


# ---------------------------------------------------------------- the basis and the couplings


def _real_to_complex(l: int) -> np.ndarray:
    """The change of basis from real to complex spherical harmonics, times (−i)^l."""
    q = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    r = 1 / np.sqrt(2)
    for m in range(-l, 0):
        q[l + m, l - m], q[l + m, l + m] = r, -1j * r
    q[l, l] = 1
    for m in range(1, l + 1):
        q[l + m, l + m], q[l + m, l - m] = (-1) ** m * r, 1j * (-1) ** m * r
    return (-1j) ** l * q


@functools.cache
def clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    """The real invariant tensor C (2l1+1, 2l2+1, 2l3+1) of l1 ⊗ l2 ⊗ l3, unit norm:
    C_ijk D¹_il D²_jm D³_kn = C_lmn for every rotation (e3nn's ``wigner_3j``).

    The complex Clebsch–Gordan coefficients (Racah's formula) moved to the real basis.
    """
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(f"no coupling {l1} ⊗ {l2} → {l3}")
    c = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            c[l1 + m1, l2 + m2, l3 + m1 + m2] = _racah(l1, m1, l2, m2, l3)
    q1, q2, q3 = (_real_to_complex(l) for l in (l1, l2, l3))
    real = np.einsum("ij,kl,mn,ikn->jlm", q1, q2, np.conj(q3.T), c.astype(complex)).real
    return real / np.linalg.norm(real)


def _racah(j1: int, m1: int, j2: int, m2: int, j3: int) -> float:
    """⟨j1 m1 j2 m2 | j3 m1+m2⟩ by Racah's formula (exact integers until the last step)."""
    f = math.factorial
    m3 = m1 + m2
    pre = (2 * j3 + 1) * f(j3 + j1 - j2) * f(j3 - j1 + j2) * f(j1 + j2 - j3) / f(j1 + j2 + j3 + 1)
    pre *= f(j3 + m3) * f(j3 - m3) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)
    lo, hi = max(0, j2 - j3 - m1, j1 - j3 + m2), min(j1 + j2 - j3, j1 - m1, j2 + m2)
    total = sum(
        (-1) ** k
        / (
            f(k) * f(j1 + j2 - j3 - k) * f(j1 - m1 - k) * f(j2 + m2 - k)
            * f(j3 - j2 + m1 + k) * f(j3 - j1 - m2 + k)
        )
        for k in range(lo, hi + 1)
    )  # fmt: skip
    return math.sqrt(pre) * total


@functools.cache
def cg_step(l: int) -> np.ndarray:
    """The isometry C (2l−1, 3, 2l+1) from (l−1) ⊗ 1 onto l used by the D recursion."""
    return clebsch_gordan(l - 1, 1, l) * np.sqrt(2 * l + 1)


# ---------------------------------------------------------------- Wigner-D


def wigner_D(l: int, R: np.ndarray) -> np.ndarray:
    """D^l(R) (..., 2l+1, 2l+1) of rotations R (..., 3, 3) (det +1) in e3nn's basis, float64."""
    R = np.asarray(R, dtype=np.float64)
    if l == 0:
        return np.ones((*R.shape[:-2], 1, 1))
    d = R
    n = R.shape[:-2]
    for k in range(2, l + 1):
        c = cg_step(k).reshape((2 * k - 1) * 3, 2 * k + 1)
        kron = (d[..., :, None, :, None] * R[..., None, :, None, :]).reshape(*n, *(c.shape[:1] * 2))
        d = c.T @ kron @ c
    return d


def _signed_blocks(irreps: Irreps, R: np.ndarray):
    """``(mul, l, columns, D)`` per block, D (..., 2l+1, 2l+1) = det(R)^{(1−p)/2}·D^l(det(R)·R)
    (D^l computed once per degree)."""
    R = np.asarray(R, dtype=np.float64)
    det = np.sign(np.linalg.det(R))[..., None, None]
    cache: dict[int, np.ndarray] = {}
    for mul, l, p, cols in irreps.blocks():
        if l not in cache:
            cache[l] = wigner_D(l, R * det)
        yield mul, l, cols, cache[l] * np.where(det < 0, p, 1)


def D_from_matrix(irreps: Irreps | str, R: np.ndarray) -> np.ndarray:
    """Block-diagonal D (..., D, D) of orthogonal R (..., 3, 3), det ±1: e3nn's
    ``Irreps.D_from_matrix``; the irrep of parity p gets det(R)^{(1−p)/2}."""
    irreps = Irreps(irreps)
    out = np.zeros((*np.shape(R)[:-2], irreps.dim, irreps.dim))
    for mul, l, cols, dl in _signed_blocks(irreps, R):
        w = 2 * l + 1
        for u in range(mul):
            s = cols.start + u * w
            out[..., s : s + w, s : s + w] = dl
    return out


def rotate(irreps: Irreps | str, z: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``z @ D(R)ᵀ`` per row for z (B, D) or (B, n, D) and R (B, 3, 3); keeps z's dtype."""
    irreps = Irreps(irreps)
    out = np.empty(z.shape, dtype=np.result_type(z.dtype, np.float32))
    spec = "bij,bmj->bmi" if z.ndim == 2 else "bij,bnmj->bnmi"
    for mul, l, cols, dl in _signed_blocks(irreps, R):
        block = z[..., cols].astype(np.float64).reshape(*z.shape[:-1], mul, 2 * l + 1)
        out[..., cols] = np.einsum(spec, dl, block).reshape(*z.shape[:-1], cols.stop - cols.start)
    return out


# ---------------------------------------------------------------- rotations


def random_rotations(n: int, rng: np.random.Generator, improper: bool = False) -> np.ndarray:
    """``n`` Haar-random rotations (n, 3, 3) from normalised Gaussian quaternions; with
    ``improper`` each is also composed with the inversion −I with probability 1/2."""
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    R = quaternion_to_matrix(q)
    if improper:
        R *= np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None, None]
    return R


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) = (w, x, y, z)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def rotation_problem(R: np.ndarray, proper: bool, tol: float = 1e-4) -> str | None:
    """Why R (B, 3, 3) is not a batch of orthogonal matrices (det +1 if ``proper``), or None."""
    R = np.asarray(R, dtype=np.float64)
    if not np.isfinite(R).all():
        return "g holds NaN or Inf"
    err = np.abs(R @ np.swapaxes(R, 1, 2) - np.eye(3)).max(axis=(1, 2), initial=0.0)
    if (err > tol).any():
        row = int(np.argmax(err))
        return f"g is not orthogonal: row {row} has |R Rᵀ − I| = {err[row]:.2g} (tolerance {tol})"
    det = np.linalg.det(R)
    if proper and (det < 0).any():
        row = int(np.argmax(det < 0))
        return f"g row {row} has determinant −1, but so3 allows rotations only (det +1)"
    return None


def g_problem(kind: str, g: np.ndarray, g_perm, proper: bool, n_nodes: int | None, data=True):
    """Why ``g`` (and ``g_perm`` for ``rotation+perm``) do not hold O(3) elements, or None;
    ``data`` False checks shapes only (for headers)."""
    if g.ndim != 3 or g.shape[1:] != (3, 3) or g.dtype.kind != "f":
        return f"g of kind {kind} must be float [B, 3, 3], got {g.dtype} {list(g.shape)}"
    if kind == "rotation+perm":
        if g_perm is None:
            return "g_kind rotation+perm needs a tensor g_perm [B, n] (the node permutation)"
        n = g_perm.shape[-1] if n_nodes is None else n_nodes
        if g_perm.ndim != 2 or g_perm.shape != (len(g), n) or g_perm.dtype.kind not in "iu":
            got = f"{g_perm.dtype} {list(g_perm.shape)}"
            return f"g_perm must be integer [{len(g)}, {n}], got {got}"
        if data and not (np.sort(g_perm, axis=1) == np.arange(n)).all():
            return "g_perm has rows that are not permutations of 0..n−1"
    return rotation_problem(g, proper) if data else None
