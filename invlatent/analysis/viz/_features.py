"""Latent codes as flat feature rows for an embedding: raw layouts are flattened, padding zeroed."""

from __future__ import annotations

import numpy as np


def flatten(z: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``z`` (shape ``(B, ...)``) as float64 vectors; padded nodes (mask false) become 0."""
    x = np.asarray(z, dtype=np.float64)
    if mask is not None:
        x = x * np.asarray(mask, dtype=bool)[(...,) + (None,) * (x.ndim - 2)]
    return x.reshape(len(x), -1)


def standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of ``x``; constant features keep scale 1 (no division by 0)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)
