"""Quotient distances min over (R, P) of ‖z1 − (R, P)·z2‖ for O(3)/SO(3) irreps.

- ``o3``/``so3`` with every block of degree l ≤ 1: **exact**. ⟨z1, D(R)·z2⟩ is then a constant
  plus ⟨M, Q⟩ for R = s·Q (Q a rotation, s = ±1 the inversion, tried both for ``o3``), maximised
  in closed form by orthogonal Procrustes (Kabsch: the SVD of M with the determinant fixed).
- Higher l: an **upper bound**. f(Q) = Σ_l ⟨M_l, D^l(Q)⟩ is evaluated on a fixed grid of
  ``GRID`` rotations, and Newton's method on SO(3) (exact gradient and Hessian from the Lie
  algebra) refines the ``STARTS`` best grid points and the Procrustes solution of the l = 1 part.
  The distance returned is that of the rotation found, so it is never below the true one.
- ``sn*o3``/``sn*so3``: an **upper bound** by alternating the Hungarian assignment of nodes
  (masks handled as for ``sn``) and the rotation step above, from the ``NODE_STARTS`` best grid
  rotations for the node-summed latents (per inversion sign), until the assignment is stable.

``method`` names the one used; ``invlatent check`` prints it.
"""

from __future__ import annotations

import functools

import numpy as np

from invlatent.groups import irreps, quotient_sn
from invlatent.groups.action import Action

GRID = 512
STARTS = 2
NODE_STARTS = 3
NEWTON_STEPS = 25
NODE_ROUNDS = 5
NODE_NEWTON_STEPS = 8


def method(action) -> str:
    """Which quotient distance ``align`` computes for this action, in words."""
    action = Action.parse(action)
    if not action.nodes and action.irreps.lmax <= 1:
        return "exact (orthogonal Procrustes: every block has l <= 1)"
    if not action.nodes:
        return f"upper bound (Newton on SO(3) from the {STARTS} best of {GRID} rotations)"
    return (
        f"upper bound (Hungarian assignment alternated with the rotation step, "
        f"{NODE_STARTS + 1} starts per inversion sign)"
    )


def align(action, z1, z2, mask1=None, mask2=None):
    """Row-wise distance and element (R, or (R, P) for products) minimising ‖z1 − g·z2‖."""
    action = Action.parse(action)
    z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    if not len(z1):
        R = np.zeros((0, 3, 3))
        return np.zeros(0), ((R, np.zeros(z1.shape[:2], np.int64)) if action.nodes else R)
    if action.nodes:
        return _align_nodes(action, z1, z2, mask1, mask2)
    R = _best_rotation(action, coefficients(action, z1, z2))
    return np.linalg.norm(z1 - irreps.rotate(action.irreps, z2, R), axis=1), R


# ---------------------------------------------------------------- the objective


def _signs(action) -> tuple[int, ...]:
    return (1, -1) if action.reflections else (1,)


def coefficients(action, a, b, signs=None) -> dict[int, dict[int, np.ndarray]]:
    """Per sign s and degree l: M_l (B, 2l+1, 2l+1) with ⟨a, D(sQ)·b⟩ = Σ_l ⟨M_l, D^l(Q)⟩."""
    out = {}
    for s in signs or _signs(action):
        per_l: dict[int, np.ndarray] = {}
        for mul, l, p, cols in action.irreps.blocks():
            copies = mul * int(np.prod(a.shape[1:-1]))  # nodes and copies together
            shape = (len(a), copies, 2 * l + 1)
            x, y = a[..., cols].reshape(shape), b[..., cols].reshape(shape)
            m = np.einsum("bui,buj->bij", x, y) * (p if s < 0 else 1)
            per_l[l] = per_l.get(l, 0) + m
        out[s] = per_l
    return out


