"""Matrix products whose every output row depends on its input row alone.

BLAS rounds a float product differently by the matrix's shape (OpenBLAS picks other kernels for
few rows, notably on AMD EPYC), so a row's bytes would depend on the batch it came in. Products
here are taken in calls of exactly ``BLOCK_ROWS`` rows, the last block zero-padded.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 64


def matmul_rows(a: np.ndarray, b: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``a @ b`` (a 2-D) in ``dtype`` by BLAS calls of exactly ``BLOCK_ROWS`` rows."""
    a, b = np.ascontiguousarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
    out = np.empty((len(a), b.shape[1]), dtype=dtype)
    whole = len(a) - len(a) % BLOCK_ROWS
    for start in range(0, whole, BLOCK_ROWS):
        np.matmul(a[start : start + BLOCK_ROWS], b, out=out[start : start + BLOCK_ROWS])
    if whole < len(a):
        block = np.zeros((BLOCK_ROWS, a.shape[1]), dtype=dtype)
        block[: len(a) - whole] = a[whole:]
        out[whole:] = (block @ b)[: len(a) - whole]
    return out
