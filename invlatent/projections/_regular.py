"""Invariant projections for regular fields of cN / dN (z of shape (B, F, |G|)).

cN acts on each field by a cyclic shift; dN's index m·N + k holds r^k f^m, and a rotation shifts
both halves (m = 0, 1) of every field, so the rotation subgroup sees 2F cyclic fields. Spectral
dN invariants are the unordered pair {φ(z), φ(f·z)} of the cN invariants φ of z and of its
reflection, stored in the order of a fixed random linear key (complete; continuous except where
the two keys tie, a set of measure zero).
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import replace

import numpy as np

from invlatent import groups
from invlatent.projections._base import (
    Method,
    Params,
    flat,
    rowwise_matmul,
    template_rng,
)
from invlatent.projections._xp import asarray, constant, is_numpy, namespace, take, to_numpy


def pool_max(action, z, mask, p):
    """Max over the group axis per field (escnn GroupPooling): pairwise maxima of the group
    axis's slices, which runs near memory speed where a reduction over a short contiguous axis
    does not (and is exact, so every backend gives the same values)."""
    return functools.reduce(namespace(z).maximum, _slices(z)), {}


def pool_mean(action, z, mask, p):
    """Mean over the group axis per field (pairwise sums of the slices, in order)."""
    return functools.reduce(operator.add, _slices(z)) / z.shape[-1], {}


def _slices(z):
    return [z[..., k] for k in range(z.shape[-1])]


def power(action, z, mask, p):
    """Fourier amplitude per field and frequency (dN: min and max over the two halves)."""
    xp = namespace(z)
    if not action.reflections:
        return flat(_amplitude(_dft(z, action.order))), {}
    amp = _amplitude(_dft(_halves(z, action.order), action.order))  # (b, F, 2, N//2+1)
    pair = xp.stack([xp.min(amp, axis=2), xp.max(amp, axis=2)], axis=2)
    return flat(pair), {}


def bispectrum(action, z, mask, p):
    """Bispectrum of a reference field plus triple products coupling every field to it."""
    n = action.order
    if not action.reflections:
        return _cyclic_bispectrum(z, n), {}
    flipped = take(z, groups.regular_permutations(action)[n], axis=-1)
    phis = [_cyclic_bispectrum(_as_cyclic(x, n), n) for x in (z, flipped)]
    return _ordered_pair(phis, "bispectrum", p), {}


def _cyclic_bispectrum(z, n):
    """The amplitudes |X_f(k)| of the mean field r and of every field f (k = 0..N//2), then the
    triple products X_r(1) X_f(k) conj X_r(k+1) for f = r and every field, phase-normalised:
    divided by |X_r(1)| |X_r(k+1)|, so each has magnitude |X_f(k)| and the phase relative to the
    reference (degree 1). Per field: the real product at k = 0 (it is real), then the real and
    imaginary parts for k = 1..N//2.

    The amplitudes are implied by the products; they are stored so that a linear read-out gets
    them directly (docs/projections.md, "Complete invariants and linear probes")."""
    xp = namespace(z)
    x = _dft(z, n)  # (b, F, K, 2)
    b, f, k = x.shape[:3]
    ones = constant(np.full((1, f), 1.0 / f), z)
    xr = xp.matmul(ones, x.reshape(b, f, 2 * k)).reshape(b, k, 2)  # the mean field, row by row
    c = _reference_phases(xr, n)  # (b, K, 2)
    t = xp.matmul(z, _rotated_dft(c, n))  # (b, F, 2K−1): X_f(k)·c(k), one product per row
    tr = take(flat(_times(xr, c)), _products_kept(n), axis=1)
    return xp.concat([_amplitude(xr), flat(_amplitude(x)), tr, flat(t)], axis=1)


def _products_kept(n: int) -> np.ndarray:
    """Columns of the interleaved (re, im) products kept: all but the imaginary part at k = 0."""
    return np.delete(np.arange(2 * (n // 2 + 1)), 1)


def _times(a, b):
    """The product of complex numbers stored as (..., 2) real pairs."""
    xp = namespace(a, b)
    re = a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1]
    return xp.stack([re, a[..., 0] * b[..., 1] + a[..., 1] * b[..., 0]], axis=-1)


def _rotated_dft(c, n):
    """Per row the DFT matrix with frequency k multiplied by c(k), the columns kept: (b, N, 2K−1),
    so that a row's fields times it are X_f(k)·c(k). A linear map of c: numpy takes it in
    float64, where each entry is a sum of two products of float32 values, both exact, rounded
    once whatever the order or fusing, so its bytes do not depend on how BLAS blocks the rows."""
    xp = namespace(c)
    lin = _rotation_map(n)
    if is_numpy(c):
        m = (flat(c).astype(np.float64) @ lin.astype(np.float64)).astype(c.dtype)
    else:
        m = xp.matmul(flat(c), constant(lin, c))
    return m.reshape(c.shape[0], n, lin.shape[1] // n)


@functools.cache
def _rotation_map(n: int) -> np.ndarray:
    """(2K, N·(2K−1)): c (re, im per k) ↦ the DFT matrix's entries d(j, k)·c(k), kept columns;
    float32 values, so that their products with float32 phases are exact in float64."""
    k = n // 2 + 1
    d = _dft_matrix(n).reshape(n, k, 2)
    lin = np.zeros((k, 2, n, k, 2), dtype=np.float32)
    # c·d = (d_re c_re − d_im c_im, d_im c_re + d_re c_im) for each frequency f
    for f in range(k):
        lin[f, 0, :, f, 0], lin[f, 1, :, f, 0] = d[:, f, 0], -d[:, f, 1]
        lin[f, 0, :, f, 1], lin[f, 1, :, f, 1] = d[:, f, 1], d[:, f, 0]
    lin = lin.reshape(2 * k, n, 2 * k)[:, :, _products_kept(n)]
    return lin.reshape(2 * k, -1)


def _reference_phases(xr, n):
    """u(1)·conj u(k+1) for k = 0..N//2, u the phases of the mean field's spectrum (b, K, 2);
    u(j) for j > N//2 is conj u(N−j) (a real signal's spectrum)."""
    xp = namespace(xr)
    u = _unit(xr)
    j = (np.arange(n // 2 + 1) + 1) % n
    mirrored = j > n // 2
    v = take(u, np.where(mirrored, n - j, j), axis=1)  # u(k+1) up to conjugation
    sign = constant(np.where(mirrored, 1.0, -1.0), xr)  # conjugates u(k+1)
    a = take(u, [1 % n], axis=1)  # u(1), (b, 1, 2)
    re = a[..., 0] * v[..., 0] - a[..., 1] * v[..., 1] * sign
    im = a[..., 0] * v[..., 1] * sign + a[..., 1] * v[..., 0]
    return xp.stack([re, im], axis=-1)


def _dft(z, n):
    """The DFT over the last axis at frequencies 0..N//2 as real and imaginary parts (..., K, 2):
    a product with the DFT matrix, 10x faster than numpy's FFT of length 8. numpy multiplies
    row by row, each on one fixed shape, so a row's bytes do not depend on its chunk."""
    xp = namespace(z)
    rows = z.reshape(z.shape[0], math.prod(z.shape[1:-1]), n)
    y = xp.matmul(rows, constant(_dft_matrix(n), z))
    return y.reshape(*z.shape[:-1], n // 2 + 1, 2)


@functools.cache
def _dft_matrix(n: int) -> np.ndarray:
    """(N, 2K): columns cos and −sin of 2πjk/N for k = 0..N//2 interleaved (exact zeros)."""
    j, k = np.arange(n)[:, None], np.arange(n // 2 + 1)[None, :]
    angle = 2 * np.pi * ((j * k) % n) / n
    m = np.stack([np.cos(angle), -np.sin(angle)], axis=2).reshape(n, -1)
    return np.where(np.abs(m) < 1e-12, 0.0, m)


def _amplitude(x):
    """|x| of complex numbers stored as (..., 2) real pairs; the gradient at 0 is 0, as for the
    modulus of a complex tensor."""
    xp = namespace(x)
    sq = x * x
    s = sq[..., 0] + sq[..., 1]
    if is_numpy(s):
        return np.sqrt(s, out=s)
    positive = s > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, s, xp.ones_like(s))), xp.zeros_like(s))


def _unit(x):
    """x / |x| for complex numbers stored as (..., 2) real pairs (0 where x = 0): the phase."""
    xp = namespace(x)
    mag = _amplitude(x)[..., None]
    return x / xp.where(mag > 0, mag, xp.ones_like(mag))


def _ordered_pair(phis, name, p):
    """Stack two invariant vectors in the order of a fixed random linear key (seed-independent;
    the order is a discrete choice, taken on numpy copies)."""
    a, b = phis
    xp = namespace(a)
    v = template_rng(name + "-key", Params(p.shape), a.shape[1]).standard_normal(a.shape[1])
    first = rowwise_matmul(to_numpy(a), v) <= rowwise_matmul(to_numpy(b), v)
    first = asarray(first[:, None], a)
    return xp.concat([xp.where(first, a, b), xp.where(first, b, a)], axis=1)


def _halves(z, n):
    """(b, F, 2N) → (b, F, 2, N): the two cosets of the rotation subgroup."""
    return z.reshape(len(z), z.shape[1], 2, n)


def _as_cyclic(z, n):
    """(b, F, 2N) → (b, 2F, N): the fields seen by the rotation subgroup."""
    return z.reshape(len(z), z.shape[1] * z.shape[2] // n, n)


def canonical(action, z, mask, p):
    """Move each sample to the pose h maximising <v, h·z>, v the first harmonic (cos) template
    summed over fields (the phase of the summed first harmonic); stores h as ``canon``."""
    size = action.group_size
    perms = groups.regular_permutations(action)  # (h·s)[i] = s[P[h, i]]
    s = _field_sum(z).astype(np.float64)  # (b, |G|)
    v = np.zeros(size)
    v[: action.order] = np.cos(2 * np.pi * np.arange(action.order) / action.order)
    scores = np.zeros((size, size))  # <v, h·s> = sum_i s[P[h, i]] v[i] = (s @ scores)[h]
    np.add.at(scores, (perms, np.arange(size)[:, None]), v[None, :])
    h = rowwise_matmul(s, scores).argmax(axis=1).astype(np.int64)
    out = groups.act(action, z, h)[0]
    return flat(out), {"canon": h}


def _field_sum(z):
    """Sum over axis 1, (b, F, ...) → (b, ...), by halving: a fixed order per row, 5x numpy's
    reduction over a middle axis (numpy or torch)."""
    while z.shape[1] > 1:
        half = z.shape[1] // 2
        total = z[:, :half] + z[:, half : 2 * half]
        if z.shape[1] % 2:
            total[:, :1] += z[:, -1:]
        z = total
    return z[:, 0]


def random_linear(action, z, mask, p):
    """W · Reynolds(z), W seeded Gaussian (dim, F·|G|): rank at most F (the field means)."""
    f, size = z.shape[1], z.shape[2]
    dim = p.dim if p.dim is not None else f
    w = template_rng("random-linear", p, dim).standard_normal((dim, f, size))
    w_means = w.sum(axis=2) / np.sqrt(f * size)  # W acting on the broadcast field means
    return rowwise_matmul(z.mean(axis=-1), w_means.T.astype(np.float32)), {}


def orbit_values(action, z, p, name):
    """<w_i, h·z> for the seeded templates w_i and every group element h: (b, k, |G|)."""
    f, size = z.shape[1], z.shape[2]
    k = p.dim if p.dim is not None else f
    w = template_rng(name, p, k).standard_normal((k, f, size)) / np.sqrt(f * size)
    perms = groups.regular_permutations(action)
    inv = np.argsort(perms, axis=1)  # <w, h·z> = sum_j z[j] w[inv[h, j]]
    t = w[:, :, inv].transpose(0, 2, 1, 3).reshape(k * size, f * size)  # (k·|G|, F·|G|)
    vals = rowwise_matmul(flat(z), t.T.astype(np.float32))
    return vals.reshape(len(z), k, size)


def random_max(action, z, mask, p):
    """max over the orbit of <w_i, h·z> for ``dim`` seeded templates (Cahill et al.); by default
    2·F·|G| templates, the number that separates orbits (generic templates)."""
    if p.dim is None:
        p = replace(p, dim=2 * z.shape[1] * z.shape[2])
    return orbit_values(action, z, p, "random-max").max(axis=-1), {}


def random_sort(action, z, mask, p):
    """The sorted orbit values <w_i, h·z> of ``dim`` seeded templates."""
    vals = np.sort(orbit_values(action, z, p, "random-sort"), axis=-1)
    return flat(vals), {}


def raw(action, z, mask, p):
    """The raw latents, flattened (not invariant: a baseline)."""
    return flat(z), {}


METHODS = [
    Method("pool-max", "regular", pool_max, "max over the group axis per field", "F",
           differentiable=True),
    Method("pool-mean", "regular", pool_mean, "mean over the group axis per field", "F",
           convex="yes", differentiable=True),
    Method("power", "regular", power, "Fourier amplitude |X_f(ω)| per field (dN: min/max of "
           "the two halves)", "cN: F(N//2+1); dN: 2F(N//2+1)", differentiable=True),
    Method("bispectrum", "regular", bispectrum, "amplitudes + phase-normalised triple "
           "products coupling each field to the mean field",
           "cN: (F+1)(3(N//2)+2); dN: 2(2F+1)(3(N//2)+2)", injective="yes (generic)",
           differentiable=True),
    Method("canonical", "regular", canonical, "shift (and flip) to the pose maximising the "
           "summed first harmonic", "F·|G|", injective="yes", element="canon",
           cross_section=True),
    Method("random-linear", "regular", random_linear, "W·Reynolds(z), seeded Gaussian W",
           "dim (default F); rank ≤ F", convex="yes", random=True, dim_help="output size"),
    Method("random-max", "regular", random_max, "max over the orbit of <w_i, g·z>",
           "dim (default 2F|G|)", injective="yes (generic; dim ≥ 2F|G|, the default)",
           random=True, dim_help="number of templates"),
    Method("random-sort", "regular", random_sort, "sorted orbit values <w_i, g·z>",
           "dim·|G| (dim default F)", injective="yes for dim ≥ 2F|G| (generic)", random=True,
           dim_help="number of templates"),
    Method("raw", "regular", raw, "raw latents flattened (baseline, not invariant)", "F·|G|",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
