"""Seeded row sampling for large files: at most N rows, stratified by class label."""

from __future__ import annotations

import numpy as np


def sample_rows(n_rows: int, limit: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices: all rows when ``n_rows <= limit``, else ``limit`` rows drawn per class.

    Classes keep their share of the rows (largest-remainder rounding). The result depends only on
    ``(n_rows, limit, seed, labels)``, so a raw file and its projection get the same rows.
    """
    if limit < 1:
        raise ValueError(f"--sample must be at least 1, got {limit}")
    if n_rows <= limit:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(n_rows, size=limit, replace=False))
    classes, inverse, counts = np.unique(
        np.asarray(labels), return_inverse=True, return_counts=True
    )
    quota = _allocate(counts, limit)
    order = rng.permutation(n_rows)
    picked = [order[inverse[order] == c][: quota[c]] for c in range(len(classes))]
    return np.sort(np.concatenate(picked))


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder first)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    short = total - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    return np.minimum(quota, counts)
