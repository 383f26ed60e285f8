"""Group laws, exhaustively for small finite groups, and the actions on latent layouts."""

import itertools

import numpy as np
import pytest

from invlatent.groups import (
    act,
    compose,
    elements,
    exact_elements,
    grid_element,
    inverse,
    regular_permutations,
    rotate_irreps,
    sample,
)
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images
from invlatent.groups.quotient import align, pairwise, quotient_distance

FINITE = ["c2", "c3", "c4", "c5", "d2", "d3", "d4", "d5"]
GRID = ["c2:grid", "c4:grid", "d2:grid", "d4:grid", "c8:grid", "d8:grid"]


@pytest.mark.parametrize("group", FINITE + GRID)
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


def _grid(group, rng, b=2, fields=2, size=6):
    """Random fields on a square grid for ``group``."""
    return rng.standard_normal((b, fields, Action.parse(group).group_size, size, size))


@pytest.mark.parametrize("group", GRID)
def test_grid_action_is_a_homomorphism_on_its_exact_elements(group, rng):
    z = _grid(group, rng, size=5)
    exact = exact_elements(group)
    for a, b in itertools.product(elements(group)[exact], repeat=2):
        ab, _ = act(group, z, np.full(2, compose(group, a, b)))
        a_b, _ = act(group, act(group, z, np.full(2, b))[0], np.full(2, a))
        np.testing.assert_array_equal(ab, a_b)
    assert np.array_equal(act(group, z, np.zeros(2, dtype=np.int64))[0], z)


def test_quarter_turns_and_the_mirror_are_the_exact_elements():
    assert exact_elements("c4:grid").all() and exact_elements("d4:grid").all()
    assert list(exact_elements("c8:grid")) == [k % 2 == 0 for k in range(8)]
    assert list(exact_elements("c3:grid")) == [True, False, False]
    assert exact_elements("c8").all()


def test_interpolated_elements_are_only_approximately_an_action(rng):
    z = _grid("c8:grid", rng, size=8)
    once = act("c8:grid", act("c8:grid", z, np.ones(2, dtype=np.int64))[0], np.ones(2, np.int64))[0]
    twice = act("c8:grid", z, np.full(2, 2))[0]
    assert np.linalg.norm(once - twice) / np.linalg.norm(twice) > 1e-2


def test_a_quarter_turn_moves_a_pixel_counter_clockwise_and_shifts_the_group_axis():
    z = np.zeros((1, 1, 4, 5, 5))
    z[0, 0, 0, 2, 4] = 1.0  # element r^0, right of the centre
    moved = act("c4:grid", z, np.array([1]))[0]
    assert moved[0, 0, 1, 0, 2] == 1.0 and moved.sum() == 1.0  # element r^1, above the centre


def test_the_mirror_flips_left_right_and_permutes_the_group_axis(rng):
    z = _grid("d4:grid", rng, b=1)
    moved = act("d4:grid", z, np.array([4]))[0]
    perm = regular_permutations("d4:grid")[4]
    np.testing.assert_array_equal(moved, z[:, :, perm, :, ::-1])


@pytest.mark.parametrize("group", ["d4:grid", "c8:grid", "d8:grid"])
def test_grid_action_turns_the_plane_like_the_images_do(group, rng):
    """Every element, interpolated ones included, matches ``rotate_images`` after the shift."""
    size = Action.parse(group).group_size
    z = _grid(group, rng, b=size, size=7).astype(np.float32)
    g = elements(group)
    angle, flip = np.array([grid_element(group, int(e)) for e in g]).T
    shifted = z[np.arange(size)[:, None], :, regular_permutations(group)[g]].transpose(
        0, 2, 1, 3, 4
    )
    planes = rotate_images(shifted.reshape(size, -1, 7, 7), angle, flip.astype(bool))
    np.testing.assert_allclose(act(group, z, g)[0], planes.reshape(z.shape), atol=1e-6)


@pytest.mark.parametrize("group", ["c4:grid", "d4:grid"])
def test_grid_quotient_distance_finds_the_element_that_undoes_a_move(group, rng):
    z = _grid(group, rng, b=12)
    g = sample(group, 12, rng)
    dist, best = align(group, z, act(group, z, g)[0])
    assert dist.max() < 1e-12
    np.testing.assert_array_equal(best, inverse(group, g))


@pytest.mark.parametrize("group", ["c4:grid", "c8:grid"])
def test_grid_pairwise_distances_match_the_row_wise_brute_force(group, rng):
    z = _grid(group, rng, b=7)
    mat = pairwise(group, z)
    i, j = np.triu_indices(7, k=1)
    moved = [act(group, z[j], np.full(len(j), e))[0] for e in elements(group)]
    brute = np.min([np.linalg.norm((z[i] - m).reshape(len(i), -1), axis=1) for m in moved], 0)
    np.testing.assert_allclose(mat[i, j], brute, rtol=1e-9)
    np.testing.assert_allclose(quotient_distance(group, z[i], z[j]), brute, rtol=1e-12)
    assert np.array_equal(mat, mat.T) and not mat.diagonal().any()


def test_grid_alignment_in_small_row_chunks_matches_one_chunk(rng):
    from invlatent.groups.quotient import align_grid

    z1, z2 = _grid("c8:grid", rng, b=9), _grid("c8:grid", rng, b=9)
    one = align_grid(Action.parse("c8:grid"), z1, z2)
    chunked = align_grid(Action.parse("c8:grid"), z1, z2, chunk_bytes=z1[0].nbytes * 2)
    np.testing.assert_array_equal(one[0], chunked[0])
    np.testing.assert_array_equal(one[1], chunked[1])
