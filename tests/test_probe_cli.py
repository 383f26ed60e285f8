"""`invlatent probe` through the real CLI: the paper's effect, determinism, sklearn agreement,
the leakage guard, fixed splits and one clear message for each bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent import groups
from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.groups.action import Action


def _write(path, z, action="trivial", history=(), **fields) -> str:
    lf = LatentFile(z=np.asarray(z, dtype=np.float32), action=Action.parse(action), **fields)
    lf.history.extend(history)
    latentfile.write(lf, str(path))
    return str(path)


def _report(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _orbit_data(rng, n=400, classes=4, channels=4):
    """c8 fields whose label depends on the orbit only, each put in a random pose g."""
    proto = rng.standard_normal((classes, channels, 8))
    proto -= proto.mean(axis=-1, keepdims=True)  # no linear invariant tells the classes apart
    labels = rng.integers(0, classes, n)
    z = proto[labels] + 0.3 * rng.standard_normal((n, channels, 8))
    g = groups.sample(Action.parse("c8"), n, rng)
    z, _ = groups.act(Action.parse("c8"), z, g)
    return z.astype(np.float32), labels.astype(np.int64), g


@pytest.fixture
def orbit_files(tmp_path, rng, cli):
    """raw.st (c8 latents in random poses) and inv.st (their power spectrum, via import)."""
    z, labels, g = _orbit_data(rng)
    ids = np.arange(len(z), dtype=np.int64)
    raw = _write(
        tmp_path / "raw.st", z, "c8", [make_step("encode", {})], labels=labels, g=g, ids=ids
    )
    power = (np.abs(np.fft.rfft(z, axis=-1)) ** 2).reshape(len(z), -1)
    assert np.allclose(
        power,
        (np.abs(np.fft.rfft(groups.act("c8", z, g)[0], axis=-1)) ** 2).reshape(len(z), -1),
        atol=1e-3,
    )
    np.savez(tmp_path / "inv.npz", z=power.astype(np.float32), labels=labels, ids=ids)
    inv = str(tmp_path / "inv.st")
    assert cli("import", tmp_path / "inv.npz", "--group", "trivial", "-o", inv).exit_code == 0
    return raw, inv


def test_invariant_projection_beats_raw_latents(cli, orbit_files):
    raw, inv = orbit_files
    report = _report(cli("probe", "--task", "linear", raw, inv, "--json"))
    acc = {r["file"]: r["summary"]["accuracy"]["mean"] for r in report["results"]}
    assert acc[inv] >= 0.95
    assert acc[raw] <= acc[inv] - 0.3
    by_file = {r["file"]: r for r in report["results"]}
    assert by_file[raw]["flattened"] and not by_file[inv]["flattened"]
    assert by_file[raw]["name"] == "raw c8"


def test_report_has_every_fold_and_the_table_goes_to_stderr(cli, orbit_files):
    raw, inv = orbit_files
    result = cli("probe", raw, inv, "--folds", "3", "--seed", "7", "--json")
    report = _report(result)
    assert report["seed"] == 7 and report["protocol"]["type"] == "stratified-kfold"
    for r in report["results"]:
        assert [f["fold"] for f in r["folds"]] == [0, 1, 2]
        assert sum(f["n_test"] for f in r["folds"]) == 400
        assert all(f["hyperparameters"]["C"] > 0 for f in r["folds"])
        accs = [f["metrics"]["accuracy"] for f in r["folds"]]
        stat = r["summary"]["accuracy"]
        assert {k: stat[k] for k in ("mean", "std")} == pytest.approx(
            {"mean": np.mean(accs), "std": np.std(accs)}
        )
        assert stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1]
    assert "raw c8" in result.stderr and "flat 4×8" in result.stderr
    assert "{" not in result.stderr
    quiet = cli("probe", raw, inv, "--folds", "3")
    assert quiet.exit_code == 0 and quiet.stdout_bytes == b""


def test_same_seed_same_json_and_output_file(cli, orbit_files, tmp_path):
    inv = orbit_files[1]  # one file: the MLP's seeded start and splits are what is tested
    out = tmp_path / "results.json"
    runs = [cli("probe", "--task", "mlp", inv, "--seed", "3", "--json")]
    again = cli("probe", "--task", "mlp", inv, "--seed", "3", "-o", out)
    assert again.stdout_bytes == b"" and out.read_bytes() == runs[0].stdout_bytes
    other = cli("probe", "--task", "mlp", inv, "--seed", "4", "--json")
    assert other.stdout_bytes != runs[0].stdout_bytes


def _copies_file(tmp_path, rng, with_ids: bool) -> str:
    """60 objects, 10 near-identical copies each, labels random per object: built to leak."""
    objects, copies = 60, 10
    ids = np.repeat(np.arange(objects), copies)
    z = rng.standard_normal((objects, 16))[ids] + 0.05 * rng.standard_normal((len(ids), 16))
    labels = rng.integers(0, 3, objects)[ids]
    side = {"ids": ids.astype(np.int64)} if with_ids else {}
    name = "copies_ids.st" if with_ids else "copies.st"
    return _write(tmp_path / name, z, labels=labels.astype(np.int64), **side)


def test_leakage_guard_keeps_copies_of_one_object_on_one_side(cli, tmp_path, rng):
    leaky, guarded = _copies_file(tmp_path, rng, False), _copies_file(tmp_path, rng, True)
    free = _report(cli("probe", "--task", "knn", leaky, "--json"))
    kept = _report(cli("probe", "--task", "knn", guarded, "--json"))
    assert free["protocol"]["grouped_by"] is None
    assert kept["protocol"]["grouped_by"] == "ids" and kept["protocol"]["n_objects"] == 60
    assert kept["protocol"]["type"] == "stratified-group-kfold"
    assert free["results"][0]["summary"]["accuracy"]["mean"] >= 0.95  # it recognises copies
    assert kept["results"][0]["summary"]["accuracy"]["mean"] <= 0.65  # labels are noise


def test_fixed_split_is_used_and_said(cli, tmp_path, rng):
    z = rng.standard_normal((300, 6))
    labels = (z[:, 0] > 0).astype(np.int64)
    split = np.repeat(np.array([0, 1, 2], dtype=np.uint8), 100)
    path = _write(tmp_path / "split.st", z, labels=labels, extra={"split": split})
    result = cli("probe", path, "--json")
    report = _report(result)
    assert (
        report["protocol"]["type"] == "fixed-split" and report["protocol"]["tuning"] == "val part"
    )
    (fold,) = report["results"][0]["folds"]
    assert (fold["n_train"], fold["n_test"], fold["n_tuning"]) == (200, 100, 100)
    assert "fixed split" in result.stderr
    override = cli("probe", path, "--folds", "4", "--json")
    assert _report(override)["protocol"]["type"] == "stratified-kfold"
    assert "ignoring the file's split" in override.stderr


def test_logistic_and_ridge_match_sklearn_refits(cli, tmp_path, rng):
    """With a fixed split the whole pipeline can be redone in scikit-learn from the report."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.preprocessing import StandardScaler

    z = rng.standard_normal((240, 5)) * [1, 5, 0.1, 2, 1]
    labels = (z @ [1, 0.2, 3, 0, 0] + rng.standard_normal(240) > 0).astype(np.int64)
    targets = np.stack([z[:, 0] * 2 + rng.standard_normal(240), z[:, 1] ** 2], 1)
    split = np.repeat(np.array([0, 1, 2], dtype=np.uint8), 80)
    fields = {"labels": labels, "targets": targets.astype(np.float32), "target_names": ["a", "b"]}
    path = _write(tmp_path / "f.st", z, extra={"split": split}, **fields)
    train, test = split != 2, split == 2
    scaler = StandardScaler().fit(z[train].astype(np.float32))
    xtr, xte = scaler.transform(z[train]), scaler.transform(z[test])

    fold = _report(cli("probe", path, "--json"))["results"][0]["folds"][0]
    ref = LogisticRegression(C=fold["hyperparameters"]["C"], max_iter=1000).fit(xtr, labels[train])
    want = balanced_accuracy_score(labels[test], ref.predict(xte))
    assert fold["metrics"]["balanced_accuracy"] == pytest.approx(want)

    fold = _report(cli("probe", "--task", "ridge", "--target", "a,b", path, "--json"))
    fold = fold["results"][0]["folds"][0]
    ref = Ridge(alpha=np.array(fold["hyperparameters"]["alpha"])).fit(xtr, targets[train])
    r2 = r2_score(targets[test], ref.predict(xte), multioutput="raw_values")
    assert [fold["targets"][t]["r2"] for t in "ab"] == pytest.approx(r2, abs=1e-4)
    assert fold["targets"]["a"]["r2"] > 0.6