def _value(coef: dict[int, np.ndarray], Q: np.ndarray) -> np.ndarray:
    """f(Q) = Σ_l ⟨M_l, D^l(Q)⟩ for Q (B, 3, 3) or (B, K, 3, 3)."""
    total = 0.0
    for l, m in coef.items():
        d = irreps.wigner_D(l, Q)
        m = m if Q.ndim == 3 else m[:, None]
        total = total + np.einsum("...ij,...ij->...", m, d)
    return total


def _best_rotation(action, coef_by_sign) -> np.ndarray:
    """R = s·Q maximising ⟨z1, D(R)·z2⟩ per row (exact for l <= 1, else Newton from starts)."""
    vals, rots = [], []
    for s, coef in coef_by_sign.items():
        b = len(next(iter(coef.values())))
        if action.irreps.lmax <= 1:
            Q = _procrustes(coef.get(1), b)
            lin = np.einsum("bij,bij->b", coef[1], Q) if 1 in coef else 0.0
            val = _constant(coef) + lin
        else:
            Q, val = _search(coef)
        vals.append(val + np.zeros(b))
        rots.append(s * Q)
    pick = np.argmax(np.stack(vals), axis=0)
    return np.stack(rots)[pick, np.arange(len(pick))]


def _constant(coef) -> np.ndarray:
    return coef[0][:, 0, 0] if 0 in coef else 0.0


def _procrustes(m, b: int) -> np.ndarray:
    """The rotation Q maximising ⟨M, Q⟩ per row (Kabsch); the identity when M is absent."""
    if m is None:
        return np.repeat(np.eye(3)[None], b, axis=0)
    u, _, vt = np.linalg.svd(m)
    diag = np.ones((len(m), 3))
    diag[:, 2] = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    return u @ (diag[:, :, None] * vt)


def _search(coef) -> tuple[np.ndarray, np.ndarray]:
    """Newton on SO(3) from the best grid rotations (and the l = 1 Procrustes solution)."""
    b = len(next(iter(coef.values())))
    grid = _grid()
    starts = grid[np.argsort(-grid_values(coef, grid), axis=1)[:, :STARTS]]
    if 1 in coef:
        starts = np.concatenate([starts, _procrustes(coef[1], b)[:, None]], axis=1)
    k = starts.shape[1]
    flat = {l: np.repeat(m, k, axis=0) for l, m in coef.items()}
    Q, val = newton(flat, starts.reshape(b * k, 3, 3))
    val = val.reshape(b, k)
    pick = val.argmax(axis=1)
    return Q.reshape(b, k, 3, 3)[np.arange(b), pick], val[np.arange(b), pick]


def grid_values(coef, grid) -> np.ndarray:
    """f at every grid rotation, per row: (B, K)."""
    return sum(np.einsum("bij,kij->bk", m, irreps.wigner_D(l, grid)) for l, m in coef.items())


@functools.cache
def _grid() -> np.ndarray:
    """A fixed set of ``GRID`` rotations (seeded: the same on every run) plus the identity."""
    R = irreps.random_rotations(GRID - 1, np.random.default_rng(20240717))
    return np.concatenate([np.eye(3)[None], R])


# ---------------------------------------------------------------- Newton on SO(3)


@functools.cache
def lie(l: int) -> np.ndarray:
    """J (3, 2l+1, 2l+1): the derivative of D^l along rotations about x, y, z at the identity."""
    eps = np.zeros((3, 3, 3))
    eps[0, 1, 2] = eps[1, 2, 0] = eps[2, 0, 1] = 1
    eps[0, 2, 1] = eps[2, 1, 0] = eps[1, 0, 2] = -1
    if l == 0:
        return np.zeros((3, 1, 1))
    j = -eps
    for k in range(2, l + 1):
        c = irreps.cg_step(k).reshape((2 * k - 1) * 3, 2 * k + 1)
        left = np.einsum("iab,cd->iacbd", j, np.eye(3))
        right = np.einsum("ab,icd->iacbd", np.eye(2 * k - 1), -eps)
        big = (left + right).reshape(3, (2 * k - 1) * 3, (2 * k - 1) * 3)
        j = np.einsum("xa,ixy,yb->iab", c, big, c)
    return j


