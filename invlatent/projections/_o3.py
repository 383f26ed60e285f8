"""Invariant projections for O(3)/SO(3) irreps in e3nn's layout (``o3:``/``so3:``, z (B, D)).

A *copy* is one irrep of one block (``mul`` copies per block). Copies are grouped in *classes*
that transform alike: (l, p) for ``o3`` (inversion multiplies by p), l alone for ``so3``. A copy
of class (0, +1) (or any l = 0 under ``so3``) is an invariant scalar and is kept as it is.
Products of degree k are rescaled to degree 1 (sign(t)·|t|^(1/k)), as for so2.

The same per-copy functions work on node sets ``(b, n, D)``: ``_o3_nodes`` builds on them.
"""

from __future__ import annotations

import numpy as np

from invlatent.groups import irreps, so3_search
from invlatent.groups.quotient_o3 import coefficients
from invlatent.projections._base import Method, flat, rowwise_matmul, template_rng
from invlatent.projections._xp import namespace, take

REFS = 2  # references per class for the bispectrum
RANDOM_MAX_DIM = 16  # default templates: each costs a search over SO(3) per row


def classes(action) -> dict[tuple, list[tuple[int, int, slice]]]:
    """Per class: its copies as (l, p, columns), in string order."""
    out: dict[tuple, list] = {}
    for mul, l, p, cols in action.irreps.blocks():
        key = (l, p) if action.reflections else (l,)
        for u in range(mul):
            start = cols.start + u * (2 * l + 1)
            out.setdefault(key, []).append((l, p, slice(start, start + 2 * l + 1)))
    return out


def is_scalar(action, key) -> bool:
    """True for a class of invariant scalars: 0e under o3, any l = 0 under so3."""
    return key[0] == 0 and (not action.reflections or key[1] == 1)


def root(t, degree: int):
    """sign(t)·|t|^(1/degree): a degree-k product rescaled to degree 1 (numpy or torch)."""
    xp = namespace(t)
    return xp.sign(t) * xp.abs(t) ** (1.0 / degree)


def _stack(z, copies):
    """The copies of one class as (..., m, 2l+1) float64 (numpy or torch)."""
    xp = namespace(z)
    return xp.stack([xp.astype(z[..., c], xp.float64) for _, _, c in copies], axis=-2)


def norm_features(action, z):
    """Invariant scalars as they are, the norm of every other copy: (..., #copies)."""
    xp = namespace(z)
    parts = []
    for key, copies in classes(action).items():
        x = _stack(z, copies)
        parts.append(x[..., 0] if is_scalar(action, key) else xp.linalg.vector_norm(x, axis=-1))
    return xp.concat(parts, axis=-1)


def power_features(action, z):
    """Invariant scalars, and per class the Gram matrix of its copies (upper triangle; the
    diagonal as norms, the rest as signed square roots)."""
    xp = namespace(z)
    parts = []
    for key, copies in classes(action).items():
        x = _stack(z, copies)
        if is_scalar(action, key):
            parts.append(x[..., 0])
            continue
        m = len(copies)
        gram = xp.matmul(x, xp.matrix_transpose(x)).reshape((*x.shape[:-2], m * m))
        a, b = np.triu_indices(m, k=1)
        parts += [xp.linalg.vector_norm(x, axis=-1), root(take(gram, a * m + b, axis=-1), 2)]
    return xp.concat(parts, axis=-1)


def bispectrum_features(action, z) -> np.ndarray:
    """Power features, plus for every copy x and every pair of references (r1, r2) — the first
    ``REFS`` copies of each class — the triple coupling Σ C^{l1 l2 l} r1 r2 x (cube root),
    where it is invariant (o3: p1·p2·p = +1) and not zero by symmetry (two of the three are
    the same copy and l1 + l2 + l is odd)."""
    cls = classes(action)
    refs = [(l, p, c) for key, copies in cls.items() if not is_scalar(action, key)
            for (l, p, c) in copies[:REFS]]  # fmt: skip
    parts = [power_features(action, z)]
    for key, copies in cls.items():
        if is_scalar(action, key):
            continue
        x = _stack(z, copies)
        for i, (l1, p1, c1) in enumerate(refs):
            for j in range(i, len(refs)):
                l2, p2, c2 = refs[j]
                if _coupled(action, (l1, p1), (l2, p2), copies[0][:2], same=i == j):
                    cg = irreps.clebsch_gordan(l1, l2, key[0])
                    t = np.einsum("...mk,...k->...m", x, _couple(cg, z[..., c1], z[..., c2]))
                    odd = (l1 + l2 + key[0]) % 2
                    keep = [k for k, (_, _, c) in enumerate(copies) if not (odd and c in (c1, c2))]
                    parts.append(root(t[..., keep], 3))
    return np.concatenate(parts, axis=-1)