@pytest.mark.parametrize("task", ["ridge", "knn", "mlp"])
def test_regression_probes_read_a_linear_target(cli, tmp_path, rng, task):
    z = rng.standard_normal((300, 4))
    targets = np.stack([z[:, 0] + 0.1 * rng.standard_normal(300), rng.standard_normal(300)], 1)
    path = _write(
        tmp_path / "r.st", z, targets=targets.astype(np.float32), target_names=["y", "noise"]
    )
    report = _report(cli("probe", "--task", task, "--target", "y,noise", path, "--json"))
    summary = report["results"][0]["summary"]
    assert report["kind"] == "regression"
    assert summary["targets"]["y"]["r2"]["mean"] > 0.8
    assert summary["targets"]["noise"]["r2"]["mean"] < 0.2
    assert summary["mean_r2"]["mean"] == pytest.approx(
        np.mean([summary["targets"][t]["r2"]["mean"] for t in ("y", "noise")])
    )


def test_euclidean_knn_runs(cli, orbit_files):
    raw, inv = orbit_files
    report = _report(cli("probe", "--task", "knn", "--metric", "euclidean", inv, "--json"))
    assert report["probe"] == "knn-euclidean"
    assert report["results"][0]["summary"]["accuracy"]["mean"] >= 0.9


