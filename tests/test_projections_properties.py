"""The guarantees each method declares: isometry, separation, completeness, cross sections, rank."""

from __future__ import annotations

import numpy as np
import pytest

from invlatent import groups
from invlatent.groups.action import Action
from invlatent.groups.quotient import quotient_distance
from invlatent.projections import Params, project_array, project_with_extras, template_rng


def _dist(a, b):
    return np.linalg.norm(a - b, axis=1)


@pytest.mark.parametrize("masked", [False, True])
def test_sort_d1_is_an_isometry_for_the_quotient_distance(rng, masked):
    z1, z2 = rng.standard_normal((2, 200, 9, 1)).astype(np.float32)
    m1 = m2 = None
    if masked:  # same number of real nodes per pair, at different places
        count = rng.integers(0, 10, size=200)
        m1 = np.arange(9)[None, :] < count[:, None]
        m2 = np.take_along_axis(m1, np.argsort(rng.random((200, 9)), axis=1), axis=1)
    d_proj = _dist(
        project_array("sn", z1, m1, method="sort"), project_array("sn", z2, m2, method="sort")
    )
    d_quot = quotient_distance("sn", z1, z2, m1, m2)
    np.testing.assert_allclose(d_proj, d_quot, rtol=1e-5, atol=1e-6)


def test_sort_image_is_convex_for_d1(rng):
    """The midpoint of two sorted vectors is sorted, so it is its own projection."""
    a, b = (project_array("sn", x, method="sort") for x in rng.standard_normal((2, 50, 8, 1)))
    mid = (a + b) / 2
    np.testing.assert_array_equal(project_array("sn", mid[:, :, None], method="sort"), mid)


def test_sortembed_separates_what_colsort_merges(rng):
    """{(0,1), (1,0)} and {(0,0), (1,1)}: same sorted channels, different sets."""
    z1 = np.array([[[0, 1], [1, 0]]], dtype=np.float32)
    z2 = np.array([[[0, 0], [1, 1]]], dtype=np.float32)
    assert quotient_distance("sn", z1, z2)[0] > 1
    cs = [project_array("sn", z, method="colsort") for z in (z1, z2)]
    np.testing.assert_array_equal(*cs)
    se = [project_array("sn", z, method="sortembed") for z in (z1, z2)]
    assert _dist(*se)[0] > 0.1


def test_sortembed_separates_random_non_equivalent_inputs(rng):
    z1 = rng.standard_normal((300, 5, 3)).astype(np.float32)
    z2 = z1 + 0.05 * rng.standard_normal(z1.shape).astype(np.float32)
    ratio = _dist(
        *(project_array("sn", z, method="sortembed") for z in (z1, z2))
    ) / quotient_distance("sn", z1, z2)
    assert ratio.min() > 0.05  # bi-Lipschitz lower bound on random pairs: nothing collapses


def test_sortembed_is_locally_injective(rng):
    """Its Jacobian at a generic point has full rank n·d (sorting is locally a fixed permutation)."""
    z = rng.standard_normal((1, 4, 3))
    eps = 1e-3
    base = project_array("sn", z, method="sortembed").astype(np.float64)
    steps = np.eye(12).reshape(12, 1, 4, 3) * eps
    jac = np.stack([project_array("sn", z + e, method="sortembed")[0] - base[0] for e in steps], 1)
    assert np.linalg.matrix_rank(jac / eps, tol=1e-2) == 12


def test_power_cannot_tell_a_signal_from_its_reversal_but_bispectrum_can(rng):
    x = rng.standard_normal((20, 1, 8)).astype(np.float32)
    y = x[:, :, (-np.arange(8)) % 8]  # same amplitude spectrum, not a rotation of x
    assert quotient_distance("c8", x, y).min() > 1e-3
    np.testing.assert_allclose(
        project_array("c8", x, method="power"), project_array("c8", y, method="power"), atol=1e-5
    )
    bis = [project_array("c8", z, method="bispectrum") for z in (x, y)]
    assert (_dist(*bis) / np.linalg.norm(bis[0], axis=1)).min() > 1e-2


