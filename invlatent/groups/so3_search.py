"""Maximise f(Q) = Σ_l ⟨M_l, D^l(Q)⟩ over SO(3), many problems at once, through quaternions.

With Q = R(q) for a unit quaternion q, D^l(Q) is a homogeneous polynomial of degree 2l in q, so
f is one homogeneous polynomial of degree d = 2·lmax on the sphere S³ (times |q|^(d−2l) for the
lower degrees): K = C(d+3, 3) = Σ_{l ≤ lmax} (2l+1)² coefficients a per problem (35 for
lmax = 2). Values on a grid are then one matrix product, and Newton's method on S³ needs only
the 4×4 Hessian H(q), linear in the degree-(d−2) monomials: the gradient is H·q/(d−1) and the
value q·H·q/(d(d−1)) (Euler's identity for homogeneous functions).

Every problem is solved on its own (elementwise work, and BLAS products in calls of a fixed
number of rows): a row's result never depends on the other rows of the batch.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from invlatent.groups import irreps
from invlatent.groups.rowwise import matmul_rows

GRID = 1024  # super-Fibonacci quaternions: the starts of ``maximise``
STARTS = 3  # at most, per problem and variant: the best grid points of distinct regions
SEPARATION = 0.4  # radians on S³: the grid points this close to a start are its region
MARGIN = 0.1  # a start must be within MARGIN·|best − mean| of the grid's best
BLOCK = 2048  # problems per block of ``maximise`` (bounds the grid values' memory)
STEPS = 25
TOL = 1e-7  # Newton stops once |gradient| <= TOL·|a|: the value is then exact to ~TOL²
MAX_STEP = 0.3  # on S³, radians (a rotation of up to 0.6)
PAIRS = [(i, j) for i in range(4) for j in range(i, 4)]
_TRACE_SIGNS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64)
_UPPER3 = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
_SYMMETRIC = np.array([PAIRS.index((min(i, j), max(i, j))) for i in range(4) for j in range(4)])
# q·e for e = 1, i, j, k, as columns: entry (r, c) = sign · q[index]
_LEFT_INDEX = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]]).ravel()
_LEFT_SIGN = np.array([[1, -1, -1, -1], [1, 1, -1, 1], [1, 1, 1, -1], [1, -1, 1, 1]]).ravel()


def coefficients(coef: dict[int, np.ndarray]) -> np.ndarray:
    """a (N, K): f(R(q)) = a · monomials(q, d) for the M_l (N, 2l+1, 2l+1) of ``coef``."""
    d = degree(coef)
    parts = [m.reshape(len(m), -1) for m in coef.values()]
    lifts = [_lift(l, d) for l in coef]
    return matmul_rows(np.concatenate(parts, axis=1), np.concatenate(lifts, axis=0))


def degree(coef: dict[int, np.ndarray]) -> int:
    """d = 2·lmax (at least 2): the degree of f as a polynomial in q."""
    return 2 * max(max(coef, default=1), 1)


def one_blas_thread(fn):
    """Run ``fn`` with BLAS on one thread: its products are small, so threads only add waiting
    (tenfold on a busy machine), and a row's bytes never depend on the thread count."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return run


