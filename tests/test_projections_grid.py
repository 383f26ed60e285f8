"""Fields on a grid (cN:grid, dN:grid): equivariant pooling, chained invariants, `check`, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error
from safetensors.numpy import save_file

from invlatent import groups
from invlatent.analysis.check import check_file, render
from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.groups.action import Action
from invlatent.projections import get_method, project_array

POOLS = ("spatial-mean", "spatial-max")


def grid_file(group, rng, b=40, fields=3, size=6, path=None) -> LatentFile:
    """A small grid latent file with labels, ids and the element applied to each row."""
    action = Action.parse(group)
    z = rng.standard_normal((b, fields, action.group_size, size, size)).astype(np.float32)
    lf = LatentFile(
        z=z,
        action=action,
        labels=rng.integers(0, 3, b),
        ids=np.arange(b, dtype=np.int64),
        g=groups.sample(action, b, rng),
        history=[make_step("synthetic", {"n": b}, seed=0)],
    )
    if path is not None:
        latentfile.write(lf, str(path))
    return lf


def _pooled(group, z, method):
    """The pooled fields (b, F, |G|) of a grid batch."""
    return project_array(group, z, method=method).reshape(*z.shape[:3])


@pytest.mark.parametrize("method", POOLS)
@pytest.mark.parametrize("group", ["c4:grid", "d4:grid", "c8:grid"])
def test_pooling_commutes_with_every_exact_element(group, method, rng):
    """π(g·z) = g·π(z) on the pooled cN/dN action, for quarter turns and mirrors."""
    lf = grid_file(group, rng, b=16)
    pooled_action = Action.parse(group).pooled
    base = _pooled(group, lf.z, method)
    for e in groups.elements(group)[groups.exact_elements(group)]:
        g = np.full(len(lf), e)
        moved = _pooled(group, groups.act(group, lf.z, g)[0], method)
        expected = groups.act(pooled_action, base, g)[0]
        np.testing.assert_allclose(moved, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("second", ["pool-max", "bispectrum", "power"])
@pytest.mark.parametrize("group", ["c4:grid", "d4:grid"])
def test_pooling_then_a_regular_projection_is_invariant(group, second, rng):
    lf = grid_file(group, rng, b=16)
    pooled_action = Action.parse(group).pooled

    def chain(z):
        return project_array(pooled_action, _pooled(group, z, "spatial-mean"), method=second)

    base = chain(lf.z)
    for e in groups.elements(group):
        moved = chain(groups.act(group, lf.z, np.full(len(lf), e))[0])
        assert np.abs(moved - base).max() <= 1e-5 * np.abs(base).max()


def test_pooling_is_declared_equivariant_not_invariant():
    for method in POOLS:
        m = get_method("c8:grid", method)
        assert m.equivariant and m.invariant.startswith("no")
        assert str(m.output_action(Action.parse("d4:grid"))) == "d4"
    raw = get_method("c8:grid", "raw")
    assert not raw.equivariant and str(raw.output_action(Action.parse("c8:grid"))) == "trivial"


def test_project_cli_writes_cn_fields_and_chains_to_an_invariant_file(cli, rng, tmp_path):
    lf = grid_file("c4:grid", rng, path=tmp_path / "z.st")
    res = cli("project", tmp_path / "z.st", "-m", "spatial-max")
    assert res.exit_code == 0, res.stderr
    pooled = latentfile.loads(res.stdout_bytes)
    assert str(pooled.action) == "c4" and pooled.z.shape == (len(lf), 3, 4)
    np.testing.assert_array_equal(pooled.z, np.asarray(lf.z).max(axis=(-2, -1)))
    np.testing.assert_array_equal(pooled.g, lf.g)
    assert pooled.g_kind == "index" and pooled.meta["source_action"] == "c4:grid"
    res = cli("project", "-", "-m", "bispectrum", input=res.stdout_bytes)
    assert res.exit_code == 0, res.stderr
    inv = latentfile.loads(res.stdout_bytes)
    assert inv.action.is_invariant and inv.z.ndim == 2
    assert [s["options"]["method"] for s in inv.history[1:]] == ["spatial-max", "bispectrum"]
    assert_one_line_error(
        cli("project", tmp_path / "z.st", "-m", "bispectrum"), "unknown method 'bispectrum'"
    )


def test_project_list_shows_the_grid_reductions(cli):
    res = cli("project", "--list")
    assert res.exit_code == 0 and "c8:grid" in res.stderr and "spatial-mean" in res.stderr
    assert "equivariant" in res.stderr


@pytest.mark.parametrize("group", ["c4:grid", "d4:grid"])
def test_check_on_exact_grid_groups_reports_zero_error_per_element(group, rng):
    result = check_file(grid_file(group, rng), pairs=100, samples=30)
    rows = {r["method"]: r for r in result["methods"]}
    assert all(e["exact"] and e["round_trip"] == 0 for e in result["elements"])
    assert len(result["elements"]) == Action.parse(group).group_size
    for method in POOLS:
        assert rows[method]["equivariance_error"] < 1e-5
        assert max(rows[method]["per_element"]) < 1e-5
        assert rows[method]["invariance_error"] > 0.01  # equivariant, not invariant
    assert rows["raw"]["equivariance_error"] is None and rows["raw"]["invariance_error"] > 0.1
    json.dumps(result)


def test_check_reports_the_interpolation_error_of_45_degree_elements(rng):
    result = check_file(grid_file("c8:grid", rng, size=8), pairs=100, samples=30)
    exact = [e["exact"] for e in result["elements"]]
    assert exact == [k % 2 == 0 for k in range(8)]
    mean = next(r for r in result["methods"] if r["method"] == "spatial-mean")
    for e, err in zip(result["elements"], mean["per_element"], strict=True):
        if e["exact"]:
            assert err < 1e-5 and e["round_trip"] == 0
        else:
            assert err > 1e-3 and e["round_trip"] > 1e-3
    assert mean["equivariance_error"] >= max(
        err for e, err in zip(result["elements"], mean["per_element"], strict=True) if e["exact"]
    )
    table = render(result)
    assert "per element" in table and "r^1" in table and "equivariance" in table


def test_check_of_equivariant_methods_on_copies_undoes_each_copys_element(rng):
    base = grid_file("c4:grid", rng, b=20)
    rows = np.repeat(np.arange(20), 4)
    g = np.tile(np.arange(4), 20)
    z = groups.act(base.action, np.asarray(base.z)[rows], g)[0]
    copies = LatentFile(z=z, action=base.action, ids=base.ids[rows], g=g)
    result = check_file(copies, pairs=50, samples=20)
    spread = {r["method"]: r["copies_spread"] for r in result["methods"]}
    assert spread["spatial-mean"] < 1e-5 and spread["spatial-max"] < 1e-5
    assert spread["raw"] > 0.1


@pytest.mark.parametrize(
    "shape, fragment",
    [((4, 2, 4, 5, 6), "square grid"), ((4, 2, 8, 5, 5), "axis 2 of 4"), ((4, 2, 4), "H, W")],
)
def test_bad_grid_shapes_are_one_line_errors(cli, tmp_path, shape, fragment):
    np.save(tmp_path / "z.npy", np.zeros(shape, np.float32))
    res = cli("import", tmp_path / "z.npy", "--group", "c4:grid", "-o", tmp_path / "z.st")
    assert_one_line_error(res, fragment)
    save_file(
        {"z": np.zeros(shape, np.float32)},
        str(tmp_path / "bad.st"),
        metadata={"format": "invlatent/1", "action": "c4:grid", "history": "[]"},
    )
    for cmd in (["inspect"], ["project", "-m", "spatial-mean"], ["check"]):
        assert_one_line_error(cli(*cmd, tmp_path / "bad.st"), fragment)


def test_inspect_shows_the_grid_action_and_shape(cli, rng, tmp_path):
    grid_file("d4:grid", rng, b=5, path=tmp_path / "z.st")
    info = json.loads(cli("inspect", "--json", tmp_path / "z.st").stdout)
    assert info["action"] == "d4:grid" and info["tensors"]["z"]["shape"] == [5, 3, 8, 6, 6]
    assert "d4:grid" in cli("inspect", tmp_path / "z.st").stderr


def test_check_layer_option_is_for_models_only(cli, rng, tmp_path):
    grid_file("c4:grid", rng, b=5, path=tmp_path / "z.st")
    assert_one_line_error(
        cli("check", tmp_path / "z.st", "--layer", "block1-map"), "--layer applies to MODEL DATA"
    )