def test_bispectrum_keeps_the_relative_phase_between_fields(rng):
    """Shifting one field alone keeps every per-field invariant but changes the orbit."""
    x = rng.standard_normal((20, 2, 8)).astype(np.float32)
    y = x.copy()
    y[:, 1] = np.roll(x[:, 1], 3, axis=-1)
    assert quotient_distance("c8", x, y).min() > 1e-3
    for per_field in ("power", "pool-max", "pool-mean"):
        np.testing.assert_allclose(
            project_array("c8", x, method=per_field),
            project_array("c8", y, method=per_field),
            atol=1e-5,
        )
    bis = [project_array("c8", z, method="bispectrum") for z in (x, y)]
    assert (_dist(*bis) / np.linalg.norm(bis[0], axis=1)).min() > 1e-2


@pytest.mark.parametrize("group", ["d4", "d3"])
def test_dihedral_bispectrum_separates_a_reversed_copy_that_is_no_group_image(rng, group):
    action = Action.parse(group)
    x = rng.standard_normal((20, 2, action.group_size)).astype(np.float32)
    y = x.copy()
    y[:, 1] = np.roll(x[:, 1], 1, axis=-1)
    assert quotient_distance(group, x, y).min() > 1e-3
    bis = [project_array(group, z, method="bispectrum") for z in (x, y)]
    assert (_dist(*bis) / np.linalg.norm(bis[0], axis=1)).min() > 1e-3


def test_so2_bispectrum_sees_relative_phases_across_frequencies(rng):
    z1 = rng.standard_normal((20, 4)).astype(np.float32)
    z2 = z1.copy()
    z2[:, 2:] = groups.rotate_irreps(z1[:, 2:], np.full(20, 0.7), (2,))  # turn the k=2 irrep only
    assert quotient_distance("so2:1,2", z1, z2).min() > 1e-3
    for lossy in ("norm", "power"):
        np.testing.assert_allclose(
            project_array("so2:1,2", z1, method=lossy),
            project_array("so2:1,2", z2, method=lossy),
            atol=1e-5,
        )
    bis = [project_array("so2:1,2", z, method="bispectrum") for z in (z1, z2)]
    assert (_dist(*bis) / np.linalg.norm(bis[0], axis=1)).min() > 1e-2


@pytest.mark.parametrize(
    "group", ["c2", "c8", "d3", "d4", "so2:1", "so2:0,1,1,2", "so2:2,3", "trivial"]
)
def test_canonical_output_lies_on_the_orbit_of_its_input(rng, group):
    action = Action.parse(group)
    method = "identity" if action.kind == "trivial" else "canonical"
    shape = {"so2": (60, action.so2_dim), "trivial": (60, 4)}.get(
        action.kind, (60, 3, action.group_size)
    )
    z = rng.standard_normal(shape).astype(np.float32)
    out, extras = project_with_extras(action, z, method=method)
    back = out.reshape(z.shape)
    scale = np.linalg.norm(z.reshape(60, -1), axis=1)
    assert (quotient_distance(action, z, back) / scale).max() < 1e-5
    if "canon" in extras:  # the stored element maps z to its representative
        moved = groups.act(action, z, extras["canon"])[0]
        np.testing.assert_allclose(moved.reshape(60, -1), out, rtol=1e-5, atol=1e-5)


def test_sort_stores_the_permutation_that_undoes_it(rng):
    z = rng.standard_normal((30, 6, 2)).astype(np.float32)
    out, extras = project_with_extras("sn", z, method="sort")
    moved = groups.act("sn", z, extras["perm"])[0]
    np.testing.assert_array_equal(moved.reshape(30, -1), out)
    back = np.empty_like(z)
    np.put_along_axis(back, extras["perm"][:, :, None], out.reshape(z.shape), axis=1)
    np.testing.assert_array_equal(back, z)


