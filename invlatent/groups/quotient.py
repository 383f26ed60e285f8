"""Exact quotient distances d([z1], [z2]) = min_g ||z1 - g·z2||, row by row, for every action.

- ``sn``: the Hungarian algorithm on the cost matrix of squared node distances (scipy). With
  masks, real nodes are matched to real nodes; when one set has more real nodes, each extra
  node is matched to a zero "ghost" and pays its squared norm. Padded values are ignored.
- ``cN`` / ``dN``: the best shift (and flip) from an FFT cross-correlation along the group
  axis, then the distance to that element is computed directly in float64.
- ``cN:grid`` / ``dN:grid``: brute force over the |G| elements (``pairwise`` through Gram
  matrices, ‖a‖² + ‖g·b‖² − 2⟨a, g·b⟩, one per element). Exact for elements that turn the grid
  by multiples of 90°; for the others g·b is interpolated, so the minimum is approximate.
- ``so2``: max over θ of <z1, R(θ)·z2>, in closed form for one distinct nonzero frequency,
  else a fine grid plus Newton refinement.
- ``o3``/``so3`` and ``sn*o3``/``sn*so3``: ``invlatent.groups.quotient_o3`` — exact (orthogonal
  Procrustes) when every irrep has l <= 1, otherwise an upper bound by local optimisation on
  SO(3) (alternated with the Hungarian assignment for node sets); ``quotient_o3.method`` says
  which.
- ``trivial``: the Euclidean distance.

``align`` also returns the minimising element (in the ``g`` encoding of ``invlatent.groups``).
"""

from __future__ import annotations

import numpy as np

from invlatent.groups import transforms
from invlatent.groups.action import Action


def quotient_distance(action, z1, z2, mask1=None, mask2=None) -> np.ndarray:
    """Row-wise exact quotient distance min_g ||z1[i] - g·z2[i]|| as float64 of shape (B,)."""
    return align(action, z1, z2, mask1, mask2)[0]