def test_nan_targets_are_dropped_with_a_count(cli, tmp_path, rng):
    z = rng.standard_normal((100, 3))
    targets = z[:, :1].copy()
    targets[[3, 50, 77]] = np.nan
    path = _write(tmp_path / "n.st", z, targets=targets.astype(np.float32), target_names=["y"])
    result = cli("probe", "--task", "ridge", "--target", "y", path, "--json")
    report = _report(result)
    assert report["protocol"]["dropped_rows"] == 3 and report["protocol"]["n_samples"] == 97
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "invlatent: warning: dropped 3 of 100 rows whose targets (y) hold NaN or Inf"
    ]


@pytest.fixture
def small(tmp_path, rng):
    z = rng.standard_normal((20, 3))
    labels = np.arange(20, dtype=np.int64) % 2
    t = z[:, :1].astype(np.float32)
    return {
        "labels": _write(tmp_path / "l.st", z, labels=labels, ids=np.arange(20)),
        "targets": _write(tmp_path / "t.st", z, targets=t, target_names=["mu"]),
        "one_class": _write(tmp_path / "c.st", z, labels=np.zeros(20, dtype=np.int64)),
        "short": _write(tmp_path / "s.st", z[:19], labels=labels[:19]),
        "other_ids": _write(tmp_path / "i.st", z, labels=labels, ids=np.arange(20) + 1),
        "tiny": _write(tmp_path / "y.st", z[:4], labels=labels[:4]),
    }


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["--task", "linear", "{targets}"],
            ["no labels for a classification probe", "--target mu"],
        ),
        (["--target", "mass", "{targets}"], ["no target named 'mass'", "it has mu"]),
        (["--target", "mu", "{labels}"], ["no regression targets"]),
        (["{one_class}"], ["single class"]),
        (["{tiny}"], ["only 4 samples for 5 folds"]),
        (["{labels}", "{short}"], ["19 samples", "same samples"]),
        (["{labels}", "{other_ids}"], ["ids differ", "same samples"]),
        (["--task", "ridge", "{labels}"], ["task ridge does not fit labels"]),
        (["--task", "logistic", "--target", "mu", "{targets}"], ["does not fit regression"]),
        (["--task", "svm", "{labels}"], ["unknown task 'svm'"]),
        (["--metric", "manhattan", "{labels}"], ["unknown metric"]),
        (["--folds", "1", "{labels}"], ["folds must be at least 2"]),
        (["{labels}", "-o", "/no/such/folder/r.json"], ["does not exist"]),
        (["-", "-"], ["stdin (-) can be read only once"]),
        (["missing.st"], ["missing.st: no such file"]),
    ],
)
def test_bad_input_gives_one_line(cli, small, args, fragments):
    result = cli("probe", *[a.format(**small) for a in args])
    assert_one_line_error(result, *fragments)


def test_small_classes_are_warned_about(cli, tmp_path, rng):
    z = rng.standard_normal((40, 3))
    labels = np.r_[np.zeros(37), np.ones(3)].astype(np.int64)
    result = cli("probe", _write(tmp_path / "w.st", z, labels=labels), "--json")
    assert result.exit_code == 0
    assert "invlatent: warning: class 1 has fewer samples than the 5 folds" in result.stderr


def test_probe_stage_does_not_import_torch(tmp_path, rng):
    import subprocess
    import sys

    path = _write(tmp_path / "p.st", rng.standard_normal((30, 3)), labels=np.arange(30) % 2)
    code = (
        "import sys; from invlatent.cli import app\n"
        f"try: app(['probe', {path!r}])\nexcept SystemExit: pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_fixed_split_that_separates_copies_badly_is_warned_about(cli, tmp_path, rng):
    ids = np.repeat(np.arange(50), 2)
    z = rng.standard_normal((50, 4))[ids]
    split = np.tile(np.array([0, 2], dtype=np.uint8), 50)  # each object's two copies straddle
    labels = (z[:, 0] > 0).astype(np.int64)
    path = _write(tmp_path / "s.st", z, labels=labels, ids=ids, extra={"split": split})
    result = cli("probe", path, "--json")
    assert _report(result)["protocol"]["type"] == "fixed-split"
    assert "copies of 50 ids on both train and test sides" in result.stderr


@pytest.mark.parametrize(
    "pose, warned",
    [("random", False), ("identity", True), ("unrecorded", True)],
)
def test_raw_latents_in_their_source_pose_are_warned_about(cli, tmp_path, rng, pose, warned):
    z, labels, g = _orbit_data(rng, n=120)
    fields = {"random": {"g": g}, "identity": {"g": np.zeros_like(g)}, "unrecorded": {}}[pose]
    raw = _write(tmp_path / "raw.st", z, "c8", labels=labels, **fields)
    inv = _write(tmp_path / "inv.st", z.max(axis=-1), labels=labels)
    r = cli("probe", "--task", "linear", "--folds", "3", raw, inv, "--json")
    posed = [w for w in _report(r)["warnings"] if "source pose" in w or "records no" in w]
    assert len(posed) == int(warned)
    assert (raw in r.stderr and "--rotate random" in r.stderr) == warned
    if warned:
        assert posed[0].startswith(raw)
