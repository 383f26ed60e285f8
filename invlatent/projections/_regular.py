"""Invariant projections for regular fields of cN / dN (z of shape (B, F, |G|)).

cN acts on each field by a cyclic shift; dN's index m·N + k holds r^k f^m, and a rotation shifts
both halves (m = 0, 1) of every field, so the rotation subgroup sees 2F cyclic fields. Spectral
dN invariants are the unordered pair {φ(z), φ(f·z)} of the cN invariants φ of z and of its
reflection, stored in the order of a fixed random linear key (complete; continuous except where
the two keys tie, a set of measure zero).
"""

from __future__ import annotations

import numpy as np

from invlatent import groups
from invlatent.projections._base import (
    Method,
    Params,
    complex_columns,
    flat,
    root_normalise,
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
    if action.kind == "cyclic":
        return flat(np.abs(np.fft.rfft(z, axis=-1))), {}
    amp = np.abs(np.fft.rfft(_halves(z, action.order), axis=-1))  # (b, F, 2, N//2+1)
    pair = np.stack([amp.min(axis=2), amp.max(axis=2)], axis=2)
    return flat(pair), {}


def bispectrum(action, z, mask, p):
    """Bispectrum of a reference field plus triple products coupling every field to it."""
    n = action.order
    if action.kind == "cyclic":
        return _cyclic_bispectrum(z, n), {}
    flipped = groups.act(action, z, np.full(len(z), n, dtype=np.int64))[0]
    phis = [_cyclic_bispectrum(_as_cyclic(x, n), n) for x in (z, flipped)]
    return _ordered_pair(phis, "bispectrum", p), {}


def _cyclic_bispectrum(z, n):
    """For the mean field r: B_r(1, k) = X_r(1) X_r(k) conj X_r(k+1), k = 0..N//2, and for
    every field f: X_r(1) X_f(k) conj X_r(k+1) (degree 3, cube-root normalised; the k = 0
    terms are real, so only their real part is kept)."""
    x = np.fft.fft(z, axis=-1)  # (b, F, N), complex64 for float32 z (numpy >= 2)
    xr = x.mean(axis=1)
    k = np.arange(n // 2 + 1)
    lead = xr[:, 1:2] * np.conj(xr[:, (k + 1) % n])  # (b, K)
    terms = np.concatenate([xr[:, None, k], x[:, :, k]], axis=1) * lead[:, None, :]
    t = root_normalise(terms, 3)  # at k = 0 both products are real: keep only the real part
    return np.concatenate([t[:, :, 0].real, complex_columns(t[:, :, 1:])], axis=1)


def _ordered_pair(phis, name, p):
    """Stack two invariant vectors in the order of a fixed random linear key (seed-independent)."""
    a, b = phis
    v = template_rng(name + "-key", Params(p.shape), a.shape[1]).standard_normal(a.shape[1])
    first = (a @ v <= b @ v)[:, None]
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
    h = (s[:, perms] @ v).argmax(axis=1).astype(np.int64)
    out = groups.act(action, z, h)[0]
    return flat(out), {"canon": h}


def random_linear(action, z, mask, p):
    """W · Reynolds(z), W seeded Gaussian (dim, F·|G|): rank at most F (the field means)."""
    f, size = z.shape[1], z.shape[2]
    dim = p.dim if p.dim is not None else f
    w = template_rng("random-linear", p, dim).standard_normal((dim, f, size))
    w_means = w.sum(axis=2) / np.sqrt(f * size)  # W acting on the broadcast field means
    return z.mean(axis=-1) @ w_means.T.astype(np.float32), {}


def orbit_values(action, z, p, name):
    """<w_i, h·z> for the seeded templates w_i and every group element h: (b, k, |G|)."""
    f, size = z.shape[1], z.shape[2]
    k = p.dim if p.dim is not None else f
    w = template_rng(name, p, k).standard_normal((k, f, size)) / np.sqrt(f * size)
    perms = groups.regular_permutations(action)
    inv = np.argsort(perms, axis=1)  # <w, h·z> = sum_j z[j] w[inv[h, j]]
    t = w[:, :, inv].transpose(0, 2, 1, 3).reshape(k * size, f * size)  # (k·|G|, F·|G|)
    vals = flat(z) @ t.T.astype(np.float32)
    return vals.reshape(len(z), k, size)


def random_max(action, z, mask, p):
    """max over the orbit of <w_i, h·z> for ``dim`` seeded templates (Cahill et al.)."""
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
    Method("bispectrum", "regular", bispectrum, "bispectrum of the mean field + triple "
           "products coupling each field to it (cube-root normalised)",
           "cN: (F+1)(2(N//2)+1); dN: 2(2F+1)(2(N//2)+1)", injective="yes (generic)"),
    Method("canonical", "regular", canonical, "shift (and flip) to the pose maximising the "
           "summed first harmonic", "F·|G|", injective="yes", element="canon",
           cross_section=True),
    Method("random-linear", "regular", random_linear, "W·Reynolds(z), seeded Gaussian W",
           "dim (default F); rank ≤ F", convex="yes", random=True, dim_help="output size"),
    Method("random-max", "regular", random_max, "max over the orbit of <w_i, g·z>",
           "dim (default F)", injective="yes for dim ≥ 2F|G| (generic)", random=True,
           dim_help="number of templates"),
    Method("random-sort", "regular", random_sort, "sorted orbit values <w_i, g·z>",
           "dim·|G| (dim default F)", injective="yes for dim ≥ 2F|G| (generic)", random=True,
           dim_help="number of templates"),
    Method("raw", "regular", raw, "raw latents flattened (baseline, not invariant)", "F·|G|",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
