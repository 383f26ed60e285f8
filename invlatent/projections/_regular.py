"""Invariant projections for regular fields of cN / dN (z of shape (B, F, |G|)).

cN acts on each field by a cyclic shift; dN's index m·N + k holds r^k f^m, and a rotation shifts
both halves (m = 0, 1) of every field, so the rotation subgroup sees 2F cyclic fields. Spectral
dN invariants are the unordered pair {φ(z), φ(f·z)} of the cN invariants φ of z and of its
reflection, stored in the order of a fixed random linear key (complete; continuous except where
the two keys tie, a set of measure zero).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from invlatent import groups
from invlatent.projections._base import (
    Method,
    Params,
    complex_columns,
    flat,
    rowwise_matmul,
    template_rng,
)


def pool_max(action, z, mask, p):
    """Max over the group axis per field (escnn GroupPooling)."""
    return z.max(axis=-1), {}


def pool_mean(action, z, mask, p):
    """Mean over the group axis per field."""
    return z.mean(axis=-1), {}


def power(action, z, mask, p):
    """Fourier amplitude per field and frequency (dN: min and max over the two halves)."""
    if not action.reflections:
        return flat(np.abs(np.fft.rfft(z, axis=-1))), {}
    amp = np.abs(np.fft.rfft(_halves(z, action.order), axis=-1))  # (b, F, 2, N//2+1)
    pair = np.stack([amp.min(axis=2), amp.max(axis=2)], axis=2)
    return flat(pair), {}


def bispectrum(action, z, mask, p):
    """Bispectrum of a reference field plus triple products coupling every field to it."""
    n = action.order
    if not action.reflections:
        return _cyclic_bispectrum(z, n), {}
    flipped = groups.act(action, z, np.full(len(z), n, dtype=np.int64))[0]
    phis = [_cyclic_bispectrum(_as_cyclic(x, n), n) for x in (z, flipped)]
    return _ordered_pair(phis, "bispectrum", p), {}


def _cyclic_bispectrum(z, n):
    """The amplitudes |X_f(k)| of the mean field r and of every field f (k = 0..N//2), then the
    triple products X_r(1) X_f(k) conj X_r(k+1) for f = r and every field, phase-normalised:
    divided by |X_r(1)| |X_r(k+1)|, so each has magnitude |X_f(k)| and the phase relative to the
    reference (degree 1; the k = 0 products are real, so only their real part is kept).

    The amplitudes are implied by the products; they are stored so that a linear read-out gets
    them directly (docs/projections.md, "Complete invariants and linear probes")."""
    x = np.fft.fft(z, axis=-1)  # (b, F, N), complex64 for float32 z (numpy >= 2)
    xr = x.mean(axis=1)
    k = np.arange(n // 2 + 1)
    xk = np.concatenate([xr[:, None, k], x[:, :, k]], axis=1)  # (b, F+1, K)
    ur = _unit(xr)
    t = xk * (ur[:, 1:2] * np.conj(ur[:, (k + 1) % n]))[:, None, :]
    return np.concatenate([flat(np.abs(xk)), t[:, :, 0].real, complex_columns(t[:, :, 1:])], axis=1)


def _unit(x):
    """x / |x| elementwise (0 where x = 0): the phase alone."""
    mag = np.abs(x)
    return x / np.where(mag > 0, mag, 1).astype(mag.dtype)


def _ordered_pair(phis, name, p):
    """Stack two invariant vectors in the order of a fixed random linear key (seed-independent)."""
    a, b = phis
    v = template_rng(name + "-key", Params(p.shape), a.shape[1]).standard_normal(a.shape[1])
    first = (rowwise_matmul(a, v) <= rowwise_matmul(b, v))[:, None]
    return np.concatenate([np.where(first, a, b), np.where(first, b, a)], axis=1)


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
    s = z.astype(np.float64).sum(axis=1)  # (b, |G|)
    v = np.zeros(size)
    v[: action.order] = np.cos(2 * np.pi * np.arange(action.order) / action.order)
    scores = np.zeros((size, size))  # <v, h·s> = sum_i s[P[h, i]] v[i] = (s @ scores)[h]
    np.add.at(scores, (perms, np.arange(size)[:, None]), v[None, :])
    h = rowwise_matmul(s, scores).argmax(axis=1).astype(np.int64)
    out = groups.act(action, z, h)[0]
    return flat(out), {"canon": h}


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
    Method("pool-max", "regular", pool_max, "max over the group axis per field", "F"),
    Method("pool-mean", "regular", pool_mean, "mean over the group axis per field", "F",
           convex="yes"),
    Method("power", "regular", power, "Fourier amplitude |X_f(ω)| per field (dN: min/max of "
           "the two halves)", "cN: F(N//2+1); dN: 2F(N//2+1)"),
    Method("bispectrum", "regular", bispectrum, "amplitudes + phase-normalised triple "
           "products coupling each field to the mean field",
           "cN: (F+1)(3(N//2)+2); dN: 2(2F+1)(3(N//2)+2)", injective="yes (generic)"),
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