def _rodrigues(w: np.ndarray) -> np.ndarray:
    """exp of the rotation vector w (B, 3): rotation about w by |w| (right-handed)."""
    theta = np.linalg.norm(w, axis=1)[:, None, None]
    k = np.zeros((len(w), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -w[:, 2], w[:, 1], -w[:, 0]
    k = k - np.swapaxes(k, 1, 2)
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def newton(coef, Q, steps: int = NEWTON_STEPS):
    """Maximise f(Q) = Σ_l ⟨M_l, D^l(Q)⟩ per row from Q (N, 3, 3); returns (Q, f(Q))."""
    val = _value(coef, Q)
    if not any(coef):  # invariant scalars only: f is constant
        return Q, val + np.zeros(len(Q))
    mu = np.full(len(Q), 1e-3)
    for _ in range(steps):
        g, h = _derivatives(coef, Q)
        if (np.abs(g).max(axis=1) <= 1e-13 * (1 + np.abs(val))).all():
            break
        a = -h
        low = min_eigenvalue(a)
        shift = np.maximum(0.0, -low) + mu * (1 + np.abs(val))
        w = np.linalg.solve(a + shift[:, None, None] * np.eye(3), g[:, :, None])[:, :, 0]
        norm = np.linalg.norm(w, axis=1, keepdims=True)
        w = w * np.minimum(1.0, 0.5 / np.maximum(norm, 1e-300))
        Q_new = _rodrigues(w) @ Q
        new = _value(coef, Q_new)
        ok = new >= val
        Q = np.where(ok[:, None, None], Q_new, Q)
        val = np.where(ok, new, val)
        mu = np.clip(np.where(ok, mu / 3, mu * 8), 1e-6, 1e6)
    return Q, val


def _derivatives(coef, Q):
    """Gradient (N, 3) and Hessian (N, 3, 3) of f at Q along left rotations exp(ω)·Q."""
    g, h = 0.0, 0.0
    for l, m in coef.items():
        if l == 0:
            continue
        w = m @ np.swapaxes(irreps.wigner_D(l, Q), 1, 2)  # ⟨M, A·D⟩ = ⟨A, M·Dᵀ⟩
        w = w.reshape(len(w), (2 * l + 1) ** 2)
        j, sym = lie(l), _lie_products(l)
        g = g + w @ j.reshape(3, -1).T
        h = h + (w @ sym.reshape(9, -1).T).reshape(len(w), 3, 3)
    return g, h


@functools.cache
def _lie_products(l: int) -> np.ndarray:
    """(J_i J_j + J_j J_i) / 2, shape (3, 3, 2l+1, 2l+1): the Hessian's coefficients."""
    jj = np.einsum("iab,jbc->ijac", lie(l), lie(l))
    return 0.5 * (jj + np.swapaxes(jj, 0, 1))


def min_eigenvalue(a: np.ndarray) -> np.ndarray:
    """The smallest eigenvalue of symmetric 3×3 matrices (N, 3, 3), in closed form."""
    q = np.trace(a, axis1=1, axis2=2) / 3
    off = a[:, 0, 1] ** 2 + a[:, 0, 2] ** 2 + a[:, 1, 2] ** 2
    p2 = ((a[:, 0, 0] - q) ** 2 + (a[:, 1, 1] - q) ** 2 + (a[:, 2, 2] - q) ** 2 + 2 * off) / 6
    p = np.sqrt(np.maximum(p2, 0))
    safe = np.where(p > 0, p, 1.0)
    b = (a - q[:, None, None] * np.eye(3)) / safe[:, None, None]
    r = np.clip(np.linalg.det(b) / 2, -1, 1)
    return q + 2 * p * np.cos(np.arccos(r) / 3 + 2 * np.pi / 3)


# ---------------------------------------------------------------- products with node permutations


def _align_nodes(action, z1, z2, mask1, mask2):
    """Alternate Hungarian node matching and the rotation step, from a few starts per sign
    (all starts of all rows in one batch)."""
    b, n, _ = z1.shape
    m1, m2 = quotient_sn.full_mask(mask1, b, n), quotient_sn.full_mask(mask2, b, n)
    starts = _node_starts(action, z1, z2, m1, m2)
    k = len(starts)
    sign = np.tile([float(s) for s, _ in starts], b)
    R = np.stack([s * Q for s, Q in starts], axis=1).reshape(b * k, 3, 3)
    rows = [np.repeat(x, k, axis=0) for x in (z1, z2, m1, m2)]
    for _ in range(NODE_ROUNDS):
        _, perm = _assign(action, *rows, R)
        R_new = _rotation_step(action, *rows, perm, sign, R)
        done = np.allclose(R_new, R, atol=1e-9)
        R = R_new
        if done:
            break
    dist, perm = _assign(action, *rows, R)
    pick = dist.reshape(b, k).argmin(axis=1) + k * np.arange(b)
    return dist[pick], (R[pick], perm[pick])


def _node_starts(action, z1, z2, m1, m2) -> list[tuple[int, np.ndarray]]:
    """Starting rotations per inversion sign: the best one (grid + Newton) for the nodes matched
    by their invariant norms, and the ``NODE_STARTS`` best grid rotations for the node sums."""
    perm = quotient_sn.align_nodes(_node_norms(action, z1), _node_norms(action, z2), m1, m2)[1]
    real = m1 & np.take_along_axis(m2, perm, axis=1)
    matched = coefficients(action, z1 * real[..., None], np.take_along_axis(z2, perm[..., None], 1))
    pooled = coefficients(action, (z1 * m1[..., None]).sum(1), (z2 * m2[..., None]).sum(1))
    grid = _grid()
    starts = []
    for s in _signs(action):
        starts.append((s, _search(matched[s])[0]))
        top = np.argsort(-grid_values(pooled[s], grid), axis=1)[:, :NODE_STARTS]
        starts += [(s, grid[top[:, k]]) for k in range(top.shape[1])]
    return starts


def _node_norms(action, z) -> np.ndarray:
    """The norm of every irrep copy of every node (b, n, copies): invariant under O(3)."""
    parts = [
        np.linalg.norm(z[..., cols].reshape(*z.shape[:2], mul, 2 * l + 1), axis=-1)
        for mul, l, _, cols in action.irreps.blocks()
    ]
    return np.concatenate(parts, axis=-1)


def _assign(action, z1, z2, m1, m2, R):
    """Per row: the best node matching of z1 to R·z2 (sn's Hungarian matching), its distance."""
    return quotient_sn.align_nodes(z1, irreps.rotate(action.irreps, z2, R), m1, m2)


def _rotation_step(action, z1, z2, m1, m2, perm, sign, R):
    """The best R = s·Q for the matched nodes, s fixed per row (exact for l <= 1, else Newton
    from the current R)."""
    z2p = np.take_along_axis(z2, perm[:, :, None], axis=1)
    real = m1 & np.take_along_axis(m2, perm, axis=1)
    Q = sign[:, None, None] * R
    out = np.empty_like(R)
    for s in np.unique(sign):
        rows = np.flatnonzero(sign == s)
        coef = coefficients(action, (z1 * real[..., None])[rows], z2p[rows], signs=(s,))[s]
        if action.irreps.lmax <= 1:
            q = _procrustes(coef[1], len(rows)) if 1 in coef else Q[rows]
        else:
            q = newton(coef, Q[rows], steps=NODE_NEWTON_STEPS)[0]
        out[rows] = s * q
    return out
