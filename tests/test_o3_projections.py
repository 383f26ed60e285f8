"""O(3)/SO(3) projections: invariance under Haar rotations (and inversions), seeds, masks, and
what each one keeps (relative orientations, mirror images, local injectivity)."""

import numpy as np
import pytest

from invlatent import groups
from invlatent.analysis.check import invariance_error
from invlatent.groups.action import Action
from invlatent.groups.irreps import random_rotations, rotate
from invlatent.groups.quotient import quotient_distance
from invlatent.projections import (
    bispectrum_features,
    methods_for,
    power_features,
    project_array,
    project_with_extras,
)

GROUPS = [
    "o3:16x0e+8x1o+4x2e",
    "so3:2x0e+2x1o+1x1e+2x2o+1x3e",
    "o3:3x0o+2x1e+2x1o+2x2e+1x3o",
    "sn*o3:2x0e+2x1o+1x2e",
    "sn*so3:1x0e+1x1o+1x1e+1x2o",
]
EXACT = [(g, m) for g in GROUPS for m in methods_for(g) if m not in ("raw", "random-max")]
TOL = 1e-5


def make_batch(group, rng, b=24):
    """Random float32 latents of the group's layout; node sets get a mask with one empty row."""
    action = Action.parse(group)
    if not action.nodes:
        return rng.standard_normal((b, action.irreps.dim)).astype(np.float32), None
    mask = rng.random((b, 5)) < 0.75
    mask[0] = False
    return rng.standard_normal((b, 5, action.irreps.dim)).astype(np.float32), mask


def worst_invariance_error(group, method, z, mask, rng, rounds=3, dim=None):
    """The largest of check's invariance errors over ``rounds`` Haar-random elements."""
    action = Action.parse(group)
    p = project_array(action, z, mask, method=method, dim=dim)
    errs = []
    for _ in range(rounds):
        g = groups.sample(action, len(z), rng, z.shape[1])
        gz, gm = groups.act(action, z, g, mask)
        pg = project_array(action, gz, gm, method=method, dim=dim)
        errs.append(invariance_error(p, pg))
    return max(errs)


@pytest.mark.parametrize(("group", "method"), EXACT)
def test_exact_methods_are_invariant_in_float32(group, method, rng):
    z, mask = make_batch(group, rng)
    assert worst_invariance_error(group, method, z, mask, rng) < TOL


@pytest.mark.parametrize("group", GROUPS[:2])
def test_raw_is_not_invariant_and_random_max_reports_its_error(group, rng):
    z, mask = make_batch(group, rng, b=6)
    assert worst_invariance_error(group, "raw", z, mask, rng) > 0.1
    err = worst_invariance_error(group, "random-max", z, mask, rng, rounds=1, dim=3)
    _, extras = project_with_extras(group, z, mask, method="random-max", dim=3)
    assert err < 0.05 and (extras["grid_error"] >= 0).all() and extras["grid_error"].max() < 0.5


@pytest.mark.parametrize(("group", "method"), EXACT)
def test_same_seed_same_bytes_and_rows_independent(group, method, rng):
    z, mask = make_batch(group, rng)
    a = project_array(group, z, mask, method=method, seed=3)
    half = project_array(group, z[:7], None if mask is None else mask[:7], method=method, seed=3)
    assert a.dtype == np.float32 and len(a) == len(z)
    assert a.tobytes() == project_array(group, z.copy(), mask, method=method, seed=3).tobytes()
    np.testing.assert_allclose(half, a[:7], atol=1e-6)


@pytest.mark.parametrize("method", ["norm", "power", "bispectrum", "norm-sum", "canonical"])
def test_padded_nodes_do_not_matter_and_empty_rows_are_zero(method, rng):
    z, mask = make_batch("sn*o3:2x0e+2x1o+1x2e", rng)
    noisy = np.where(mask[..., None], z, 1e3).astype(np.float32)
    a = project_array("sn*o3:2x0e+2x1o+1x2e", z, mask, method=method)
    np.testing.assert_allclose(project_array("sn*o3:2x0e+2x1o+1x2e", noisy, mask, method=method), a)
    assert not a[0].any()


