"""Invariant projections for node sets under permutations (action ``sn``, z of shape (B, n, d)).

Masks: padded nodes never mix with real ones. Every sorting method puts the real nodes first
(in sorted order) and fills the padded slots at the end with zeros; pooling methods use the
real nodes only (an all-padded row gives zeros).
"""

from __future__ import annotations

import numpy as np

from invlatent.projections._base import Method, flat, rowwise_matmul, template_rng
from invlatent.projections._xp import asarray, is_numpy, namespace, to_numpy


def sort(action, z, mask, p):
    """Sort nodes: by value (d = 1), lexicographically by rows, or by ``key_channel`` first."""
    b, n, d = z.shape
    keys = _key_order(d, p.key_channel)
    if is_numpy(z):
        perm = lex_order(z, mask, keys)
        out = _gather_nodes(z, perm)
    else:  # a tensor: the order by stable argsorts in its namespace (exportable), then a gather
        perm = stable_lex_order(z, mask, keys)
        out = namespace(z).take_along_axis(z, perm[:, :, None], axis=1)
    extras = {"perm": perm}
    if mask is not None:
        count = to_numpy(mask).sum(axis=1)
        out = out * asarray((np.arange(n)[None, :] < count[:, None])[:, :, None], z)
        extras["n_nodes"] = count.astype(np.int64)
    return out.reshape(b, n * d), extras


def stable_lex_order(z, mask, keys: list[int]):
    """The permutation of ``lex_order`` in z's namespace: stable argsorts by the keys, least
    significant first, then by padding (numpy's lexsort, written with array API calls)."""
    xp = namespace(z)
    perm = xp.broadcast_to(xp.arange(z.shape[1], device=z.device)[None, :], z.shape[:2])
    sort_keys = [z[:, :, c] for c in reversed(keys)]
    if mask is not None:
        sort_keys.append(xp.astype(~mask, xp.int8))
    for key in sort_keys:
        order = xp.argsort(xp.take_along_axis(key, perm, axis=1), axis=1, stable=True)
        perm = xp.take_along_axis(perm, order, axis=1)
    return perm


def _key_order(d: int, key_channel: int | None) -> list[int]:
    if key_channel is None:
        return list(range(d))
    return [key_channel, *[c for c in range(d) if c != key_channel]]


