"""Quotient distances for O(3)/SO(3) irreps: exact for l <= 1, upper bounds otherwise, checked by
brute force on small cases."""

import itertools

import numpy as np
import pytest

from invlatent import groups
from invlatent.groups import quotient_o3
from invlatent.groups.action import Action
from invlatent.groups.irreps import random_rotations, rotate
from invlatent.groups.quotient import pairwise, quotient_distance


def _brute_rotation(irreps, z1, z2, signs, starts=200):
    """min over R of ||z1 - R·z2|| per row by Newton from many random rotations."""
    a = Action.parse(f"o3:{irreps}")
    best = np.full(len(z1), np.inf)
    rng = np.random.default_rng(99)
    for s in signs:
        coef = quotient_o3.coefficients(a, z1, z2, signs=(s,))[s]
        flat = {l: np.repeat(m, starts, axis=0) for l, m in coef.items()}
        Q = random_rotations(len(z1) * starts, rng)
        Q, _ = quotient_o3.newton(flat, Q, steps=40)
        moved = rotate(irreps, np.repeat(z2, starts, axis=0), s * Q)
        d = np.linalg.norm(np.repeat(z1, starts, axis=0) - moved, axis=1).reshape(len(z1), starts)
        best = np.minimum(best, d.min(axis=1))
    return best


@pytest.mark.parametrize("kind", ["o3", "so3"])
@pytest.mark.parametrize("irreps", ["3x1o", "2x0e+1x0o+2x1o+2x1e"])
def test_blocks_up_to_l1_are_exact(kind, irreps, rng):
    action = Action.parse(f"{kind}:{irreps}")
    assert quotient_o3.method(action).startswith("exact")
    z1, z2 = rng.standard_normal((2, 12, action.irreps.dim))
    d, R = quotient_o3.align(action, z1, z2)
    np.testing.assert_allclose(d, np.linalg.norm(z1 - rotate(irreps, z2, R), axis=1), atol=1e-12)
    signs = (1, -1) if kind == "o3" else (1,)
    np.testing.assert_allclose(d, _brute_rotation(irreps, z1, z2, signs), atol=1e-7)
    assert (kind == "o3") or np.allclose(np.linalg.det(R), 1)


def test_higher_l_is_an_upper_bound_that_matches_brute_force(rng):
    irreps = "2x0e+2x1o+2x2e+1x3o"
    action = Action.parse(f"o3:{irreps}")
    assert quotient_o3.method(action).startswith("upper bound")
    z1, z2 = rng.standard_normal((2, 10, action.irreps.dim))
    d, R = quotient_o3.align(action, z1, z2)
    np.testing.assert_allclose(d, np.linalg.norm(z1 - rotate(irreps, z2, R), axis=1), atol=1e-12)
    brute = _brute_rotation(irreps, z1, z2, (1, -1))
    assert (d >= brute - 1e-9).all()  # a distance to a real element: never below the minimum
    assert (d <= brute + 1e-6).mean() >= 0.9


@pytest.mark.parametrize(
    "group", ["o3:4x0e+2x1o+2x2e+1x3e", "so3:1x1o+1x2e", "sn*o3:2x0e+1x1o+1x2e"]
)
def test_points_on_one_orbit_are_at_distance_zero(group, rng):
    action = Action.parse(group)
    n = 5 if action.nodes else 0
    shape = (16, n, action.irreps.dim) if n else (16, action.irreps.dim)
    z = rng.standard_normal(shape)
    mask = (rng.random((16, n)) < 0.8) if n else None
    moved, mmask = groups.act(action, z, groups.sample(action, 16, rng, n), mask)
    d = quotient_distance(action, z, moved, mask, mmask)
    assert d.max() < 1e-6 * np.linalg.norm(z.reshape(16, -1), axis=1).mean()
    other = rng.standard_normal(shape)
    assert quotient_distance(action, z, other, mask, mask).min() > 0.1


def test_products_against_brute_force_over_all_permutations(rng):
    """n = 3 nodes, l <= 1: for a fixed permutation Procrustes is exact, so try all 6."""
    action = Action.parse("sn*o3:1x0e+2x1o")
    z1, z2 = rng.standard_normal((2, 30, 3, action.irreps.dim))
    d, (R, P) = quotient_o3.align(action, z1, z2)
    moved = groups.act(action, z2, (R, P))[0]
    np.testing.assert_allclose(d, np.linalg.norm((z1 - moved).reshape(30, -1), axis=1), atol=1e-9)
    plain = Action.parse("o3:1x0e+2x1o+1x0e+2x1o+1x0e+2x1o")
    brute = np.full(30, np.inf)
    for p in itertools.permutations(range(3)):
        z2p = z2[:, list(p)].reshape(30, -1)
        brute = np.minimum(brute, quotient_o3.align(plain, z1.reshape(30, -1), z2p)[0])
    assert (d >= brute - 1e-9).all()
    assert (d <= brute + 1e-6).mean() >= 0.8  # measured: 88% of random pairs found exactly
    assert (d - brute).mean() <= 0.02 * brute.mean()  # measured: 0.8% too far on average


def test_masked_products_match_real_nodes_only(rng):
    action = Action.parse("sn*so3:1x0e+1x1o")
    z = rng.standard_normal((4, 4, 4))
    mask = np.array([[1, 1, 1, 0]] * 4, dtype=bool)
    padded = z.copy()
    padded[:, 3] = 100.0  # padded values must not matter
    assert np.allclose(quotient_distance(action, z, padded, mask, mask), 0, atol=1e-8)
    d = pairwise(action, z, mask)
    assert d.shape == (4, 4) and np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
