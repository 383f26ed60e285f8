"""Exact quotient distances of node sets under permutations (``sn``): an optimal assignment."""

from __future__ import annotations

import numpy as np


def align_nodes(z1, z2, mask1=None, mask2=None):
    """The node-set quotient distance per row and the permutation that attains it (new node i
    of ``z2`` is its old node ``perm[i]``): an optimal assignment, padding nodes matched to 0."""
    from scipy.optimize import linear_sum_assignment

    b, n, _ = z1.shape
    m1 = full_mask(mask1, b, n)
    m2 = full_mask(mask2, b, n)
    dist = np.empty(b)
    perms = np.empty((b, n), dtype=np.int64)
    for r in range(b):
        dist[r], perms[r] = _match_nodes(z1[r], z2[r], m1[r], m2[r], linear_sum_assignment)
    return dist, perms


def _match_nodes(a, b, ma, mb, solve):
    """Distance and permutation p (new node i = old node p[i] of b) for one masked pair."""
    ra, rb = np.flatnonzero(ma), np.flatnonzero(mb)
    big, small, swap = (ra, rb, False) if len(ra) >= len(rb) else (rb, ra, True)
    x, y = (a, b) if not swap else (b, a)
    cost = np.empty((len(big), len(big)))
    diff = x[big][:, None, :] - y[small][None, :, :]
    cost[:, : len(small)] = np.einsum("ijk,ijk->ij", diff, diff)
    cost[:, len(small) :] = np.einsum("ik,ik->i", x[big], x[big])[:, None]
    rows, cols = solve(cost)
    total = cost[rows, cols].sum()
    matched = cols < len(small)
    src, dst = small[cols[matched]], big[rows[matched]]
    if swap:
        src, dst = dst, src
    perm = _complete_perm(len(a), dst, src)
    return np.sqrt(max(total, 0.0)), perm


def _complete_perm(n, dst, src):
    """A permutation with perm[dst] = src, the remaining positions filled in increasing order."""
    perm = np.full(n, -1, dtype=np.int64)
    perm[dst] = src
    free_src = np.setdiff1d(np.arange(n), src)
    perm[perm < 0] = free_src
    return perm


def full_mask(mask, b: int, n: int) -> np.ndarray:
    """The mask of real nodes, all of them where ``mask`` is None."""
    return np.ones((b, n), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