def _gather_nodes(z: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``z[i, perm[i]]`` for every row, moving whole node vectors as single items (fast)."""
    b, n, d = z.shape
    z = np.ascontiguousarray(z)
    nodes = z.reshape(b * n, d).view(np.dtype((np.void, d * z.itemsize)))[:, 0]
    index = (perm + (np.arange(b, dtype=np.intp) * n)[:, None]).reshape(-1)
    return nodes[index].view(z.dtype).reshape(b, n, d)


def lex_order(z: np.ndarray, mask, keys: list[int]) -> np.ndarray:
    """Permutation (b, n) sorting the real nodes of each row lexicographically, padded last.

    Fast path: one argsort on the first key; only rows with ties there are lexsorted in full.
    """
    b, n, _ = z.shape
    first = z[:, :, keys[0]]
    if mask is not None:
        first = np.where(mask, first, np.inf)
    perm = np.argsort(first, axis=1).astype(np.int64)
    s = np.take_along_axis(first, perm, axis=1)
    tie = s[:, 1:] == s[:, :-1]
    if mask is not None:  # ties among real nodes, or a real +inf that may sit among padded ones
        count = mask.sum(axis=1)
        tie &= np.arange(n - 1)[None, :] < (count - 1)[:, None]
        last = np.take_along_axis(s, np.maximum(count - 1, 0)[:, None], axis=1)[:, 0]
        tied = tie.any(axis=1) | ((count > 0) & (last == np.inf))
    else:
        tied = tie.any(axis=1) if len(keys) > 1 else np.zeros(b, dtype=bool)
    rows = np.flatnonzero(tied)
    if len(rows):
        perm[rows] = _lexsort_rows(z[rows], None if mask is None else mask[rows], keys)
    return perm


def _lexsort_rows(z, mask, keys):
    cols = [z[:, :, c] for c in reversed(keys)]
    if mask is not None:
        cols.append(~mask)
    return np.lexsort(cols, axis=-1)


def colsort(action, z, mask, p):
    """Sort each channel over the real nodes independently (padded slots last, zero)."""
    b, n, d = z.shape
    return _sort_columns(z, mask).reshape(b, n * d), {}


def _sort_columns(y, mask):
    """Sort (b, n, c) along nodes; padded nodes go last and become 0."""
    xp = namespace(y)
    if mask is None:
        return xp.sort(y, axis=1)
    inf = xp.full_like(y, float("inf"))
    out = xp.sort(xp.where(mask[:, :, None], y, inf), axis=1)
    real = np.arange(y.shape[1])[None, :] < to_numpy(mask).sum(axis=1)[:, None]
    return xp.where(asarray(real[:, :, None], y), out, xp.zeros_like(out))


def sortembed_columns(n: int, d: int, dim: int | None) -> int:
    """Default number of random directions D = n(d - 1) + 1 (Balan et al.)."""
    return dim if dim is not None else n * (d - 1) + 1


def sortembed(action, z, mask, p):
    """sort(Z·A) per column with a seeded random A of shape (d, D), unit-norm columns."""
    b, n, d = z.shape
    cols = sortembed_columns(n, d, p.dim)
    a = template_rng("sortembed", p, cols).standard_normal((d, cols))
    a /= np.linalg.norm(a, axis=0, keepdims=True)
    y = rowwise_matmul(z.reshape(b * n, d), a.astype(np.float32)).reshape(b, n, cols)
    return _sort_columns(y, mask).reshape(b, n * cols), {}


def _pool(reduce, fill):
    def pool(action, z, mask, p):
        if mask is None:
            return reduce(z), {}
        xp = namespace(z)
        m = mask[:, :, None]
        out = reduce(xp.where(m, z, xp.full_like(z, fill)), mask=m)
        return xp.where(xp.any(mask, axis=1)[:, None], out, xp.zeros_like(out)), {}

    return pool


def _sum(z, mask=None):
    return namespace(z).sum(z, axis=1)


def _mean(z, mask=None):
    xp = namespace(z)
    if mask is None:
        return xp.mean(z, axis=1)
    count = asarray(np.maximum(to_numpy(mask).sum(axis=1), 1), z)
    return xp.sum(z, axis=1) / xp.astype(count, z.dtype)


def _max(z, mask=None):
    return namespace(z).max(z, axis=1)


def raw(action, z, mask, p):
    """The raw latents, flattened (not invariant: a baseline)."""
    return flat(z), {}


METHODS = [
    Method(
        "sort", "sn", sort,
        "sort nodes (d = 1), lexicographic row sort (d > 1) or by --key-channel first",
        "n·d", injective="yes", isometric="yes for d = 1", convex="yes for d = 1",
        element="perm", cross_section=True, key_channel=True, differentiable=True,
    ),
    Method(
        "colsort", "sn", colsort, "sort each channel independently (1-Lipschitz, lossy)",
        "n·d", isometric="no (1-Lipschitz)", convex="yes", differentiable=True,
    ),
    Method(
        "sortembed", "sn", sortembed, "sort(Z·A) per column, A seeded (d, D) (Balan et al.)",
        "n·D, D = n(d-1)+1", injective="yes (generic A)", isometric="no (bi-Lipschitz)",
        random=True, dim_help="number of random directions D",
    ),
    Method("sum", "sn", _pool(_sum, 0.0), "sum over real nodes", "d", convex="yes",
           differentiable=True),
    Method("mean", "sn", _pool(_mean, 0.0), "mean over real nodes", "d", convex="yes",
           differentiable=True),
    Method("max", "sn", _pool(_max, -np.inf), "max over real nodes", "d", differentiable=True),
    Method("raw", "sn", raw, "raw latents flattened (baseline, not invariant)", "n·d",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
