"""scripts/reproduce.py's table (issue 25): probe claims carry each seed's 95 % interval, and
differences the paired test's verdict, read off fake ``probe --json`` reports (no command runs)."""

import importlib.util
import pathlib
import sys

import pytest

SCRIPT = pathlib.Path(__file__).parent.parent / "scripts" / "reproduce.py"


def _script(monkeypatch):
    spec = importlib.util.spec_from_file_location("reproduce", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "reproduce", mod)  # its dataclasses look themselves up
    spec.loader.exec_module(mod)
    return mod


def _report(means: list[float], significant: list[bool]) -> dict:
    """A ``probe --json`` report of files f0, f1, ... (f0 the baseline) on accuracy."""
    results = [
        {"file": f"f{i}", "summary": {"accuracy": {"mean": m, "ci95": [m - 0.01, m + 0.02]}}}
        for i, m in enumerate(means)
    ]
    comparisons = [
        {"baseline": "f0", "file": f"f{i}", "metric": metric, "difference": m - means[0],
         "ci95": [m - means[0] - 0.005, m - means[0] + 0.005], "p_uncorrected": 0.01,
         "p_value": 0.01 if sig else 0.3, "significant": sig}
        for i, (m, sig) in enumerate(zip(means[1:], significant, strict=True), 1)
        for metric in ("accuracy", "macro_f1")
    ]  # fmt: skip
    protocol = {"interval": "percentile bootstrap of the test rows", "alpha": 0.05}
    return {"protocol": protocol, "results": results, "comparisons": comparisons}


def test_probe_claims_get_intervals_and_differences_their_paired_test(monkeypatch):
    rp = _script(monkeypatch)
    keys = ["plain", "lift:raw", *(f"lift:{m}" for m in rp.LIFT_METHODS)]
    means = [0.88, 0.90, 0.91, 0.89, 0.89, 0.90, 0.92]
    per_seed = {
        0: rp.probed(_report(means, [True] * 6), keys, "accuracy"),
        1: rp.probed(_report([0.93, *means[1:]], [False] * 6), keys, "accuracy"),
    }
    assert per_seed[0]["cmp:lift:random-max"]["difference"] == 0.92 - 0.88
    rows = {r["claim"]: r for r in rp.aggregate(rp.LIFT, per_seed)}
    plain = rows["linear probe, the CNN's own features (invariant only by augmentation)"]
    assert plain["intervals"] == [pytest.approx([0.87, 0.9]), pytest.approx([0.92, 0.95])]
    assert plain["interval_text"] == "[0.870, 0.900] (seed 0); all 2 seeds within [0.870, 0.950]"
    assert plain["significance_text"] == "–"
    best = rows["lifting + the best invariant − the CNN's own features (points)"]
    # seed 1: the plain features win by 1 point; its (not significant) test is of the best file
    assert [round(t["difference"], 6) for t in best["tests"]] == [4.0, -1.0]
    assert best["interval_text"] == "[+3.5, +4.5] pt (seed 0); all 2 seeds within [-1.5, +4.5]"
    assert best["significance_text"] == "1/2 seeds (difference > 0)"

    results = {"date": "d", "seeds": [0, 1], "machine": "m", "minutes": 1.0,
               "cases": [{"name": "lift-c4", "data": "x", "protocol": "y", "commands": ["c"],
                          "minutes": 1.0, "per_seed": per_seed,
                          "claims": list(rows.values())}]}  # fmt: skip
    page = rp.render(results)
    assert "*percentile bootstrap of the test rows*" in page
    assert "| significant (paired, Holm, α = 0.05) | held |" in page
    assert "| [+3.5, +4.5] pt (seed 0); all 2 seeds within [-1.5, +4.5] | 1/2 seeds" in page


def test_deterministic_claims_and_old_results_show_no_interval(monkeypatch):
    rp = _script(monkeypatch)
    per_seed = {0: {"inv:o3:16x0e+8x1o+4x2e": 3e-7, "inv:sn*o3:2x0e+2x1o+1x2e": 2e-7,
                    "canon:o3:16x0e+8x1o+4x2e": 1e-8, "canon:sn*o3:2x0e+2x1o+1x2e": 1e-8}}  # fmt: skip
    rows = rp.aggregate(rp.O3, per_seed)
    assert {(r["interval_text"], r["significance_text"]) for r in rows} == {("–", "–")}
    old = {k: v for k, v in rows[0].items() if not k.endswith("_text")}  # an earlier run's row
    results = {"date": "d", "seeds": [0], "machine": "m", "minutes": 1.0,
               "cases": [{"name": "o3", "data": "x", "protocol": "y", "commands": ["c"],
                          "minutes": 1.0, "per_seed": per_seed, "claims": [old]}]}  # fmt: skip
    assert "| 3.0e-07 ± 0e+00 (max 3.0e-07) | – | – | 1/1 |" in rp.render(results)