@one_blas_thread
def maximise(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """max of f over SO(3) and over V variants (inversion signs) for a (N, V, K): per problem the
    value found, the grid's best value, the maximiser q (N, 4) and its variant (N,). Newton runs
    from the best grid points of up to ``STARTS`` distinct regions per variant, those within
    ``MARGIN`` of the best."""
    n = len(a)
    out = [np.empty(n), np.empty(n), np.empty((n, 4)), np.empty(n, dtype=np.int64)]
    for lo in range(0, n, BLOCK):
        for whole, part in zip(out, _maximise_block(a[lo : lo + BLOCK]), strict=True):
            whole[lo : lo + len(part)] = part
    return out[0], out[1], out[2], out[3]


def _maximise_block(a: np.ndarray):
    """``maximise`` on one block of problems."""
    n, v, k = a.shape
    r, d, grid = np.arange(n), _degree_of(a[0]), fibonacci_grid(GRID)
    monos = _grid_monomials(d)
    found = [_starts(matmul_rows(a[:, u], monos, np.float32), STARTS) for u in range(v)]
    var = np.stack([values[:n] for _, _, values in found]).argmax(axis=0)  # round 0: the best
    col = np.stack([cols[:n] for _, cols, _ in found])[var, r]
    top = _value_at(a[r, var], grid[col], d)
    floor = top - MARGIN * np.abs(top - _dot(a[r, var], _sphere_means(d)))
    rows, variants, cols = _kept_starts(found, floor)
    q, val = newton(a[rows, variants], grid[cols])
    best = np.full(n, -np.inf)
    np.maximum.at(best, rows, val)
    first = np.flatnonzero(val == best[rows])
    first = first[np.unique(rows[first], return_index=True)[1]]
    return best, top, q[first], variants[first]


def _kept_starts(found: list, floor: np.ndarray):
    """(problem, variant, grid column) of the starts of every variant (``found``: its
    ``_starts``) whose grid value reaches ``floor``."""
    parts = []
    for u, (rows, cols, values) in enumerate(found):
        keep = values >= floor[rows]
        parts.append((rows[keep], np.full(keep.sum(), u), cols[keep]))
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


def grid_starts(a: np.ndarray, count: int) -> np.ndarray:
    """The best grid quaternions of ``count`` distinct regions per problem: (N, count, 4)."""
    vals = matmul_rows(a, _grid_monomials(_degree_of(a)), np.float32)
    cols = _starts(vals, count)[1].reshape(count, len(a))
    return fibonacci_grid(GRID)[cols.T]


def _starts(vals: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(problem, grid column, value) of ``count`` starts per problem, in rounds: the best grid
    value, then the best outside the regions already taken (``vals`` (N, GRID) is overwritten)."""
    r = np.arange(len(vals))
    cols, values = [], []
    for j in range(count):
        cols.append(vals.argmax(axis=1))
        values.append(vals[r, cols[-1]])
        if j + 1 < count:
            vals[r[:, None], _regions()[cols[-1]]] = -np.inf
    return np.tile(r, count), np.concatenate(cols), np.concatenate(values)


@one_blas_thread
def newton(a: np.ndarray, q: np.ndarray, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Maximise f from the unit quaternions q (N, 4) by damped Newton on S³; each problem stops
    once its gradient vanishes. Returns (q, f(q))."""
    d = _degree_of(a)
    hmap = matmul_rows(a, _hessian_map(d)).reshape(len(a), len(PAIRS), -1)
    q = np.array(q, dtype=np.float64)
    frame, val = _frame(hmap, q, d)
    ids = np.arange(len(q))  # the problems still moving, and their state:
    work = [hmap, q, frame, val, np.full(len(q), 1e-3), np.abs(a).sum(axis=1)]
    for _ in range(steps):
        hm, qq, fr, vv, mu, scale = work
        grad = fr[:, 1:, 0] / (d - 1)
        moving = _dot(grad, grad) > (TOL * scale) ** 2
        q[ids], val[ids] = qq, vv
        if not moving.all():
            ids, work = ids[moving], [x[moving] for x in work]
            hm, qq, fr, vv, mu, scale = work
            grad = grad[moving]
        if not len(ids):
            break
        step = _damped_step(fr, d * vv, grad, mu * scale)
        q_new = qq + _dot(_left(qq)[:, :, 1:], step[:, None, :])
        q_new /= np.sqrt(_dot(q_new, q_new))[:, None]
        fr_new, new = _frame(hm, q_new, d)
        ok = new >= vv
        qq[ok], fr[ok], vv[ok] = q_new[ok], fr_new[ok], new[ok]
        work[4] = np.clip(np.where(ok, mu / 3, mu * 8), 1e-9, 1e6)
    q[ids], val[ids] = work[1], work[3]
    return q, val


def quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternions (N, 4) = (w, x, y, z) of rotations R (N, 3, 3) (either sign)."""
    m = 1 + _dot(np.diagonal(R, axis1=1, axis2=2)[:, None, :], _TRACE_SIGNS)  # 4·q_k²
    big = m.argmax(axis=1)
    off = {
        (0, 1): R[:, 2, 1] - R[:, 1, 2], (0, 2): R[:, 0, 2] - R[:, 2, 0],
        (0, 3): R[:, 1, 0] - R[:, 0, 1], (1, 2): R[:, 0, 1] + R[:, 1, 0],
        (1, 3): R[:, 0, 2] + R[:, 2, 0], (2, 3): R[:, 1, 2] + R[:, 2, 1],
    }  # fmt: skip
    q = np.empty((len(R), 4))
    for k in range(4):
        rows = big == k
        q[rows, k] = m[rows, k]
        for j in range(4):
            if j != k:
                q[rows, j] = off[(min(j, k), max(j, k))][rows]
    return q / np.sqrt(_dot(q, q))[:, None]


@functools.cache
def fibonacci_grid(n: int) -> np.ndarray:
    """n well-spread unit quaternions (n, 4): the super-Fibonacci spiral (Alexa, CVPR 2022)."""
    s = np.arange(n) + 0.5
    r, t = np.sqrt(s / n), np.sqrt(1 - s / n)
    alpha, beta = 2 * np.pi * s / np.sqrt(2), 2 * np.pi * s / 1.533751168755204288118041
    q = np.stack([r * np.sin(alpha), r * np.cos(alpha), t * np.sin(beta), t * np.cos(beta)], 1)
    q.flags.writeable = False
    return q


@functools.cache
def _grid_monomials(d: int) -> np.ndarray:
    """monomials of degree d of the ``GRID`` quaternions, transposed: (K, GRID) float32."""
    return monomials(fibonacci_grid(GRID), d).T.astype(np.float32)


@functools.cache
def _regions() -> np.ndarray:
    """(GRID, m): per grid rotation, those within ``SEPARATION`` of it (padded with itself)."""
    grid = fibonacci_grid(GRID)
    near = np.abs(grid @ grid.T) > np.cos(SEPARATION)
    out = np.repeat(np.arange(GRID)[:, None], near.sum(axis=1).max(), axis=1)
    for i, row in enumerate(near):
        out[i, : row.sum()] = np.flatnonzero(row)
    return out


@functools.cache
def _sphere_means(d: int) -> np.ndarray:
    """The mean of every monomial of degree d over the uniform S³ (K,): a · it = f's mean."""
    e = _exponents(d)
    odd = (e % 2).any(axis=1)
    num = np.prod([[math.prod(range(1, int(x), 2)) for x in row] for row in e], axis=1)
    den = math.prod(range(4, 4 + d, 2))
    return np.where(odd, 0.0, num / den)


def _value_at(a: np.ndarray, q: np.ndarray, d: int) -> np.ndarray:
    """f(q) per problem, in float64."""
    return _dot(a, monomials(q, d))


# ---------------------------------------------------------------- Newton's pieces


def _frame(hmap: np.ndarray, q: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Lᵀ·H·L (N, 4, 4) with H f's Euclidean Hessian at q and L = [q, i·q, j·q, k·q] an
    orthonormal frame: its [0, 0] entry is d(d−1)·f, [1:, 0] (d−1)·the gradient on S³ and
    [1:, 1:] the tangent block of H. Returns it and f(q)."""
    flat = _dot(hmap, monomials(q, d - 2)[:, None, :])
    h = flat[:, _SYMMETRIC].reshape(len(q), 4, 4)
    left = _left(q)
    tl = np.swapaxes(left, 1, 2)
    hl = _dot(h[:, :, None, :], tl[:, None, :, :])  # H·L
    frame = _dot(tl[:, :, None, :], np.swapaxes(hl, 1, 2)[:, None, :, :])  # Lᵀ·H·L
    return frame, frame[:, 0, 0] / (d * (d - 1))


def _left(q: np.ndarray) -> np.ndarray:
    """L(q) (N, 4, 4): the orthogonal matrix of p ↦ q·p; columns q, q·i, q·j, q·k."""
    return (q[:, _LEFT_INDEX] * _LEFT_SIGN).reshape(len(q), 4, 4)


def _damped_step(frame, dval, grad, damping):
    """The step (N, 3) solving (shift·I − H) s = g on S³ (H = frame[1:, 1:] − d·f·I), shifted so
    that the matrix is positive definite (Levenberg–Marquardt), its length capped at
    ``MAX_STEP``. Symmetric 3×3 matrices are kept as their 6 entries (00 01 02 11 12 22)."""
    a = [(dval if i == j else 0.0) - frame[:, 1 + i, 1 + j] for i, j in _UPPER3]
    shift = np.maximum(0.0, -_min_eigenvalue(a)) + damping
    a[0], a[3], a[5] = a[0] + shift, a[3] + shift, a[5] + shift
    step = _solve(a, grad)
    norm = np.sqrt(_dot(step, step))[:, None]
    return step * np.minimum(1.0, MAX_STEP / np.maximum(norm, 1e-300))


def _solve(a: list, g: np.ndarray) -> np.ndarray:
    """A⁻¹·g (N, 3) for symmetric A given by its 6 entries, by cofactors."""
    a00, a01, a02, a11, a12, a22 = a
    c00, c01, c02 = a11 * a22 - a12 * a12, a02 * a12 - a01 * a22, a01 * a12 - a02 * a11
    c11, c12, c22 = a00 * a22 - a02 * a02, a01 * a02 - a00 * a12, a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    g0, g1, g2 = g[:, 0] / det, g[:, 1] / det, g[:, 2] / det
    return np.stack([c00 * g0 + c01 * g1 + c02 * g2, c01 * g0 + c11 * g1 + c12 * g2,
                     c02 * g0 + c12 * g1 + c22 * g2], axis=1)  # fmt: skip


def _min_eigenvalue(a: list) -> np.ndarray:
    """The smallest eigenvalue of symmetric 3×3 matrices given by their 6 entries (closed form,
    the trigonometric solution of the characteristic cubic)."""
    a00, a01, a02, a11, a12, a22 = a
    q = (a00 + a11 + a22) / 3
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    p = np.sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2 * (a01 * a01 + a02 * a02 + a12 * a12)) / 6)
    det = (
        b00 * (b11 * b22 - a12 * a12)
        - a01 * (a01 * b22 - a12 * a02)
        + a02 * (a01 * a12 - b11 * a02)
    )
    r = np.clip(det / (2 * np.where(p > 0, p, 1.0) ** 3), -1, 1)
    return q + 2 * p * np.cos(np.arccos(r) / 3 + 2 * np.pi / 3)


# ---------------------------------------------------------------- polynomials in q


def monomials(q: np.ndarray, d: int) -> np.ndarray:
    """All monomials of degree d of q (N, 4), in ``_exponents(d)``'s order: (N, K)."""
    m = np.ones((len(q), 1))
    for k in range(1, d + 1):
        parent, var = _ladder(k)
        m = m[:, parent] * q[:, var]
    return m


@functools.cache
def _exponents(d: int) -> np.ndarray:
    """The exponents (K, 4) of the monomials of degree d, in lexicographic order."""
    rows = [e for e in itertools.product(range(d + 1), repeat=4) if sum(e) == d]
    return np.array(sorted(rows, reverse=True), dtype=np.int64)


@functools.cache
def _ladder(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Per monomial of degree d: its parent of degree d−1 and the variable that multiplies it."""
    index = {tuple(e): i for i, e in enumerate(_exponents(d - 1))}
    exps = _exponents(d)
    var = (exps > 0).argmax(axis=1)
    parent = [
        index[tuple(e - np.eye(4, dtype=np.int64)[v])] for e, v in zip(exps, var, strict=True)
    ]
    return np.array(parent), var


@functools.cache
def _lift(l: int, d: int) -> np.ndarray:
    """C ((2l+1)², K): D^l(R(q)) flattened = C · monomials(q, d) on unit quaternions (fitted
    exactly: both sides are polynomials of degree d on S³)."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((4 * len(_exponents(d)), 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    target = irreps.wigner_D(l, irreps.quaternion_to_matrix(q)).reshape(len(q), -1)
    return np.linalg.lstsq(monomials(q, d), target, rcond=None)[0].T


@functools.cache
def _hessian_map(d: int) -> np.ndarray:
    """(K_d, 10·K_{d−2}): the Hessian entries (i ≤ j) of a·monomials(q, d) are
    (a @ map) · monomials(q, d−2)."""
    lower = {tuple(e): i for i, e in enumerate(_exponents(d - 2))}
    out = np.zeros((len(_exponents(d)), len(PAIRS), len(lower)))
    for a, e in enumerate(_exponents(d)):
        for k, (i, j) in enumerate(PAIRS):
            f = e.copy()
            factor = f[i]
            f[i] -= 1
            factor *= f[j]
            f[j] -= 1
            if factor:
                out[a, k, lower[tuple(f)]] = factor
    return out.reshape(len(out), -1)


def _degree_of(a: np.ndarray) -> int:
    """The degree d whose monomial count is a's width."""
    d = 2
    while len(_exponents(d)) < a.shape[1]:
        d += 2
    return d


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Σ_i x[..., i]·y[..., i] (broadcast) in a fixed order, by elementwise operations only:
    numpy's einsum and matmul may pick their order of summation by the arrays' size and memory
    alignment, and a problem's bits must never depend on its batch."""
    out = x[..., 0] * y[..., 0]
    for i in range(1, x.shape[-1]):
        out = out + x[..., i] * y[..., i]
    return out
