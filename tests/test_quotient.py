"""Exact quotient distances: checked against brute force over every group element."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from invlatent import groups
from invlatent.groups.quotient import align, pairwise, quotient_distance

FINITE = ["c2", "c5", "c8", "d3", "d4"]
SO2 = ["so2:1", "so2:0,1,1,2", "so2:2,3", "so2:0,3"]


def _brute_sn(z1, z2, m1, m2):
    """min over all permutations, real nodes matched to real ones, extra real nodes to zero."""
    best = np.inf
    r1, r2 = np.flatnonzero(m1), np.flatnonzero(m2)
    big, small, x, y = (r1, r2, z1, z2) if len(r1) >= len(r2) else (r2, r1, z2, z1)
    for perm in itertools.permutations(big):
        paired = np.sum((x[list(perm[: len(small)])] - y[small]) ** 2)
        best = min(best, paired + np.sum(x[list(perm[len(small) :])] ** 2))
    return np.sqrt(best)


@pytest.mark.parametrize("masked", [False, True])
def test_sn_matches_brute_force(rng, masked):
    z1, z2 = rng.standard_normal((2, 20, 5, 2))
    m1 = rng.random((20, 5)) < 0.7 if masked else np.ones((20, 5), bool)
    m2 = rng.random((20, 5)) < 0.7 if masked else np.ones((20, 5), bool)
    d = quotient_distance("sn", z1, z2, m1, m2)
    expect = [_brute_sn(z1[i], z2[i], m1[i], m2[i]) for i in range(20)]
    np.testing.assert_allclose(d, expect, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("group", FINITE)
def test_finite_groups_match_brute_force(rng, group):
    size = groups.Action.parse(group).group_size
    z1, z2 = rng.standard_normal((2, 30, 3, size))
    every = [groups.act(group, z2, np.full(30, h))[0] for h in range(size)]
    expect = np.min([np.linalg.norm((z1 - e).reshape(30, -1), axis=1) for e in every], axis=0)
    d, g = align(group, z1, z2)
    np.testing.assert_allclose(d, expect, rtol=1e-10)
    moved = groups.act(group, z2, g)[0]
    np.testing.assert_allclose(np.linalg.norm((z1 - moved).reshape(30, -1), axis=1), d, rtol=1e-10)


@pytest.mark.parametrize("group", SO2)
def test_so2_matches_a_fine_grid(rng, group):
    action = groups.Action.parse(group)
    z1, z2 = rng.standard_normal((2, 40, action.so2_dim))
    grid = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    rot = [groups.rotate_irreps(z2, np.full(40, t), action.freqs) for t in grid]
    on_grid = np.min([np.linalg.norm(z1 - r, axis=1) for r in rot], axis=0)
    d = quotient_distance(group, z1, z2)
    assert np.all(d <= on_grid + 1e-12)
    assert np.all(d >= on_grid - 1e-4 * (1 + on_grid))


@pytest.mark.parametrize("group", ["sn", *FINITE, *SO2, "trivial"])
def test_zero_on_the_orbit_and_symmetric(rng, group):
    action = groups.Action.parse(group)
    shape = {"sn": (25, 6, 3), "so2": (25, action.so2_dim)}.get(
        action.kind, (25, 2, max(2, action.group_size))
    )
    z1, z2 = rng.standard_normal((2, *shape))
    g = groups.sample(action, 25, rng, shape[1])
    moved = groups.act(action, z1, g)[0]
    assert quotient_distance(action, z1, moved).max() < 1e-6
    np.testing.assert_allclose(
        quotient_distance(action, z1, z2), quotient_distance(action, z2, z1), rtol=1e-6
    )
    assert np.all(
        quotient_distance(action, z1, z2)
        <= np.linalg.norm((z1 - z2).reshape(25, -1), axis=1) + 1e-9
    )


def test_pairwise_is_a_symmetric_matrix_of_row_distances(rng):
    z = rng.standard_normal((6, 3, 8))
    m = pairwise("c8", z)
    assert m.shape == (6, 6) and np.all(np.diag(m) == 0)
    np.testing.assert_allclose(m, m.T)
    assert m[1, 4] == pytest.approx(quotient_distance("c8", z[1:2], z[4:5])[0])
