"""Quotient distances min over (R, P) of ‖z1 − (R, P)·z2‖ for O(3)/SO(3) irreps.

- ``o3``/``so3`` with every block of degree l ≤ 1: **exact**. ⟨z1, D(R)·z2⟩ is then a constant
  plus ⟨M, Q⟩ for R = s·Q (Q a rotation, s = ±1 the inversion, tried both for ``o3``), maximised
  in closed form by orthogonal Procrustes (Kabsch: the SVD of M with the determinant fixed).
- Higher l: an **upper bound**. f(Q) = Σ_l ⟨M_l, D^l(Q)⟩, a polynomial in Q's quaternion, is
  maximised by ``so3_search``: Newton's method on the quaternions from the best of a fixed grid
  of rotations in a few distinct regions, and from the Procrustes solution of the l = 1 part.
  The distance returned is that of the rotation found, so it is never below the true one.
- ``sn*o3``/``sn*so3``: an **upper bound** by alternating the Hungarian assignment of nodes
  (masks handled as for ``sn``) and the rotation step above, from the best rotation for the
  nodes matched by their norms and the best grid rotations of ``NODE_STARTS`` distinct regions
  for the node-summed latents (per inversion sign), each start until its assignment repeats.

``method`` names the one used; ``invlatent check`` prints it.
"""

from __future__ import annotations

import numpy as np

from invlatent.groups import irreps, quotient_sn, so3_search
from invlatent.groups.action import Action

NODE_STARTS = 6
NEWTON_STEPS = 25
NODE_ROUNDS = 5
NODE_NEWTON_STEPS = 8


def method(action) -> str:
    """Which quotient distance ``align`` computes for this action, in words."""
    action = Action.parse(action)
    if not action.nodes and action.irreps.lmax <= 1:
        return "exact (orthogonal Procrustes: every block has l <= 1)"
    if not action.nodes:
        return (
            f"upper bound (Newton on SO(3) from the best of {so3_search.GRID} rotations in "
            f"<= {so3_search.STARTS} regions, and from the l = 1 Procrustes solution)"
        )
    return (
        f"upper bound (Hungarian assignment alternated with the rotation step, "
        f"{NODE_STARTS + 1} starts per inversion sign)"
    )


@so3_search.one_blas_thread
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
    """Newton on SO(3) from the best grid rotations of distinct regions (``so3_search``) and
    from the l = 1 Procrustes solution: per row the better rotation and its value."""
    val, _, q, _ = so3_search.maximise(so3_search.coefficients(coef)[:, None])
    Q = irreps.quaternion_to_matrix(q)
    if 1 in coef:
        Qp, vp = newton(coef, _procrustes(coef[1], len(Q)))
        Q = np.where((vp > val)[:, None, None], Qp, Q)
        val = np.maximum(val, vp)
    return Q, val


# ---------------------------------------------------------------- Newton on SO(3)


def newton(coef, Q, steps: int = NEWTON_STEPS):
    """Maximise f(Q) = Σ_l ⟨M_l, D^l(Q)⟩ per row from Q (N, 3, 3) (Newton on the quaternions,
    ``so3_search``); returns (Q, f(Q))."""
    if not coef:
        return Q, np.zeros(len(Q))
    a = so3_search.coefficients(coef)
    q, val = so3_search.newton(a, so3_search.quaternion(Q), steps)
    return irreps.quaternion_to_matrix(q), val


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
    dist, perm = _alternate(action, rows, sign, R)
    pick = dist.reshape(b, k).argmin(axis=1) + k * np.arange(b)
    R, perm = R[pick], perm[pick]
    return _node_distance(action, z1, z2, m1, m2, R, perm), (R, perm)


def _node_distance(action, z1, z2, m1, m2, R, perm) -> np.ndarray:
    """‖z1 − (R, P)·z2‖ with padding nodes as zeros: the distance at the element returned."""
    y = np.take_along_axis(irreps.rotate(action.irreps, z2, R) * m2[..., None], perm[..., None], 1)
    return np.linalg.norm((z1 * m1[..., None] - y).reshape(len(z1), -1), axis=1)


def _alternate(action, rows, sign, R):
    """Alternate the node matching and the rotation step, each start until its matching repeats
    (the rotation step would then give the same R) or after ``NODE_ROUNDS`` rotation steps;
    R is updated in place. Returns the distance and the matching at each start's final R."""
    dist, perm = np.empty(len(R)), np.empty((len(R), rows[0].shape[1]), dtype=np.int64)
    live = np.arange(len(R))
    for step in range(NODE_ROUNDS + 1):
        part = [x[live] for x in rows]
        d, p = _assign(action, *part, R[live])
        moved = (p != perm[live]).any(axis=1) if step else np.ones(len(live), dtype=bool)
        dist[live], perm[live] = d, p
        if step == NODE_ROUNDS or not moved.any():
            break
        live, part, p = live[moved], [x[moved] for x in part], p[moved]
        R[live] = _rotation_step(action, *part, p, sign[live], R[live])
    return dist, perm


def _node_starts(action, z1, z2, m1, m2) -> list[tuple[int, np.ndarray]]:
    """Starting rotations per inversion sign: the best one (grid + Newton) for the nodes matched
    by their invariant norms, and the best grid rotations of ``NODE_STARTS`` distinct regions
    for the node sums."""
    perm = quotient_sn.align_nodes(_node_norms(action, z1), _node_norms(action, z2), m1, m2)[1]
    real = m1 & np.take_along_axis(m2, perm, axis=1)
    matched = coefficients(action, z1 * real[..., None], np.take_along_axis(z2, perm[..., None], 1))
    pooled = coefficients(action, (z1 * m1[..., None]).sum(1), (z2 * m2[..., None]).sum(1))
    starts = []
    for s in _signs(action):
        starts.append((s, _search(matched[s])[0]))
        top = so3_search.grid_starts(so3_search.coefficients(pooled[s]), NODE_STARTS)
        starts += [(s, irreps.quaternion_to_matrix(top[:, k])) for k in range(NODE_STARTS)]
    return starts


def _node_norms(action, z) -> np.ndarray:
    """The norm of every irrep copy of every node (b, n, copies): invariant under O(3)."""
    parts = [
        np.linalg.norm(z[..., cols].reshape(*z.shape[:2], mul, 2 * l + 1), axis=-1)
        for mul, l, _, cols in action.irreps.blocks()
    ]
    return np.concatenate(parts, axis=-1)


def _assign(action, z1, z2, m1, m2, R):
    """Per row: the best node matching of z1 to R·z2 (sn's Hungarian matching) and its distance,
    from node costs ‖x‖² + ‖y‖² − 2⟨x, y⟩ (one matrix product per row; exact to rounding)."""
    y = irreps.rotate(action.irreps, z2, R)
    sq1, sq2 = np.einsum("bik,bik->bi", z1, z1), np.einsum("bik,bik->bi", y, y)
    cost = np.maximum(sq1[:, :, None] + sq2[:, None, :] - 2 * (z1 @ np.swapaxes(y, 1, 2)), 0.0)
    return quotient_sn.match_nodes(cost, sq1, sq2, m1, m2)


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
