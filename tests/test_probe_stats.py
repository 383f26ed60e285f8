"""The probe's 95 % intervals cover the truth, its paired test tells identical files from different
ones, and the recommendation calls a winner only when the paired test says so."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from invlatent.analysis.probe import holm, interval, replicates, run_probe
from invlatent.analysis.recommend import recommend
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.format.projected import project_latents
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action

SIMULATIONS = 200


def _folds(n: int, k: int, rng) -> list[np.ndarray]:
    return np.array_split(rng.permutation(n), k)


def _coverage(simulate, truth: float, metric: str, regression: bool) -> float:
    """Share of SIMULATIONS seeded data sets whose interval of ``metric`` covers ``truth``."""
    rng = np.random.default_rng(0)
    hits = 0
    with threadpool_limits(limits=1, user_api="blas"):  # as inside run_probe
        for s in range(SIMULATIONS):
            y, pred = simulate(rng)
            folds = _folds(len(y), 2, rng)
            tests = [(y[f], f) for f in folds]
            scale = y.std(axis=0) if regression else None
            rep = replicates(tests, [[pred[f] for f in folds]], regression, scale, seed=s)[0]
            lo, hi = interval(rep[metric])
            hits += lo <= truth <= hi
    return hits / SIMULATIONS


def test_accuracy_intervals_cover_the_true_accuracy_about_95_percent_of_the_time():
    def simulate(rng, n=120, accuracy=0.8):
        y = rng.integers(0, 4, n)
        right = rng.random(n) < accuracy
        return y, np.where(right, y, (y + 1 + rng.integers(0, 3, n)) % 4)

    assert 0.91 <= _coverage(simulate, 0.8, "accuracy", regression=False) <= 0.99


def test_r2_intervals_cover_the_true_r2_about_95_percent_of_the_time():
    def simulate(rng, n=120):
        y = rng.standard_normal((n, 1))
        return y, y + 0.5 * rng.standard_normal((n, 1))  # R² = 1 − 0.25

    assert 0.91 <= _coverage(simulate, 0.75, "mean_r2", regression=True) <= 0.99


def test_holm_adjusts_step_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


@pytest.fixture(scope="module")
def c4_files():
    raw = make_synthetic("c4", n_samples=120, fields=3, noise=0.3, seed=3)
    return raw, project_latents(raw, "power")


def test_paired_test_on_identical_and_on_clearly_different_files(c4_files):
    _, inv = c4_files
    noise = np.random.default_rng(1).standard_normal((len(inv), 5))
    blind = LatentFile(
        z=noise.astype(np.float32), action=Action.parse("trivial"), labels=inv.labels
    )
    names = ["inv", "copy", "noise"]
    rep = run_probe([inv, inv, blind], task="knn", folds=2, seed=0, names=names)
    acc = {c["file"]: c for c in rep["comparisons"] if c["metric"] == "accuracy"}
    same, worse = acc["copy"], acc["noise"]
    assert same["difference"] == 0 and same["ci95"] == [0, 0] and same["p_value"] == 1
    assert not same["significant"]
    assert worse["significant"] and worse["difference"] < 0 and worse["ci95"][1] < 0
    assert rep["protocol"]["interval"].startswith("percentile bootstrap")
    for r in rep["results"]:
        for stat in (v for k, v in r["summary"].items()):
            assert stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1]


def _regression_file(z: np.ndarray, y: np.ndarray, name: str) -> LatentFile:
    return LatentFile(
        z=z.astype(np.float32),
        action=Action.parse("trivial"),
        targets=y.astype(np.float32),
        target_names=["y"],
        history=[make_step("project", {"method": name})],
    )


CHECK = {  # check_file's facts for two injective c8 methods, random-max 13× dearer
    "methods": [
        {"method": "bispectrum", "invariance_error": 1e-7, "spearman": 0.8,
         "trustworthiness": 0.9, "seconds": 0.01},
        {"method": "random-max", "invariance_error": 0.0, "spearman": 0.8,
         "trustworthiness": 0.9, "seconds": 0.13},
    ]
}  # fmt: skip


def _paired(rep: dict) -> dict:
    return {
        "comparisons": [c for c in rep["comparisons"] if c["metric"] == "mean_r2"],
        "n_test": rep["protocol"]["n_samples"],
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_files_equal_up_to_1e_6_noise_are_never_a_significant_winner(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((150, 6))
    y = z @ rng.standard_normal((6, 1)) + 0.3 * rng.standard_normal((150, 1))
    noisy = z + 1e-6 * rng.standard_normal(z.shape)
    files = [_regression_file(z, y, "bispectrum"), _regression_file(noisy, y, "random-max")]
    names = ["bispectrum", "random-max"]
    rep = run_probe(files, task="ridge", target=["y"], folds=3, seed=seed, names=names)
    assert not any(c["significant"] for c in rep["comparisons"])
    scores = {
        n: r["summary"]["mean_r2"]["mean"] for n, r in zip(names, rep["results"], strict=True)
    }
    rec = recommend(Action.parse("c8"), CHECK, scores, "ridge R²", paired=_paired(rep))
    assert not rec["significant"] and set(rec["tied"]) == set(names)
    assert rec["method"] == "bispectrum"
    assert "tied on this data" in rec["reason"] and "13× cheaper" in rec["reason"]


def test_a_clearly_better_method_wins_significantly():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((150, 6))
    y = z @ rng.standard_normal((6, 1)) + 0.1 * rng.standard_normal((150, 1))
    blurred = z + 2.0 * rng.standard_normal(z.shape)
    files = [_regression_file(blurred, y, "bispectrum"), _regression_file(z, y, "random-max")]
    names = ["bispectrum", "random-max"]
    rep = run_probe(files, task="ridge", target=["y"], folds=3, seed=0, names=names)
    scores = {
        n: r["summary"]["mean_r2"]["mean"] for n, r in zip(names, rep["results"], strict=True)
    }
    rec = recommend(Action.parse("c8"), CHECK, scores, "ridge R²", paired=_paired(rep))
    assert rec["method"] == "random-max" and rec["significant"] and rec["tied"] == ["random-max"]
    assert "significantly" in rec["reason"]


def test_without_a_probe_the_rule_says_so():
    rec = recommend(Action.parse("c8"), CHECK)
    assert not rec["significant"] and rec["tied"] == []
    assert "no probe was possible" in rec["reason"]


def test_weighted_metrics_with_unit_weights_are_the_reported_metrics(rng):
    from invlatent.analysis.probe import (
        classification,
        regression,
        weighted_classification,
        weighted_regression,
    )

    y = rng.integers(0, 5, 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 6, 300))
    ones = np.ones((1, 300))
    got = weighted_classification(y, pred, ones)
    assert {k: float(v[0]) for k, v in got.items()} == pytest.approx(classification(y, pred))
    yr = rng.standard_normal((300, 3))
    pr = yr + 0.5 * rng.standard_normal((300, 3))
    got = weighted_regression(yr, pr, yr.std(axis=0), ones)
    for j, want in enumerate(regression(yr, pr, yr.std(axis=0))):
        assert {m: float(got[m][0, j]) for m in want} == pytest.approx(want)
