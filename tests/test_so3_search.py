"""The search over SO(3) behind random-max and the O(3) quotient distances: f as a polynomial in
the quaternion, Newton on S³, and the starts; checked against Wigner-D and against many starts."""

import numpy as np
import pytest

from invlatent.groups import irreps, so3_search
from invlatent.groups.action import Action
from invlatent.groups.quotient_o3 import coefficients


def _problems(irreps_str, rng, n=40):
    """Coefficients M_l of ⟨z1, D(R)·z2⟩ for random pairs, per inversion sign."""
    action = Action.parse(f"o3:{irreps_str}")
    z1, z2 = rng.standard_normal((2, n, action.irreps.dim))
    return coefficients(action, z1, z2)


def _wigner_value(coef, q):
    R = irreps.quaternion_to_matrix(q)
    return sum(np.einsum("nij,nij->n", m, irreps.wigner_D(deg, R)) for deg, m in coef.items())


@pytest.mark.parametrize("irreps_str", ["2x0e+3x1o", "2x0e+2x1o+2x2e", "1x1o+1x2e+1x3o"])
def test_the_polynomial_is_the_wigner_sum(irreps_str, rng):
    coef = _problems(irreps_str, rng)[1]
    q = rng.standard_normal((40, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    a = so3_search.coefficients(coef)
    poly = np.einsum("nk,nk->n", a, so3_search.monomials(q, so3_search.degree(coef)))
    np.testing.assert_allclose(poly, _wigner_value(coef, q), atol=1e-10)


def test_quaternion_round_trip(rng):
    R = irreps.random_rotations(200, rng)
    np.testing.assert_allclose(irreps.quaternion_to_matrix(so3_search.quaternion(R)), R, atol=1e-12)


def test_maximise_finds_the_maximum_of_many_starts(rng):
    pairs = _problems("4x0e+4x1o+2x2e", rng, n=60)
    a = np.stack([so3_search.coefficients(c) for c in pairs.values()], axis=1)
    best, grid_best, q, variant = so3_search.maximise(a)
    grid = so3_search.fibonacci_grid(4096)
    brute = np.full(len(a), -np.inf)
    for v in range(a.shape[1]):  # Newton from the 12 best of 4,096 rotations
        top = np.argsort(-a[:, v] @ so3_search.monomials(grid, 4).T, axis=1)[:, :12]
        _, found = so3_search.newton(np.repeat(a[:, v], 12, axis=0), grid[top.ravel()])
        brute = np.maximum(brute, found.reshape(len(a), 12).max(axis=1))
    assert (best >= grid_best).all()
    np.testing.assert_allclose(best, brute, rtol=1e-9, atol=1e-9)
    at_q = np.einsum("nk,nk->n", a[np.arange(len(a)), variant], so3_search.monomials(q, 4))
    np.testing.assert_allclose(best, at_q, atol=1e-9)


def test_a_problem_does_not_depend_on_its_batch(rng):
    pairs = _problems("2x0e+2x1o+2x2e", rng, n=150)  # more than one BLAS block of rows
    a = np.stack([so3_search.coefficients(c) for c in pairs.values()], axis=1)
    whole = so3_search.maximise(a)
    for lo, hi in [(0, 1), (7, 70), (149, 150)]:
        part = so3_search.maximise(a[lo:hi])
        for x, y in zip(whole, part, strict=True):
            assert x[lo:hi].tobytes() == y.tobytes()


def test_grid_starts_lie_in_distinct_regions(rng):
    a = so3_search.coefficients(_problems("2x1o+2x2e", rng)[1])
    q = so3_search.grid_starts(a, 3)
    cos = np.abs(np.einsum("nki,nji->nkj", q, q))
    off = cos[:, ~np.eye(3, dtype=bool)]
    assert (off < np.cos(so3_search.SEPARATION)).all()
