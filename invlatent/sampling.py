"""Stratified row samples in input order: what ``--limit`` takes from every data source, and the
seeded samples of large files that ``viz``, ``probe`` and ``report`` work on.

Images stratify by class, molecules by their fixed train/val/test split. Each class gets a
count within one row of its exact share (``class_counts``, the one rule for every sampler), a
larger limit takes a superset of a smaller one, and the rows come back sorted, so the sample
keeps the source's order.
"""

from __future__ import annotations

import numpy as np

RANK_SEED = 0
PARTS = ("all", "train", "val", "test")  # split codes 0, 1, 2 follow "all"


def stratified_rows(y: np.ndarray, limit: int) -> np.ndarray:
    """Indices of ``limit`` rows with each class in proportion, sorted (input order kept).

    Within a class the rows are picked by a fixed random rank (``RANK_SEED``), never by a
    training seed, so the same limit gives the same rows every run.
    """
    if limit >= len(y):
        return np.arange(len(y))
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    take = class_counts(counts, limit)
    key = np.random.default_rng(RANK_SEED).permutation(len(y))
    order = np.lexsort((key, inverse))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(y), np.int64)
    rank[order] = np.arange(len(y)) - np.repeat(starts, counts)
    return np.flatnonzero(rank < take[inverse])


def class_counts(counts: np.ndarray, limit: int) -> np.ndarray:
    """Rows per class for ``limit`` rows, dealt one at a time to the class furthest below its
    exact share (ties to the lower class): each count stays within one of its share and never
    shrinks as ``limit`` grows (largest remainders at once can shrink one: Alabama paradox)."""
    sizes = [int(c) for c in counts]
    n, got = sum(sizes), [0] * len(sizes)
    classes = range(len(sizes))
    for step in range(1, limit + 1):  # deficit x n in integers: step * size - n * got
        best = max(classes, key=lambda c: (step * sizes[c] - n * got[c], -c))
        got[best] += 1
    return np.array(got, np.int64)


def sample_rows(n_rows: int, limit: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of at most ``limit`` rows: all of them when ``n_rows <= limit``, else a
    seeded sample with each class's ``class_counts`` share. The result depends only on
    ``(n_rows, limit, seed, labels)``, so a raw file and its projection get the same rows."""
    from invlatent.errors import InvlatentError

    if limit < 1:
        raise InvlatentError(f"the sample size must be at least 1, got {limit}")
    if n_rows <= limit:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(n_rows, size=limit, replace=False))
    classes, inverse, counts = np.unique(
        np.asarray(labels), return_inverse=True, return_counts=True
    )
    quota = class_counts(counts, limit)
    order = rng.permutation(n_rows)
    picked = [order[inverse[order] == c][: quota[c]] for c in range(len(counts))]
    return np.sort(np.concatenate(picked))


def check_split_options(part: str, limit: int | None) -> None:
    """Refuse an unknown ``--split`` or a ``--limit`` below 1 (before any data is read)."""
    from invlatent.errors import InvlatentError

    if part not in PARTS:
        raise InvlatentError(f"split must be all, train, val or test, got {part!r}")
    if limit is not None and limit < 1:
        raise InvlatentError(f"limit must be at least 1, got {limit}")


def split_rows(split: np.ndarray, part: str, limit: int | None) -> np.ndarray:
    """Rows of ``part`` (``all``, ``train``, ``val`` or ``test``), then ``limit`` of them
    stratified by split, in input order: what ``--split`` with ``--limit`` selects."""
    check_split_options(part, limit)
    rows = (
        np.arange(len(split)) if part == "all" else np.flatnonzero(split == PARTS.index(part) - 1)
    )
    return rows if limit is None else rows[stratified_rows(split[rows], limit)]
