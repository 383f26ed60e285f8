"""Rotations and mirrors of a square pixel grid: images, filters and fields on a grid.

Conventions shared by the data, the group-CNN filters, grid fields and ``check``: pixel ``(i, j)``
has Cartesian coordinates ``x = j - c_w``, ``y = c_h - i`` about the centre
``c = (size - 1) / 2``; a positive angle turns the picture counter-clockwise as displayed; the
reflection ``f`` mirrors left-right (``x -> -x``); the element ``r^k f^m`` reflects first, then
rotates. A transformed plane is ``(g·x)(p) = x(g⁻¹ p)``, sampled bilinearly with zeros outside.
Sample points that land within 1e-6 of the pixel grid are snapped onto it, so multiples of 90°
are exact permutations.
"""

from __future__ import annotations

import numpy as np

_SNAP = 1e-6


def source_coords(h: int, w: int, angles: np.ndarray, flips: np.ndarray | None = None):
    """Row/column (float64, shape ``(B, h, w)``) that each output pixel samples for ``g⁻¹ p``."""
    angles = np.asarray(angles, dtype=np.float64).reshape(-1, 1, 1)
    ch, cw = (h - 1) / 2, (w - 1) / 2
    x = np.arange(w)[None, None, :] - cw
    y = ch - np.arange(h)[None, :, None]
    cos, sin = np.cos(angles), np.sin(angles)
    xs, ys = cos * x + sin * y, -sin * x + cos * y  # R(-angle) p
    if flips is not None:
        xs = np.where(np.asarray(flips).reshape(-1, 1, 1).astype(bool), -xs, xs)
    rows, cols = snap(ch - ys), snap(xs + cw)
    return rows, cols


def snap(v: np.ndarray) -> np.ndarray:
    """Values within 1e-6 of an integer, made that integer (so quarter turns stay exact); -0 → 0."""
    r = np.round(v)
    return np.where(np.abs(v - r) < _SNAP, r, v) + 0.0


def rotate_images(x: np.ndarray, angles: np.ndarray, flips: np.ndarray | None = None) -> np.ndarray:
    """Transform images ``(B, C, H, W)`` by one element per row (bilinear, zeros outside)."""
    b, c, h, w = x.shape
    flat = x.reshape(b, c, h * w)
    out = np.zeros_like(x)
    for idx, wt in _taps(*source_coords(h, w, angles, flips), h, w, x.dtype):
        full = np.broadcast_to(idx.reshape(b, 1, h * w), (b, c, h * w))
        vals = np.take_along_axis(flat, full, axis=2)
        out += (vals.reshape(b, c, h, w) * wt[:, None]).astype(x.dtype)
    return out


def turn_planes(x: np.ndarray, angle: float, flip: bool = False) -> np.ndarray:
    """Transform the last two axes of ``x`` (any leading shape) by one element, the way
    ``rotate_images`` does; the taps are computed once, so memory stays a few times ``x``."""
    h, w = x.shape[-2:]
    rows, cols = source_coords(h, w, np.array([angle]), np.array([flip]))
    flat = x.reshape(-1, h * w)
    out = np.zeros_like(flat)
    for idx, wt in _taps(rows[0], cols[0], h, w, x.dtype):
        out += flat[:, idx.reshape(-1)] * wt.reshape(-1)
    return out.reshape(x.shape)


def _taps(rows: np.ndarray, cols: np.ndarray, h: int, w: int, dtype) -> list:
    """Bilinear sampling at float ``(rows, cols)``: four (flat index, weight) pairs, weight 0
    where the neighbour lies outside the ``h × w`` grid."""
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0).astype(dtype), (cols - c0).astype(dtype)
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    taps = []
    for dr, dc, wt in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        rr, cc = r0 + dr, c0 + dc
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w) & (wt != 0)
        taps.append((np.where(ok, rr * w + cc, 0), np.where(ok, wt, 0)))
    return taps


def transform_matrix(size: int, angle: float, flip: bool = False) -> np.ndarray:
    """Matrix ``M`` ``(size², size²)`` with ``vec(g·k) = M vec(k)`` for a square filter ``k``."""
    eye = np.eye(size * size).reshape(size * size, 1, size, size)
    cols = rotate_images(eye, np.full(size * size, angle), np.full(size * size, flip))
    return cols.reshape(size * size, size * size).T