def _two_atom_sets():
    """Same per-node invariants (scalar, vector length), vectors at 30° versus 100°."""
    e = np.array([1.0, 0.0, 0.0])
    turn = lambda deg: np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg)), 0.0])  # noqa: E731
    a = np.array([[0.5, *e], [-1.0, *(2 * turn(30))]])
    b = np.array([[0.5, *e], [-1.0, *(2 * turn(100))]])
    return np.stack([a, b]).astype(np.float32)


def test_canonical_and_norm_sum_keep_relative_orientation_between_nodes():
    group = "sn*o3:1x0e+1x1o"
    z = _two_atom_sets()
    for m in ("norm", "power", "bispectrum"):  # per-node invariants cannot tell them apart
        p = project_array(group, z, method=m)
        np.testing.assert_allclose(p[0], p[1], atol=1e-6)
    for m in ("canonical", "norm-sum"):
        p = project_array(group, z, method=m)
        assert np.linalg.norm(p[0] - p[1]) > 0.5, m
    d = quotient_distance(group, z[:1], z[1:])
    assert d[0] > 0.5  # the two sets really lie on different orbits


def test_canonical_is_a_cross_section_and_flags_degenerate_frames(rng):
    group = "o3:2x0e+2x1o+1x2e"
    z = rng.standard_normal((10, Action.parse(group).irreps.dim))
    out, extras = project_with_extras(group, z, method="canonical")
    np.testing.assert_allclose(out, rotate("2x0e+2x1o+1x2e", z, extras["canon"]), atol=1e-5)
    assert (extras["canon_rank"] == 3).all()
    assert quotient_distance(group, z, out).max() < 1e-5
    single = rng.standard_normal((6, 3))  # o3:1x1o: one vector cannot fix a frame
    assert (project_with_extras("o3:1x1o", single, method="canonical")[1]["canon_rank"] == 1).all()
    collinear = np.concatenate([single, 2 * single], axis=1)  # two parallel vectors, so3
    assert (
        project_with_extras("so3:2x1o", collinear, method="canonical")[1]["canon_rank"] < 3
    ).all()


def _jacobian_rank(fn, action, z, eps=1e-6):
    cols = [(fn(action, z + eps * e) - fn(action, z - eps * e)) / (2 * eps) for e in np.eye(len(z))]
    s = np.linalg.svd(np.stack(cols, axis=1), compute_uv=False)
    return int((s > 1e-6 * s[0]).sum())


@pytest.mark.parametrize("group", ["o3:2x0e+2x1o+2x2e", "so3:1x1o+1x1e+2x2e+1x3o"])
def test_bispectrum_is_locally_injective_on_orbits(group, rng):
    """At a generic z the bispectrum's Jacobian has rank D − 3: only the 3 orbit directions of
    SO(3) are lost; power loses more."""
    action = Action.parse(group)
    z = rng.standard_normal(action.irreps.dim)
    assert _jacobian_rank(bispectrum_features, action, z) == action.irreps.dim - 3
    assert _jacobian_rank(power_features, action, z) < action.irreps.dim - 3


def test_so3_bispectrum_tells_mirror_images_apart(rng):
    """Under rotations only, a mirror image is another orbit; the Gram matrices cannot see it."""
    action = Action.parse("so3:3x1o+1x2e")
    z = rng.standard_normal((4, action.irreps.dim))
    mirror = rotate("3x1o+1x2e", z, -random_rotations(4, rng))  # improper elements
    np.testing.assert_allclose(power_features(action, z), power_features(action, mirror), atol=1e-9)
    diff = np.abs(bispectrum_features(action, z) - bispectrum_features(action, mirror)).max(axis=1)
    assert (diff > 1e-3).all()


@pytest.mark.parametrize(("group", "method"), [(g, m) for g in GROUPS for m in methods_for(g)])
def test_empty_batch_gives_empty_output(group, method):
    action = Action.parse(group)
    z = np.zeros((0, 5, action.irreps.dim) if action.nodes else (0, action.irreps.dim), np.float32)
    dim = 2 if method == "random-max" else None
    out, extras = project_with_extras(group, z, None, method=method, dim=dim)
    assert out.shape[0] == 0 and all(len(v) == 0 for v in extras.values())
    assert quotient_distance(group, z, z).shape == (0,)
