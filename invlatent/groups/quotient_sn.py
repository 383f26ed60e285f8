"""Exact quotient distances of node sets under permutations (``sn``): an optimal assignment."""

from __future__ import annotations

import numpy as np

CHUNK_FLOATS = 1 << 17  # pairwise node differences held at once (1 MiB: stays in cache)


def align_nodes(z1, z2, mask1=None, mask2=None):
    """The node-set quotient distance per row and the permutation that attains it (new node i
    of ``z2`` is its old node ``perm[i]``): an optimal assignment, padding nodes matched to 0."""
    b, n, d = z1.shape
    m1 = full_mask(mask1, b, n)
    m2 = full_mask(mask2, b, n)
    dist = np.empty(b)
    perms = np.empty((b, n), dtype=np.int64)
    step = max(1, CHUNK_FLOATS // max(1, n * n * d))
    for lo in range(0, b, step):
        x, y = z1[lo : lo + step], z2[lo : lo + step]
        diff = x[:, :, None, :] - y[:, None, :, :]
        cost = np.einsum("bijk,bijk->bij", diff, diff)
        sq1, sq2 = np.einsum("bik,bik->bi", x, x), np.einsum("bik,bik->bi", y, y)
        part = slice(lo, lo + step)
        dist[part], perms[part] = match_nodes(cost, sq1, sq2, m1[part], m2[part])
    return dist, perms


def match_nodes(cost, sq1, sq2, m1, m2):
    """``align_nodes`` from the node costs: cost (b, n, n) = ‖z1_i − z2_j‖², sq1 and sq2 (b, n)
    the squared norms, m1 and m2 the masks. Real nodes are put first (in order), one assignment
    is solved per row, then the permutations are completed all at once."""
    from scipy.optimize import linear_sum_assignment

    o1, o2 = np.argsort(~m1, axis=1, kind="stable"), np.argsort(~m2, axis=1, kind="stable")
    cost = np.take_along_axis(np.take_along_axis(cost, o1[:, :, None], 1), o2[:, None, :], 2)
    sq1, sq2 = np.take_along_axis(sq1, o1, 1), np.take_along_axis(sq2, o2, 1)
    n1, n2 = m1.sum(axis=1), m2.sum(axis=1)
    match = np.full(m1.shape, -1)  # match[r, i] = j: real node i of z1 goes with real node j of z2
    total = np.empty(len(cost))
    for r in range(len(cost)):
        total[r] = _match(cost[r], sq1[r], sq2[r], n1[r], n2[r], match[r], linear_sum_assignment)
    return np.sqrt(np.maximum(total, 0.0)), _complete_perm(match, o1, o2)


def _match(cost, sq1, sq2, n1, n2, out, solve) -> float:
    """One optimal assignment between the first n1 nodes of z1 and the first n2 of z2, the larger
    set's nodes left over matched to zero; writes the pairs to ``out``, returns the total cost."""
    if n1 >= n2:
        square = np.concatenate([cost[:n1, :n2], np.repeat(sq1[:n1, None], n1 - n2, 1)], axis=1)
    else:
        square = np.concatenate([cost[:n1, :n2].T, np.repeat(sq2[:n2, None], n2 - n1, 1)], axis=1)
    rows, cols = solve(square)
    i, j = (rows, cols) if n1 >= n2 else (cols, rows)
    real = (i < n1) & (j < n2)
    out[i[real]] = j[real]
    return square[rows, cols].sum()


def _complete_perm(match, o1, o2) -> np.ndarray:
    """Per row the permutation with perm[o1[i]] = o2[match[i]] for the matched nodes, the other
    positions filled in increasing order with the nodes left, in increasing order."""
    b, n = match.shape
    row, i = np.nonzero(match >= 0)
    src = o2[row, match[row, i]]
    perm = np.full((b, n), -1)
    perm[row, o1[row, i]] = src
    used = np.zeros((b, n), dtype=bool)
    used[row, src] = True
    left = np.argsort(used, axis=1, kind="stable")  # the unused nodes first, in increasing order
    free = perm < 0
    rank = np.maximum(np.cumsum(free, axis=1) - 1, 0)
    return np.where(free, np.take_along_axis(left, rank, 1), perm)


def full_mask(mask, b: int, n: int) -> np.ndarray:
    """The mask of real nodes, all of them where ``mask`` is None."""
    return np.ones((b, n), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
