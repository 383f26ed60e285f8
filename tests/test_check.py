"""``invlatent project`` and ``invlatent check`` on latent files, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent import groups
from invlatent.analysis.check import check_file
from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.groups.action import Action


def make_file(group, rng, b=120, path=None) -> LatentFile:
    """A small latent file of a group's layout with labels, ids, g, a split and a history."""
    action = Action.parse(group)
    shape = {"sn": (b, 6, 2), "so2": (b, action.so2_dim), "trivial": (b, 5)}.get(
        action.kind, (b, 4, max(action.group_size, 1))
    )
    z = rng.standard_normal(shape).astype(np.float32)
    lf = LatentFile(
        z=z,
        action=action,
        mask=(rng.random((b, 6)) < 0.8) if action.kind == "sn" else None,
        labels=rng.integers(0, 3, b),
        ids=np.arange(b, dtype=np.int64),
        g=None if action.kind == "trivial" else groups.sample(action, b, rng, 6),
        extra={"split": (np.arange(b) % 3).astype(np.uint8)},
        history=[make_step("synthetic", {"n": b}, seed=0)],
        meta={"split_names": '["train", "val", "test"]'},
    )
    if path is not None:
        latentfile.write(lf, str(path))
    return lf


@pytest.mark.parametrize("group", ["sn", "c8", "d4", "so2:0,1,1,2"])
def test_check_separates_invariant_methods_from_the_raw_latents(rng, group):
    result = check_file(make_file(group, rng), pairs=300, samples=40, seed=1)
    rows = {r["method"]: r for r in result["methods"]}
    for name, r in rows.items():
        if r["invariant"] == "yes":
            assert r["invariance_error"] < 1e-5, name
        assert r["collisions"] == 0 or name in ("sum", "mean", "pool-mean", "random-linear"), name
    assert rows["raw"]["invariance_error"] > 0.1
    cross = [r for r in rows.values() if r["orbit_distance"] is not None]
    assert cross and all(r["orbit_distance"] < 1e-5 for r in cross)


def _with_copies(lf: LatentFile, rng, k: int, noise: float) -> LatentFile:
    """k transformed copies of every object (sharing its id), each perturbed by ``noise``."""
    b = len(lf)
    rows = np.repeat(np.arange(b), k)
    g = groups.sample(lf.action, b * k, rng, lf.z.shape[1])
    z, mask = groups.act(
        lf.action, np.asarray(lf.z)[rows], g, None if lf.mask is None else lf.mask[rows]
    )
    z = z + noise * rng.standard_normal(z.shape).astype(np.float32)
    return LatentFile(z=z.astype(np.float32), action=lf.action, mask=mask, ids=lf.ids[rows], g=g)


@pytest.mark.parametrize("group", ["sn", "c8", "so2:0,1,1,2"])
def test_check_measures_invariance_on_real_copies_sharing_an_id(rng, group):
    base = make_file(group, rng, b=30)
    exact = check_file(_with_copies(base, rng, 4, 0.0), pairs=100, samples=30, seed=2)
    noisy = check_file(_with_copies(base, rng, 4, 0.05), pairs=100, samples=30, seed=2)
    for e, n in zip(exact["methods"], noisy["methods"], strict=True):
        if e["invariant"] == "yes":
            assert e["copies_spread"] < 1e-5, e["method"]
            assert 1e-3 < n["copies_spread"] < 0.5, n["method"]
    raw = {r["method"]: r for r in exact["methods"]}["raw"]
    assert raw["copies_spread"] > 0.1
    alone = check_file(base, ["raw"], pairs=10, samples=10)
    assert alone["methods"][0]["copies_spread"] is None


def test_check_identity_on_trivial_latents_retains_everything(rng):
    result = check_file(make_file("trivial", rng), pairs=300, samples=40)
    (row,) = result["methods"]
    assert row["spearman"] == pytest.approx(1.0) and row["trustworthiness"] == pytest.approx(1.0)


def test_check_cli_json_measures_the_chosen_methods(cli, rng, tmp_path):
    make_file("c8", rng, path=tmp_path / "z.st")
    res = cli(
        "check",
        tmp_path / "z.st",
        "--method",
        "raw",
        "--method",
        "power",
        "--json",
        "--pairs",
        200,
        "--samples",
        30,
    )
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert [r["method"] for r in out["methods"]] == ["raw", "power"]
    assert (
        out["methods"][0]["invariance_error"] > 0.1 > 1e-5 > out["methods"][1]["invariance_error"]
    )
    again = cli(
        "check", tmp_path / "z.st", "-m", "power", "--json", "--pairs", 200, "--samples", 30
    )
    table = cli("check", tmp_path / "z.st", "-m", "power", "--pairs", 200, "--samples", 30)
    assert table.stdout_bytes == b"" and "power" in table.stderr and "spearman" in table.stderr
    assert json.loads(again.stdout)["methods"][0]["spearman"] == out["methods"][1]["spearman"]


