"""Gates for CI: exit 0 when every asked-for condition holds, 1 when one fails (one line each on
stderr, results still on stdout), 2 for bad input; the same gates in Python (invlatent.testing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, save_tiny_cnn

from invlatent import testing
from invlatent.format.latentfile import LatentFile, write
from invlatent.format.projected import project_latents
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action
from invlatent.pipelines.images import gconv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """raw.st (c4 latents in random poses, classes told apart by the orbit) and inv.st."""
    folder = tmp_path_factory.mktemp("gates")
    raw = make_synthetic("c4", n_samples=120, fields=3, noise=0.2, seed=4)
    paths = str(folder / "raw.st"), str(folder / "inv.st")
    write(raw, paths[0])
    write(project_latents(raw, "power"), paths[1])
    return paths


def _failures(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("invlatent: failed:")]


def test_probe_expectations_that_hold_exit_0_and_failing_ones_exit_1(cli, files):
    raw, inv = files
    ok = cli("probe", raw, inv, "--task", "knn", "--folds", "2", "--json",
             "--expect", f"{inv} > {raw}", "--expect", "project:power >= 0.8")  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    assert [e["holds"] for e in json.loads(ok.stdout)["expectations"]] == [True, True]
    bad = cli("probe", raw, inv, "--task", "knn", "--folds", "2", "--json",
              "--expect", f"{raw} > {inv}", "--expect", f"{raw}.macro_f1 >= 0.99",
              "--expect", f"{inv} >= {raw}")  # fmt: skip
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)  # the results still come
    assert [e["holds"] for e in report["expectations"]] == [False, False, True]
    lines = _failures(bad)
    assert len(lines) == 2 and "raw c4 − project:power" in lines[0] and "macro_f1" in lines[1]


@pytest.mark.parametrize(
    ("expect", "fragment"),
    [
        ("nothing.st > x", "no input named 'nothing.st'"),
        ("raw c4 >> 0.5", "expected 'A > B'"),
        ("project:power >= 1.5", "outside the range of accuracy"),
        ("project:power.mean_r2 >= 0.5", "not a metric of a classification probe"),
    ],
)
def test_bad_expectations_are_one_line_naming_the_flag(cli, files, expect, fragment):
    result = cli("probe", *files, "--folds", "2", "--expect", expect)
    assert_one_line_error(result, "--expect", fragment)


@pytest.mark.parametrize("alpha", ["0", "1", "1.5"])
def test_alpha_outside_0_1_is_refused(cli, files, alpha):
    assert_one_line_error(cli("probe", *files, "--alpha", alpha), "--alpha")


def test_too_few_test_rows_warn_but_do_not_crash(cli, tmp_path):
    lf = make_synthetic("trivial", n_samples=8, n_classes=2, fields=2, seed=0)
    write(lf, tmp_path / "few.st")
    result = cli("probe", tmp_path / "few.st", "--folds", "2", "--task", "knn", "--json")
    assert result.exit_code == 0, result.stderr
    warning = "only 8 test rows"
    assert any(warning in w for w in json.loads(result.stdout)["warnings"])
    assert warning in result.stderr


def test_check_max_error_gates_the_projections_and_raw_only_when_named(cli, files):
    raw, _ = files
    opts = ("--samples", "64", "--pairs", "100")
    ok = cli("check", raw, *opts, "--max-error", "1e-4", "--json")  # every method, raw too
    assert ok.exit_code == 0, ok.stderr
    measured = {r["method"]: r["invariance_error"] for r in json.loads(ok.stdout)["methods"]}
    assert measured["raw"] > 1e-4  # measured, not gated
    bad = cli("check", raw, "-m", "power", "-m", "raw", *opts, "--max-error", "1e-4", "--json")
    assert bad.exit_code == 1 and len(json.loads(bad.stdout)["methods"]) == 2
    assert len(_failures(bad)) == 1 and "raw: error" in _failures(bad)[0]
    for limit in ("0", "-1"):
        assert_one_line_error(cli("check", raw, "--max-error", limit), "--max-error")


def test_check_gates_exact_and_approximate_grid_elements_apart(cli, tmp_path):
    z = np.random.default_rng(0).standard_normal((12, 2, 8, 9, 9)).astype(np.float32)
    path = tmp_path / "grid.st"
    write(LatentFile(z=z, action=Action.parse("c8:grid")), path)
    args = ("check", path, "-m", "spatial-mean", "--samples", "12", "--pairs", "20", "--json")
    result = json.loads(cli(*args).stdout)
    exact = [e["exact"] for e in result["elements"]]
    errors = result["methods"][0]["per_element"]
    worst_exact = max(e for e, x in zip(errors, exact, strict=True) if x)
    worst_approx = max(e for e, x in zip(errors, exact, strict=True) if not x)
    assert worst_exact < 1e-4 < worst_approx
    assert cli(*args, "--max-error", "1e-4").exit_code == 0
    gated = cli(*args, "--max-error", "1e-4", "--max-error-approx", f"{worst_approx / 2:g}")
    assert gated.exit_code == 1 and all("approximate" in line for line in _failures(gated))


def test_check_of_a_lifted_model_gates_exact_elements_and_approximate_ones_on_request(
    cli, tmp_path
):
    save_tiny_cnn(tmp_path / "cnn.pt")
    args = ("check", tmp_path / "cnn.pt", "digits:16", "--lift", "c8", "--samples", "6")
    exact_only = cli(*args, "--max-error", "1e-5")
    assert exact_only.exit_code == 0, exact_only.stderr  # 45° turns reported, not gated
    both = cli(*args, "--max-error", "1e-5", "--max-error-approx", "1e-4", "--json")
    assert both.exit_code == 1 and json.loads(both.stdout)["lift"] == "c8"
    lines = _failures(both)
    assert len(lines) == 4 and all("(approximate)" in line for line in lines)


def test_assert_invariant_passes_projections_and_fails_raw(rng):
    z = rng.standard_normal((30, 3, 8)).astype(np.float32)
    for method in ("power", "bispectrum", "random-max"):
        assert testing.assert_invariant(method, "c8", z) <= testing.TOLERANCE
    assert testing.invariance_error(lambda v: np.sort(v, axis=-1), "c8", z) < 1e-6
    with pytest.raises(AssertionError, match="invariance error"):
        testing.assert_invariant("raw", "c8", z)


class _Pooled(torch.nn.Module):
    """A lifting convolution, then the mean over the grid (cN fields [B, F, N]: equivariant) or
    one pixel of it (``spot``: not equivariant)."""

    def __init__(self, group: str, spot: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.lift = gconv.LiftingConv(Action.parse(group), 1, 3, 5, "pixel")
        self.spot = spot

    def forward(self, x):
        h = self.lift(x)
        return h[..., 3, 5] if self.spot else h.mean(dim=(-2, -1))


def test_assert_equivariant_on_a_torch_encoder(rng):
    x = rng.random((4, 1, 12, 12)).astype(np.float32)
    rows = testing.assert_equivariant(_Pooled("c4"), "c4", x)
    assert [r["exact"] for r in rows] == [True] * 4
    with pytest.raises(AssertionError, match="not equivariant"):
        testing.assert_equivariant(_Pooled("c4", spot=True), "c4", x)
    c8 = testing.equivariance_error(_Pooled("c8"), "c8", x)
    approx = [r["error"] for r in c8 if not r["exact"]]
    assert len(approx) == 4 and max(r["error"] for r in c8 if r["exact"]) < testing.TOLERANCE
    testing.assert_equivariant(_Pooled("c8"), "c8", x)  # approximate elements: reported only
    with pytest.raises(AssertionError, match="approximate"):
        testing.assert_equivariant(_Pooled("c8"), "c8", x, tol_approx=min(approx) / 2)


@pytest.mark.slow
def test_the_ci_script_passes_a_good_projection_and_fails_a_regression(tmp_path):
    """examples/ci_gate.sh run as CI runs it: three invlatent processes on a small file."""
    lf = make_synthetic("c4", n_samples=80, fields=3, noise=0.2, seed=2)
    write(lf, tmp_path / "z.st")
    script = os.path.join(ROOT, "examples", "ci_gate.sh")
    env = {**os.environ, "INVLATENT": f"{sys.executable} -m invlatent", "OUT": str(tmp_path)}
    run = lambda **extra: subprocess.run(  # noqa: E731
        ["bash", script, str(tmp_path / "z.st")], env={**env, **extra}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    ok = run()
    assert ok.returncode == 0, ok.stderr
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert all(e["holds"] for e in probe["expectations"])
    regressed = run(METHOD="raw")  # raw latents: not invariant, check fails the job
    assert regressed.returncode == 1
    assert "invlatent: failed: raw: error" in regressed.stderr
