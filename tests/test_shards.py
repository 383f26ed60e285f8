"""Sharded data sets: a folder or a manifest is one input; bad shards fail before any work."""

import json
import os

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent.format import latentfile as lfm
from invlatent.format.shards import read_input, write_manifest
from invlatent.format.synthetic import make_synthetic

SPLITS = (0, 70, 150, 240)


def make_shards(folder, group="c8", manifest=True, n=240):
    """The rows of one synthetic file cut into three shards; returns (whole file, data set)."""
    lf = make_synthetic(group, n_samples=n, seed=3)
    os.makedirs(folder, exist_ok=True)
    names = []
    for i, (a, b) in enumerate(zip(SPLITS, SPLITS[1:], strict=False)):
        names.append(f"part-{i:05d}.st")
        lfm.write(lf.subset(np.arange(a, b)), os.path.join(folder, names[-1]))
    rows = list(np.diff(SPLITS))
    if manifest:
        write_manifest(str(folder), names, rows, lf.action, lf.history)
        return lf, str(folder / "dataset.json")
    return lf, str(folder)


@pytest.mark.parametrize("manifest", [True, False])
def test_reading_commands_see_the_shards_as_the_joined_file(cli, tmp_path, manifest):
    lf, ds = make_shards(tmp_path / "ds", manifest=manifest)
    whole = tmp_path / "whole.st"
    lfm.write(lf, str(whole))
    back = read_input(ds)
    for name, arr in lf.tensors().items():
        np.testing.assert_array_equal(back.tensors()[name], arr)
    info = json.loads(cli("inspect", "--json", ds).stdout)
    assert info["batch"] == 240 and info["shards"] == 3
    assert info["tensors"]["z"]["shape"] == [240, *lf.z.shape[1:]]
    commands = [["check", "--json", "-m", "pool-max"], ["probe", "--json", "--task", "knn"]]
    for args in commands[: 1 + manifest]:
        a, b = cli(*args, ds), cli(*args, whole)
        assert a.exit_code == 0, a.stderr
        assert _strip(json.loads(a.stdout)) == _strip(json.loads(b.stdout))


def test_project_on_shards_writes_shards_and_a_manifest(cli, tmp_path):
    lf, ds = make_shards(tmp_path / "ds")
    assert list(json.loads(cli("project", "--list", "--json", ds).stdout)) == ["c8"]
    out = tmp_path / "proj"
    r = cli("project", "-m", "bispectrum", ds, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert sorted(os.listdir(out)) == ["dataset.json", *sorted(os.listdir(tmp_path / "ds"))[1:]]
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["rows"] == 240 and manifest["action"] == "trivial"
    assert [s["rows"] for s in manifest["shards"]] == list(np.diff(SPLITS))
    want = cli("project", "-m", "bispectrum", tmp_path / "ds" / "part-00001.st").stdout_bytes
    got = lfm.read(str(out / "part-00001.st"))
    np.testing.assert_array_equal(got.z, lfm.loads(want).z)
    whole = tmp_path / "whole.st"
    lfm.write(lf, str(whole))
    joined = read_input(str(out))
    np.testing.assert_array_equal(
        joined.z, lfm.loads(cli("project", "-m", "bispectrum", whole).stdout_bytes).z
    )
    assert joined.history[-1]["command"] == "project"


def test_a_folder_data_set_has_one_hash_wherever_it_lies(cli, tmp_path):
    _, ds = make_shards(tmp_path / "ds", manifest=False)
    moved = tmp_path / "elsewhere"
    os.rename(ds, moved)
    _, again = make_shards(tmp_path / "ds", manifest=False)
    sha = lfm.input_hash(read_input(again))
    assert lfm.input_hash(read_input(str(moved))) == sha
    assert cli("project", "-m", "pool-max", moved, "-o", tmp_path / "out").exit_code == 0
    step = json.loads((tmp_path / "out" / "dataset.json").read_text())["history"][-1]
    assert step["inputs"][0]["sha256"] == sha


def test_project_refuses_an_output_folder_with_content(cli, tmp_path):
    _, ds = make_shards(tmp_path / "ds")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = cli("project", "-m", "pool-max", ds, "-o", out)
    assert_one_line_error(r, "out", "exists and is not an empty folder")
    assert os.listdir(out) == ["keep.txt"] and sorted(os.listdir(tmp_path)) == ["ds", "out"]


def _strip(result):
    """A check/probe result without the file names and timings (which differ by design)."""
    if isinstance(result, dict):
        drop = ("file", "files", "seconds", "path", "name", "inputs")
        return {k: _strip(v) for k, v in result.items() if k not in drop}
    return [_strip(v) for v in result] if isinstance(result, list) else result


def _break(folder, how):
    if how == "missing":
        os.remove(folder / "part-00001.st")
    elif how == "action":
        other = make_synthetic("c4", n_samples=80, seed=0).subset(np.arange(80))
        lfm.write(other, str(folder / "part-00001.st"))
    elif how == "dtype":
        lf = lfm.read(str(folder / "part-00001.st"))
        lfm.write(lfm.replace(lf, z=lf.z.astype(np.float64)), str(folder / "part-00001.st"))
    elif how == "rows":
        m = json.loads((folder / "dataset.json").read_text())
        m["shards"][1]["rows"], m["rows"] = 79, 239
        (folder / "dataset.json").write_text(json.dumps(m))
    elif how == "json":
        (folder / "dataset.json").write_text("{not json")


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("missing", ["shard part-00001.st is missing"]),
        ("action", ["part-00001.st disagrees", "action"]),
        ("dtype", ["part-00001.st disagrees", "float64"]),
        ("rows", ["part-00001.st has 80 rows", "says 79"]),
        ("json", ["not valid JSON"]),
    ],
)
def test_bad_shards_give_one_line_before_any_work(cli, tmp_path, how, words):
    _, ds = make_shards(tmp_path / "ds")
    _break(tmp_path / "ds", how)
    for args in (["project", "-m", "pool-max", ds, "-o", tmp_path / "out"], ["inspect", ds]):
        assert_one_line_error(cli(*args), "dataset.json", *words)
    assert_one_line_error(cli("probe", "--task", "linear", ds), *words)
    assert sorted(os.listdir(tmp_path)) == ["ds"]


def test_large_data_sets_are_joined_on_disk_not_in_memory(tmp_path, monkeypatch):
    lf, ds = make_shards(tmp_path / "ds")
    monkeypatch.setattr("invlatent.format.shards.JOIN_IN_MEMORY", 1000)
    back = read_input(ds)
    assert isinstance(back.z, np.memmap)
    for name, arr in lf.tensors().items():
        np.testing.assert_array_equal(back.tensors()[name], arr)