def align(action, z1, z2, mask1=None, mask2=None) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise quotient distance and the element g minimising ||z1 - g·z2||."""
    action = Action.parse(action)
    z1 = np.asarray(z1, dtype=np.float64)
    z2 = np.asarray(z2, dtype=np.float64)
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {z1.shape} and {z2.shape}")
    if len(z1) == 0:  # no pairs (a file of one row): no distances, no elements
        n = z1.shape[1] if action.has_nodes and z1.ndim > 1 else 0
        return np.zeros(0), action.family.sample(action, 0, np.random.default_rng(0), n)
    return action.family.align(action, z1, z2, mask1, mask2)


def pairwise(action, z, mask=None, index=None) -> np.ndarray:
    """Symmetric matrix of quotient distances between the rows ``index`` (default: all) of z."""
    action = Action.parse(action)
    idx = np.arange(len(z)) if index is None else np.asarray(index)
    i, j = np.triu_indices(len(idx), k=1)
    if action.grid:
        d = _pairwise_grid(action, np.asarray(z[idx], dtype=np.float64))[i, j]
    else:
        m = None if mask is None else mask[idx]
        d = quotient_distance(
            action, z[idx][i], z[idx][j], None if m is None else m[i], None if m is None else m[j]
        )
    out = np.zeros((len(idx), len(idx)))
    out[i, j] = out[j, i] = d
    return out


# ---------------------------------------------------------------- cN / dN


def align_regular(action, z1, z2):
    """Best element by FFT cross-correlation over shifts (and the flipped copy for dN)."""
    n = action.order
    cands = [z2] if not action.reflections else [z2, transforms.act(action, z2, _full(z2, n))[0]]
    scores = np.stack([_shift_scores(z1, c, n) for c in cands], axis=1)  # [B, flips, N]
    best = scores.reshape(len(z1), -1).argmax(axis=1)
    m, k = best // n, best % n
    # r^k · (f^m · z2) is the element r^k f^m, with index m·N + k
    g = (m * n + k).astype(np.int64)
    moved = transforms.act(action, z2, g)[0]
    return np.linalg.norm((z1 - moved).reshape(len(z1), -1), axis=1), g


def _full(z, n):
    """The reflection f as an element index (N) for every row."""
    return np.full(len(z), n, dtype=np.int64)


def _shift_scores(z1, z2, n):
    """<z1, r^k·z2> for k = 0..N-1, where r^k shifts each block of N along the last axis by k."""
    b = len(z1)
    fields = int(np.prod(z1.shape[1:])) // n
    a = z1.reshape(b, fields, n)
    c = z2.reshape(b, fields, n)
    corr = np.fft.irfft(np.fft.rfft(a, axis=-1) * np.conj(np.fft.rfft(c, axis=-1)), n=n, axis=-1)
    return corr.sum(axis=1)


# ---------------------------------------------------------------- cN:grid / dN:grid


def align_grid(action, z1, z2, chunk_bytes: int = 1 << 24):
    """Brute force: ||z1 - g·z2|| for every element g, the smallest per row (in row chunks of
    about 16 MiB, since every turned copy is as large as the chunk)."""
    step = max(1, chunk_bytes // max(1, z1.itemsize * int(np.prod(z1.shape[1:]))))
    starts = range(0, max(len(z1), 1), step)
    parts = [_closest_element(action, z1[i : i + step], z2[i : i + step]) for i in starts]
    return np.concatenate([d for d, _ in parts]), np.concatenate([g for _, g in parts])


def _closest_element(action, z1, z2):
    """Distance to, and index of, the element g minimising ||z1 - g·z2|| per row."""
    dist = np.stack(
        [
            np.sqrt(((z1 - transforms.transform_grid(action, z2, e)) ** 2).sum(axis=(1, 2, 3, 4)))
            for e in transforms.elements(action)
        ],
        axis=1,
    )
    best = dist.argmin(axis=1)
    return dist[np.arange(len(z1)), best], best.astype(np.int64)


def _pairwise_grid(action, z):
    """min over g of ||z_i - g·z_j|| for all pairs, from one Gram matrix per element."""
    flat = z.reshape(len(z), -1)
    sq = np.einsum("ij,ij->i", flat, flat)
    best = np.full((len(z), len(z)), np.inf)
    for e in transforms.elements(action):
        moved = transforms.transform_grid(action, z, e).reshape(len(z), -1)
        d2 = sq[:, None] + np.einsum("ij,ij->i", moved, moved)[None, :] - 2 * flat @ moved.T
        best = np.minimum(best, d2)
    return np.sqrt(np.maximum(best, 0.0))


# ---------------------------------------------------------------- so2


def align_so2(freqs, z1, z2):
    """Maximise f(θ) = <z1, R(θ)·z2>: closed form for one frequency, else grid + Newton."""
    coef = _trig_coefficients(freqs, z1, z2)
    ks = sorted({k for k in freqs if k > 0})
    if not ks:
        theta = np.zeros(len(z1))
    elif len(ks) == 1:
        a, b = coef[ks[0]]
        theta = np.arctan2(b, a) / ks[0]
    else:
        theta = maximise_trig(coef, ks)
    moved = transforms.rotate_irreps(z2, theta, freqs)
    return np.linalg.norm(z1 - moved, axis=1), theta


def _trig_coefficients(freqs, z1, z2):
    """Per frequency k: (a_k, b_k) with <z1, R(θ)z2> = c + sum_k a_k cos kθ + b_k sin kθ."""
    coef: dict[int, list[np.ndarray]] = {}
    col = 0
    for k in freqs:
        if k == 0:
            col += 1
            continue
        x1, y1, x2, y2 = z1[:, col], z1[:, col + 1], z2[:, col], z2[:, col + 1]
        a, b = coef.setdefault(k, [0.0, 0.0])
        coef[k] = [a + x1 * x2 + y1 * y2, b + y1 * x2 - x1 * y2]
        col += 2
    return coef


def maximise_trig(coef, ks, starts: int = 3, newton_steps: int = 12, grid_max: bool = False):
    """Global max of f(θ) = sum_k a_k cos kθ + b_k sin kθ per row: a grid of 32·kmax angles,
    then Newton steps from the best ``starts`` grid points; returns the best θ (and, with
    ``grid_max``, the best value on the grid alone)."""
    grid = np.linspace(0.0, 2 * np.pi, 32 * max(ks), endpoint=False)
    on_grid = _trig(coef, ks, grid[None, :])
    top = np.argsort(-on_grid, axis=1)[:, :starts]
    theta = _newton(coef, ks, grid[top], grid[1], newton_steps)
    best = _trig(coef, ks, theta).argmax(axis=1)
    theta = np.take_along_axis(theta, best[:, None], axis=1)[:, 0]
    return (theta, on_grid.max(axis=1)) if grid_max else theta


def _trig(coef, ks, theta):
    """f(θ) for θ of shape (B, m)."""
    return sum(
        coef[k][0][:, None] * np.cos(k * theta) + coef[k][1][:, None] * np.sin(k * theta)
        for k in ks
    )


def _newton(coef, ks, theta, h, steps):
    """Newton ascent on f, each start kept within one grid step of where it began."""
    lo, hi = theta - h, theta + h
    for _ in range(steps):
        c = {k: (np.cos(k * theta), np.sin(k * theta)) for k in ks}
        d1 = sum(k * (coef[k][1][:, None] * c[k][0] - coef[k][0][:, None] * c[k][1]) for k in ks)
        d2 = sum(
            -k * k * (coef[k][0][:, None] * c[k][0] + coef[k][1][:, None] * c[k][1]) for k in ks
        )
        step = np.where(d2 < 0, -d1 / np.where(d2 < 0, d2, -1.0), 0.0)
        theta = np.clip(theta + step, lo, hi)
    return theta