def _couple(cg: np.ndarray, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """(r1 ⊗ r2) projected on degree l3 by the CG tensor (d1, d2, d3): shape (..., d3)."""
    outer = r1[..., :, None].astype(np.float64) * r2[..., None, :]
    outer = outer.reshape(*r1.shape[:-1], r1.shape[-1] * r2.shape[-1])
    return rowwise_matmul(outer.reshape(-1, outer.shape[-1]), cg.reshape(-1, cg.shape[-1])).reshape(
        *r1.shape[:-1], cg.shape[-1]
    )


def _coupled(action, a, b, c, same: bool) -> bool:
    """Whether the triple (a, b, c) of (l, p) gives a nonzero invariant."""
    (l1, p1), (l2, p2), (l3, p3) = a, b, c
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        return False
    if action.reflections and p1 * p2 * p3 != 1:
        return False
    return not (same and (l1 + l2 + l3) % 2)


# ---------------------------------------------------------------- canonical frame


def frame(action, z, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per row the element R (b, 3, 3) that puts z's own frame on the axes, and how many axes
    its content fixed (``rank``: 3, or fewer for degenerate rows, whose frame is completed from
    the coordinate axes and is therefore NOT invariant).

    Frame vectors, in order: the l = 1 copies, then S·v and S²·v with v the first l = 1 copy and
    S the first l = 2 copy as a symmetric 3×3 matrix. For ``o3`` only true vectors count (1o,
    S from a 2e copy) and the third axis must come from the content too, so the element may be
    improper; for ``so3`` the third axis is e1 × e2.
    """
    z = z.astype(np.float64)
    scale = np.maximum(np.linalg.norm(z, axis=-1), 1e-300)
    need = 3 if action.reflections else 2
    axes, rank = _gram_schmidt(_vectors(action, z), scale, tol, need)
    if not action.reflections:
        axes[:, 2] = np.cross(axes[:, 0], axes[:, 1])
        rank = np.where(rank == 2, 3, rank)
    return axes, rank.astype(np.int8)


def _vectors(action, z) -> list[np.ndarray]:
    """Equivariant 3-vectors of every row that may span a frame (see ``frame``)."""
    true = [(l, p, c) for cs in classes(action).values() for (l, p, c) in cs
            if not action.reflections or p == (-1) ** l]  # fmt: skip
    vecs = [z[..., c] for l, _, c in true if l == 1]
    mats = [_matrix(z[..., c]) for l, _, c in true if l == 2]
    if vecs and mats:
        sv = np.einsum("...ij,...j->...i", mats[0], vecs[0])
        vecs += [sv, np.einsum("...ij,...j->...i", mats[0], sv)]
    return vecs


def _matrix(x2: np.ndarray) -> np.ndarray:
    """The symmetric traceless 3×3 matrix of an l = 2 irrep (equivariant: S(D²x) = R S Rᵀ)."""
    return np.einsum("ijk,...k->...ij", irreps.clebsch_gordan(1, 1, 2), x2)


def _gram_schmidt(cands, scale, tol, need):
    """Orthonormal axes (b, 3, 3) (rows) from the candidates in order, each kept when its part
    orthogonal to the previous axes exceeds tol·scale, at most ``need`` of them; the rest are
    filled from the coordinate axes. Returns the axes and how many came from the content."""
    b = len(scale)
    axes = np.zeros((b, 3, 3))
    rank = np.zeros(b, dtype=np.int64)
    for v in cands:
        rank = _add_axis(axes, rank, v, tol * scale, need)
    own = rank.copy()
    for e in np.eye(3):
        rank = _add_axis(axes, rank, np.broadcast_to(e, (b, 3)), 1e-3, 3)
    return axes, own


def _add_axis(axes, rank, v, floor, need):
    """Append v's part orthogonal to the current axes where it is large enough (in place)."""
    rest = v - np.einsum("bk,bki->bi", np.einsum("bki,bi->bk", axes, v), axes)
    size = np.linalg.norm(rest, axis=1)
    rows = np.flatnonzero((rank < need) & (size > floor))
    axes[rows, rank[rows]] = rest[rows] / size[rows, None]
    rank = rank.copy()
    rank[rows] += 1
    return rank


def canonical(action, z, mask, p):
    """Rotate each sample into its own frame; stores the element (``canon``) and the frame's
    rank (``canon_rank``: 3 = fixed by the content, lower = degenerate, not invariant)."""
    R, rank = frame(action, z)
    return irreps.rotate(action.irreps, z, R), {"canon": R, "canon_rank": rank}


# ---------------------------------------------------------------- random-max


@so3_search.one_blas_thread
def random_max(action, z, mask, p):
    """max over R of ⟨w_i, D(R)·z⟩ for ``dim`` seeded templates (both inversion signs for o3):
    Newton on SO(3) from the best of 1,024 fixed rotations in up to 3 distinct regions per sign
    (``so3_search``); ``grid_error`` holds, per row, how much the refinement added to the grid's
    best (relative to the output's norm)."""
    b, d = z.shape
    k = p.dim if p.dim is not None else min(d, RANDOM_MAX_DIM)
    w = template_rng("random-max", p, k).standard_normal((k, d)) / np.sqrt(d)
    lift = _template_lift(action, w)
    a = rowwise_matmul(z.astype(np.float64), lift.reshape(d, -1)).reshape(b * k, *lift.shape[2:])
    best, grid_best = so3_search.maximise(a)[:2]
    out = best.reshape(b, k)
    gain = np.abs(out - grid_best.reshape(b, k)).max(axis=1)
    scale = np.maximum(np.linalg.norm(out, axis=1), 1e-30)
    return out, {"grid_error": (gain / scale).astype(np.float32)}


def _template_lift(action, w: np.ndarray) -> np.ndarray:
    """T (D, k, V, K): the polynomial coefficients (``so3_search``) of ⟨w_i, D(R)·z⟩, one per
    template i and inversion sign, are z @ T, as they are linear in z."""
    k, d = w.shape
    pairs = coefficients(action, np.repeat(w, d, axis=0), np.tile(np.eye(d), (k, 1)))
    a = np.stack([so3_search.coefficients(coef) for coef in pairs.values()], axis=1)
    return a.reshape(k, d, *a.shape[1:]).swapaxes(0, 1)


def _wrap(fn):
    def project(action, z, mask, p):
        return fn(action, z), {}

    return project


def raw(action, z, mask, p):
    """The raw latents (not invariant: a baseline)."""
    return flat(z), {}


METHODS = [
    Method("norm", "o3", _wrap(norm_features), "invariant scalars, and the norm of every other "
           "irrep copy (escnn NormPool, e3nn Norm)", "#copies", differentiable=True),
    Method("power", "o3", _wrap(power_features), "per class (l, parity) the Gram matrix of its "
           "copies: every quadratic invariant, relative orientations of copies included",
           "z0 + sum m(m+1)/2", injective="no (loses orientations between classes)",
           differentiable=True),
    Method("bispectrum", "o3", _wrap(bispectrum_features), "power, plus CG triple couplings "
           f"(r1 ⊗ r2 → l)·x of every copy x with pairs of references (first {REFS} copies "
           "of each class)", "power + m·#reference pairs",
           injective="locally, generic inputs, when every class has >= 2 copies and the "
           "couplings reach every degree (e.g. 16x0e+8x1o+4x2e; docs/projections.md)"),
    Method("canonical", "o3", canonical, "rotate into the sample's own frame (l = 1 copies, "
           "then S·v, S²·v from l = 2); canon_rank < 3 marks degenerate rows", "D",
           injective="yes (frame rank 3)", element="canon", cross_section=True),
    Method("random-max", "o3", random_max, "max over R of <w_i, D(R)·z> (Newton from the "
           "best of 1024 rotations in <= 3 regions per sign; stores grid_error)",
           f"dim (default min(D, {RANDOM_MAX_DIM}))",
           random=True, invariant="approximately (local optimisation; see grid_error)",
           dim_help="number of templates"),
    Method("raw", "o3", raw, "raw latents (baseline, not invariant)", "D",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
