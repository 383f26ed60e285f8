"""Group laws, exhaustively for small finite groups, and the actions on latent layouts."""

import itertools

import numpy as np
import pytest

from invlatent.action import Action
from invlatent.groups import (
    act,
    compose,
    elements,
    inverse,
    regular_permutations,
    rotate_irreps,
    sample,
)

FINITE = ["c2", "c3", "c4", "c5", "d2", "d3", "d4", "d5"]


@pytest.mark.parametrize("group", FINITE)
def test_group_laws_hold_for_every_element(group):
    els = elements(group)
    e = 0
    for a in els:
        assert compose(group, e, a) == a == compose(group, a, e)
        assert compose(group, a, inverse(group, a)) == e
    for a, b, c in itertools.product(els, repeat=3):
        assert compose(group, compose(group, a, b), c) == compose(group, a, compose(group, b, c))
    table = compose(group, els[:, None], els[None, :])
    assert all(sorted(row) == list(els) for row in table)  # closure: a Latin square


def test_dihedral_is_not_abelian_and_reflections_invert_rotations():
    r, f = 1, 4  # d4: r = rotation by one step, f = reflection
    assert compose("d4", r, f) != compose("d4", f, r)
    assert compose("d4", compose("d4", f, r), f) == inverse("d4", r)


@pytest.mark.parametrize("group", FINITE)
def test_regular_action_is_a_homomorphism(group, rng):
    z = rng.standard_normal((1, 3, Action.parse(group).group_size))
    for a, b in itertools.product(elements(group), repeat=2):
        ab, _ = act(group, z, np.array([compose(group, a, b)]))
        a_b, _ = act(group, act(group, z, np.array([b]))[0], np.array([a]))
        np.testing.assert_array_equal(ab, a_b)


def test_regular_permutations_are_permutations():
    for group in FINITE:
        perms = regular_permutations(group)
        assert all(sorted(p) == list(range(len(p))) for p in perms)


def test_cyclic_shift_moves_entries_forward(rng):
    z = np.arange(8.0)[None, None, :]
    shifted, _ = act("c8", z, np.array([3]))
    np.testing.assert_array_equal(shifted[0, 0], np.roll(z[0, 0], 3))


def test_permutation_moves_nodes_and_mask_together(rng):
    z = rng.standard_normal((4, 6, 2))
    mask = rng.random((4, 6)) > 0.3
    g = sample("sn", 4, rng, n_nodes=6)
    z2, m2 = act("sn", z, g, mask)
    for b in range(4):
        np.testing.assert_array_equal(z2[b], z[b, g[b]])
        np.testing.assert_array_equal(m2[b], mask[b, g[b]])


def test_so2_rotations_compose_and_keep_norms_per_irrep(rng):
    freqs = (0, 1, 2, 1)
    z = rng.standard_normal((5, 7))
    a, b = rng.uniform(0, 6.3, 5), rng.uniform(0, 6.3, 5)
    np.testing.assert_allclose(
        rotate_irreps(rotate_irreps(z, a, freqs), b, freqs),
        rotate_irreps(z, a + b, freqs),
        atol=1e-12,
    )
    out = rotate_irreps(z, a, freqs)
    np.testing.assert_allclose(out[:, 0], z[:, 0])
    np.testing.assert_allclose(np.hypot(out[:, 3], out[:, 4]), np.hypot(z[:, 3], z[:, 4]))
    full_turn = rotate_irreps(z, np.full(5, np.pi), (2,) * 1 + (0,) * 5)
    np.testing.assert_allclose(full_turn, z, atol=1e-12)


def test_frequency_two_turns_twice_as_fast():
    z = np.array([[1.0, 0.0]])
    out = rotate_irreps(z, np.array([np.pi / 4]), (2,))
    np.testing.assert_allclose(out, [[0.0, 1.0]], atol=1e-12)


def test_sampling_is_seeded():
    for group in ["sn", "c8", "d4", "so2:0,1"]:
        a = sample(group, 10, np.random.default_rng(3), n_nodes=5)
        b = sample(group, 10, np.random.default_rng(3), n_nodes=5)
        np.testing.assert_array_equal(a, b)