def test_check_errors_are_one_line(cli, rng, tmp_path):
    make_file("c8", rng, path=tmp_path / "z.st")
    assert_one_line_error(cli("check", tmp_path / "z.st", "-m", "sort"), "unknown method 'sort'")
    assert_one_line_error(cli("check", tmp_path / "missing.st"), "no such file")
    assert_one_line_error(cli("check", "a", "b", "c"), "got 3 arguments")


@pytest.mark.parametrize(
    ("group", "method"),
    [("sn", "sort"), ("c8", "canonical"), ("d4", "random-max"), ("so2:0,1,1,2", "bispectrum")],
)
def test_project_writes_an_invariant_file_that_keeps_side_information(
    cli, rng, tmp_path, group, method
):
    lf = make_file(group, rng, path=tmp_path / "z.st")
    res = cli(
        "project", tmp_path / "z.st", "--method", method, "--seed", 5, "-o", tmp_path / "p.st"
    )
    assert res.exit_code == 0, res.stderr
    out = latentfile.read(str(tmp_path / "p.st"))
    assert out.action.kind == "trivial" and out.mask is None and out.z.dtype == np.float32
    for name in ("labels", "ids", "g"):
        np.testing.assert_array_equal(getattr(out, name), getattr(lf, name))
    np.testing.assert_array_equal(out.extra["split"], lf.extra["split"])
    assert out.meta["split_names"] == lf.meta["split_names"]
    step = out.history[-1]
    assert (
        step["command"] == "project" and step["options"]["method"] == method and step["seed"] == 5
    )
    assert step["inputs"][0]["sha256"] == latentfile.sha256_of((tmp_path / "z.st").read_bytes())
    if method == "sort":
        assert out.extra["perm"].shape == lf.mask.shape and "n_nodes" in out.extra
    if method == "canonical":
        assert out.extra["canon"].shape == (len(lf),)


def test_project_stdout_same_seed_same_bytes(cli, rng, tmp_path):
    make_file("c8", rng, path=tmp_path / "z.st")
    data = (tmp_path / "z.st").read_bytes()
    runs = [cli("project", "-", "-m", "random-sort", "--seed", s, input=data) for s in (1, 1, 2)]
    assert all(r.exit_code == 0 for r in runs)
    assert runs[0].stdout_bytes == runs[1].stdout_bytes != runs[2].stdout_bytes
    cli("project", tmp_path / "z.st", "-m", "random-sort", "--seed", 1, "-o", tmp_path / "p.st")
    proj = latentfile.loads(runs[0].stdout_bytes)
    np.testing.assert_array_equal(proj.z, latentfile.read(str(tmp_path / "p.st")).z)


def test_project_errors_are_one_line_and_leave_no_file(cli, rng, tmp_path):
    make_file("sn", rng, path=tmp_path / "z.st")
    dest = tmp_path / "p.st"
    for args, frag in [
        (["-m", "power"], "unknown method 'power' for action sn"),
        (["-m", "sort", "--key-channel", 5], "out of range"),
        (["-m", "sortembed", "--dim", 0], "dim must be at least 1"),
        ([], "choose a method with --method"),
    ]:
        assert_one_line_error(cli("project", tmp_path / "z.st", *args, "-o", dest), frag)
    assert_one_line_error(cli("project", tmp_path / "nope.st", "-m", "sort"), "no such file")
    assert not dest.exists()


def test_project_list_prints_the_guarantees(cli, rng, tmp_path):
    res = cli("project", "--list")
    assert res.exit_code == 0 and res.stdout_bytes == b""
    for word in ("sort", "bispectrum", "random-max", "isometric", "identity", "so2"):
        assert word in res.stderr
    make_file("d4", rng, path=tmp_path / "z.st")
    table = json.loads(cli("project", tmp_path / "z.st", "--list", "--json").stdout)
    assert list(table) == ["d4"] and table["d4"][0]["method"] == "pool-max"


def test_the_projection_path_does_not_import_torch():
    code = (
        "import sys; import invlatent.cli.project, invlatent.cli.check_, "
        "invlatent.projections, invlatent.groups.quotient, invlatent.analysis.check; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
