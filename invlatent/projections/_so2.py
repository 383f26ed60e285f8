"""Invariant projections for SO(2) irreps (action ``so2:f1,f2,...``, z of shape (B, D)).

An irrep of frequency k ≥ 1 is a 2-vector, read as the complex number c = x + iy, which a
rotation by θ multiplies by e^{ikθ}; frequency-0 entries are invariant and kept as they are.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from invlatent import groups
from invlatent.groups.quotient import maximise_trig
from invlatent.projections._base import Method, complex_columns, flat, root_normalise, template_rng
from invlatent.projections._xp import namespace


def _split(freqs, z):
    """Invariant frequency-0 columns (b, z0), complex irreps (b, m) and their frequencies (m,)."""
    cols = np.cumsum([0] + [1 if k == 0 else 2 for k in freqs])[:-1]
    zero = [c for c, k in zip(cols, freqs, strict=True) if k == 0]
    pairs = np.array([c for c, k in zip(cols, freqs, strict=True) if k > 0], dtype=np.intp)
    z = z.astype(np.float64)
    c = z[:, pairs] + 1j * z[:, pairs + 1] if len(pairs) else np.zeros((len(z), 0), complex)
    return z[:, zero], c, np.array([k for k in freqs if k > 0], dtype=np.int64)


def norm(action, z, mask, p):
    """Per irrep: the value (frequency 0) or the norm of the 2-vector."""
    xp = namespace(z)
    cols = []
    col = 0
    for k in action.freqs:
        cols.append(z[:, col] if k == 0 else xp.hypot(z[:, col], z[:, col + 1]))
        col += 1 if k == 0 else 2
    return xp.stack(cols, axis=1), {}


def power(action, z, mask, p):
    """Frequency-0 values, and per frequency all products c_a·conj(c_b), a ≤ b (root-normalised)."""
    zero, c, ks = _split(action.freqs, z)
    parts = [zero]
    for k in np.unique(ks):
        ck = c[:, ks == k]
        a, b = np.triu_indices(ck.shape[1], k=1)
        parts += [np.abs(ck), complex_columns(root_normalise(ck[:, a] * np.conj(ck[:, b]), 2))]
    return np.concatenate(parts, axis=1), {}


def bispectrum(action, z, mask, p):
    """Frequency-0 values, norms |c_a|, and relative phases c_a^(r/g)·conj(ref)^(k_a/g) against
    the summed lowest-frequency irreps (frequency r; g = gcd), root-normalised to degree 1."""
    zero, c, ks = _split(action.freqs, z)
    if not len(ks):
        return zero, {}
    r = int(ks.min())
    ref = c[:, ks == r].sum(axis=1)
    g = np.array([gcd(int(k), r) for k in ks])
    t = c ** (r // g) * np.conj(ref)[:, None] ** (ks // g)
    rel = root_normalise(t, (r + ks) // g)
    return np.concatenate([zero, np.abs(c), complex_columns(rel)], axis=1), {}


def canonical(action, z, mask, p):
    """Rotate so the summed lowest-frequency irreps have phase 0 (the remaining choice among
    r rotations goes to the largest summed real part); stores the angle as ``canon``."""
    zero, c, ks = _split(action.freqs, z)
    if not len(ks):
        return flat(z), {"canon": np.zeros(len(z))}
    r = int(ks.min())
    base = -np.angle(c[:, ks == r].sum(axis=1)) / r
    cands = base[:, None] + 2 * np.pi * np.arange(r)[None, :] / r  # (b, r)
    score = (np.exp(1j * ks[None, None, :] * cands[:, :, None]) * c[:, None, :]).real.sum(-1)
    theta = np.take_along_axis(cands, score.argmax(axis=1)[:, None], axis=1)[:, 0]
    return groups.rotate_irreps(z, theta, action.freqs), {"canon": theta}


def random_max(action, z, mask, p):
    """max over θ of <w_i, R(θ)·z> for ``dim`` seeded templates: grid of 32·kmax angles, then
    Newton refinement; ``grid_error`` holds, per row, how much the refinement added to the best
    grid value (the error a grid alone would make), relative to the output's norm."""
    k = p.dim if p.dim is not None else z.shape[1]
    w = template_rng("random-max", p, k).standard_normal((k, z.shape[1])) / np.sqrt(z.shape[1])
    const, coef = _template_coefficients(action.freqs, z.astype(np.float64), w)
    if not coef:
        return const, {"grid_error": np.zeros(len(z), dtype=np.float32)}
    rows = {q: (a.reshape(-1), b.reshape(-1)) for q, (a, b) in coef.items()}
    theta, grid = maximise_trig(rows, sorted(coef), grid_max=True)
    theta = theta.reshape(const.shape)
    val = const + sum(a * np.cos(q * theta) + b * np.sin(q * theta) for q, (a, b) in coef.items())
    gain = np.abs(val - const - grid.reshape(const.shape)).max(axis=1)
    scale = np.maximum(np.linalg.norm(val, axis=1), 1e-30)
    return val, {"grid_error": (gain / scale).astype(np.float32)}


def _template_coefficients(freqs, z, w):
    """<w_i, R(θ) z> = const + sum_q a_q cos qθ + b_q sin qθ, each term of shape (b, k)."""
    const = np.zeros((len(z), len(w)))
    coef: dict[int, tuple] = {}
    col = 0
    for q in freqs:
        if q == 0:
            const += z[:, col : col + 1] * w[None, :, col]
            col += 1
            continue
        x, y, wx, wy = z[:, col : col + 1], z[:, col + 1 : col + 2], w[:, col], w[:, col + 1]
        a, b = coef.get(q, (0.0, 0.0))
        coef[q] = (a + x * wx + y * wy, b + x * wy - y * wx)
        col += 2
    return const, coef


def raw(action, z, mask, p):
    """The raw latents (not invariant: a baseline)."""
    return flat(z), {}


METHODS = [
    Method("norm", "so2", norm, "per irrep: value (frequency 0) or norm", "#irreps",
           differentiable=True),
    Method("power", "so2", power, "products c_a·conj(c_b) within each frequency",
           "z0 + sum_k m_k + m_k(m_k-1)", injective="no (loses phases across frequencies)"),
    Method("bispectrum", "so2", bispectrum, "norms + relative phases of every irrep against "
           "the summed lowest-frequency irreps", "z0 + 3m",
           injective="yes (generic, when a frequency-1 irrep is present)"),
    Method("canonical", "so2", canonical, "rotate so the reference irrep has phase 0", "D",
           injective="yes", element="canon", cross_section=True),
    Method("random-max", "so2", random_max,
           "max over θ of <w_i, R(θ)·z> (grid + Newton; stores grid_error)",
           "dim (default D)", random=True, dim_help="number of templates"),
    Method("raw", "so2", raw, "raw latents (baseline, not invariant)", "D",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
