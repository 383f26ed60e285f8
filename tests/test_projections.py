"""One contract suite over the registry: every method of every registered family is invariant
(or, for grid pooling, equivariant), shaped, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from invlatent import groups, projections, testing
from invlatent.analysis.check import invariance_error
from invlatent.groups.action import Action
from invlatent.projections import family_of, methods_for, project_array, project_with_extras

GROUPS = ["sn", "c2", "c8", "d3", "d4", "c4:grid", "d2:grid", "so2:1", "so2:0,1,1,2,3",
          "so2:2,3", "o3:2x0e+1x1o+1x2e", "so3:1x0e+1x1o+1x1e", "sn*o3:1x0e+1x1o+1x2e",
          "sn*so3:1x0e+1x1o+1x1e+1x2o", "trivial"]  # fmt: skip
CASES = [(g, m) for g in GROUPS for m in methods_for(g)]
TOL = 1e-5
APPROXIMATE = 0.05  # methods that declare invariance "approximately" (local optimisation)


def make_batch(group, rng, b=40):
    """Random latents (with a mask for sn, including one fully padded row) of a group's layout."""
    action = Action.parse(group)
    family = family_of(action)
    if action.has_nodes:
        d = 3 if family == "sn" else action.irreps.dim
        z = rng.standard_normal((b, 7, d)).astype(np.float32)
        mask = rng.random((b, 7)) < 0.7
        mask[0] = False
        return z, mask
    shape = {
        "so2": (action.so2_dim,),
        "o3": (action.irreps.dim,),
        "trivial": (5,),
        "grid": (2, action.group_size, 5, 5),
    }.get(family, (4, action.group_size))
    return rng.standard_normal((b, *shape)).astype(np.float32), None


def assert_invariant(group, method, z, mask, rng, rounds=3):
    """π(g·z) = π(z) for random elements g (check's invariance error below TOL), or, for an
    equivariant method, π(g·z) = g·π(z) in its output action."""
    __tracebackhide__ = True
    action = Action.parse(group)
    info = projections.get_method(action, method)
    tol = APPROXIMATE if info.invariant.startswith("approx") else TOL
    if not info.equivariant:  # the library's own gate, as users' test suites call it
        for _ in range(rounds):
            testing.assert_invariant(method, action, z, mask, tol=tol, seed=int(rng.integers(99)))
        return
    p = project_array(action, z, mask, method=method)
    for _ in range(rounds):
        g = groups.sample(action, len(z), rng, z.shape[1])
        gz, gm = groups.act(action, z, g, mask)
        pg = project_array(action, gz, gm, method=method)
        out = info.output_action(action)
        shaped = p.reshape(len(p), -1, out.group_size)
        p_moved = groups.act(out, shaped, g)[0].reshape(len(p), -1)
        err = invariance_error(p_moved, pg)
        assert err < tol, f"{group} {method}: invariance error {err:.2e}"


def test_the_suite_covers_every_registered_family():
    assert {family_of(g) for g in GROUPS} == {family for family, _ in projections.REGISTRY}


@pytest.mark.parametrize(("group", "method"), CASES)
def test_invariant_under_random_elements(group, method, rng):
    z, mask = make_batch(group, rng)
    if projections.get_method(group, method).invariant == "no":
        with pytest.raises(AssertionError, match="invariance error"):
            assert_invariant(group, method, z, mask, rng)
    else:
        assert_invariant(group, method, z, mask, rng)


@pytest.mark.parametrize(("group", "method"), CASES)
def test_float32_rows_and_same_seed_same_bytes(group, method, rng):
    z, mask = make_batch(group, rng)
    a = project_array(group, z, mask, method=method, seed=7)
    b = project_array(group, z.copy(), None if mask is None else mask.copy(), method=method, seed=7)
    assert a.dtype == np.float32 and a.ndim == 2 and len(a) == len(z)
    assert a.tobytes() == b.tobytes()
    assert np.isfinite(a).all()


@pytest.mark.parametrize(("group", "method"), CASES)
def test_rows_projected_alone_equal_rows_projected_together(group, method, rng):
    z, mask = make_batch(group, rng)
    together = project_array(group, z, mask, method=method, seed=3)
    alone = [
        project_array(
            group, z[i : i + 1], None if mask is None else mask[i : i + 1], method=method, seed=3
        )
        for i in (1, 5, 9)
    ]
    np.testing.assert_allclose(np.concatenate(alone), together[[1, 5, 9]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("group", "method"), [c for c in CASES if projections.get_method(*c).random]
)
def test_random_methods_depend_on_the_seed(group, method, rng):
    z, mask = make_batch(group, rng)
    assert not np.allclose(
        project_array(group, z, mask, method=method, seed=0),
        project_array(group, z, mask, method=method, seed=1),
    )


@pytest.mark.parametrize(
    ("group", "method"), [c for c in CASES if not projections.get_method(*c).random]
)
def test_deterministic_methods_ignore_the_seed(group, method, rng):
    z, mask = make_batch(group, rng)
    a, b = (project_array(group, z, mask, method=method, seed=s) for s in (0, 1))
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(("group", "method"), CASES)
def test_empty_batch_keeps_the_output_width(group, method, rng):
    z, mask = make_batch(group, rng)
    full = project_array(group, z, mask, method=method)
    empty = project_array(group, z[:0], None if mask is None else mask[:0], method=method)
    assert empty.shape == (0, full.shape[1])


@pytest.mark.parametrize("method", methods_for("sn"))
def test_sn_one_node_and_fully_padded_rows(method, rng):
    z = rng.standard_normal((5, 1, 2)).astype(np.float32)
    one = project_array("sn", z, method=method)
    assert np.isfinite(one).all() and len(one) == 5
    z, mask = make_batch("sn", rng)
    out = project_array("sn", z, mask, method=method)
    if method != "raw":
        assert np.all(out[0] == 0), "a fully padded row projects to zeros"


def test_public_names_exist_and_every_method_declares_guarantees():
    for name in projections.__all__:
        assert hasattr(projections, name), name
    for group in GROUPS:
        rows = projections.guarantees(group)
        assert [r["method"] for r in rows] == methods_for(group)
        assert all(
            r["invariant"].startswith(("yes", "no", "approx")) and r["output size"] for r in rows
        )


@pytest.mark.parametrize(
    ("group", "kwargs", "fragment"),
    [
        ("c8", {"method": "sort"}, "choose from: pool-max"),
        ("sn", {"method": "sort", "dim": 3}, "dim is not used"),
        ("c8", {"method": "random-max", "dim": 0}, "dim must be at least 1"),
        ("sn", {"method": "sort", "key_channel": 3}, "out of range"),
        ("sn", {"method": "colsort", "key_channel": 0}, "only used by sn sort"),
        ("c8", {"method": "power", "seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_options_name_the_problem(group, kwargs, fragment, rng):
    z, mask = make_batch(group, rng)
    with pytest.raises(ValueError, match=fragment.replace("-", r"\-")):
        project_with_extras(group, z, mask, **kwargs)


def test_a_shape_that_does_not_fit_the_action_is_refused(rng):
    with pytest.raises(ValueError, match="last axis of 8"):
        project_array("c8", rng.standard_normal((3, 2, 6)).astype(np.float32), method="power")