def test_lexicographic_sort_breaks_ties_with_the_next_channel(rng):
    z = np.stack([rng.integers(0, 2, (100, 8)), rng.standard_normal((100, 8))], axis=-1).astype(
        np.float32
    )
    out = project_array("sn", z, method="sort").reshape(z.shape)
    keys = out[:, :, 0] * 100 + np.argsort(np.argsort(out[:, :, 1], axis=1), axis=1)
    assert np.all(np.diff(out[:, :, 0], axis=1) >= 0)
    assert np.all(np.diff(keys, axis=1) > 0)
    g = groups.sample("sn", 100, rng, 8)
    np.testing.assert_array_equal(
        project_array("sn", groups.act("sn", z, g)[0], method="sort").reshape(z.shape), out
    )


def test_key_channel_orders_nodes_by_that_channel(rng):
    z = rng.standard_normal((40, 7, 3)).astype(np.float32)
    out = project_array("sn", z, method="sort", key_channel=2).reshape(z.shape)
    assert np.all(np.diff(out[:, :, 2], axis=1) >= 0)
    assert not np.all(np.diff(out[:, :, 0], axis=1) >= 0)


@pytest.mark.parametrize("group", ["c8", "d4"])
def test_random_linear_rank_is_at_most_the_number_of_fields(rng, group):
    action = Action.parse(group)
    fields = 3
    z = rng.standard_normal((200, fields, action.group_size)).astype(np.float32)
    out = project_array(group, z, method="random-linear", dim=4 * fields * action.group_size)
    assert np.linalg.matrix_rank(out.astype(np.float64), tol=1e-3) == fields


@pytest.mark.parametrize("method", ["sort", "colsort", "sortembed", "sum", "mean", "max"])
def test_padded_nodes_never_mix_with_real_ones(rng, method):
    z = rng.standard_normal((50, 6, 2)).astype(np.float32)
    mask = rng.random((50, 6)) < 0.6
    junk = np.where(mask[:, :, None], z, 1e3 * rng.standard_normal(z.shape)).astype(np.float32)
    a = project_array("sn", z, mask, method=method)
    np.testing.assert_array_equal(a, project_array("sn", junk, mask, method=method))
    if method in ("sort", "colsort"):  # real nodes first, padded slots last and zero
        out = a.reshape(z.shape)
        count = mask.sum(axis=1)
        padded = np.arange(6)[None, :] >= count[:, None]
        assert np.all(out[padded] == 0)
        real = np.sort(np.where(mask, z[:, :, 0], np.inf), axis=1)
        np.testing.assert_array_equal(np.where(padded, 0, out[:, :, 0]), np.where(padded, 0, real))


def test_pooling_ignores_padded_nodes(rng):
    z = rng.standard_normal((10, 5, 2)).astype(np.float32)
    mask = np.zeros((10, 5), bool)
    mask[:, :2] = True
    np.testing.assert_allclose(
        project_array("sn", z, mask, method="mean"), z[:, :2].mean(axis=1), rtol=1e-6
    )
    np.testing.assert_allclose(project_array("sn", z, mask, method="max"), z[:, :2].max(axis=1))


def test_so2_random_max_refines_past_its_grid_and_reports_by_how_much(rng):
    z = rng.standard_normal((200, 7)).astype(np.float32)
    out, extras = project_with_extras("so2:0,1,2,3", z, method="random-max", dim=4)
    err = extras["grid_error"]
    assert err.shape == (200,) and 0 < err.max() < 0.05
    theta = np.linspace(0, 2 * np.pi, 4000, endpoint=False)  # brute force on a dense grid
    tmpl = template_rng("random-max", Params((7,), 4, 0), 4).standard_normal((4, 7)) / np.sqrt(7)
    rot = np.stack(
        [groups.rotate_irreps(z[:5].astype(np.float64), np.full(5, t), (0, 1, 2, 3)) for t in theta]
    )
    brute = np.einsum("tbd,kd->btk", rot, tmpl).max(axis=1)
    assert np.all(out[:5] >= brute - 1e-5) and np.all(out[:5] <= brute + 1e-3)
