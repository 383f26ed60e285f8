"""`invlatent report` and `project --method auto`: the principles applied, through the real CLI."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent.analysis.recommend import recommend
from invlatent.analysis.report import fmt
from invlatent.format import latentfile
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action

FAST = ["--tasks", "linear", "--embeddings", "pca", "--samples", "48", "--pairs", "200",
        "--orbits", "2", "--folds", "3"]  # fmt: skip


def _file(tmp_path, action="c8", name="z.st", **kw):
    path = tmp_path / name
    latentfile.write(make_synthetic(action, n_samples=90, seed=1, **kw), str(path))
    return path


def _pointer(doc, path: str):
    for part in path.strip("/").split("/"):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def test_page_is_self_contained_and_says_what_json_says(cli, tmp_path):
    z, page = tmp_path / "z.st", tmp_path / "r.html"
    lf = make_synthetic("c8", n_samples=90, seed=1)
    split = np.random.default_rng(0).permutation(np.repeat(np.uint8([0, 1, 2]), 30))
    latentfile.write(replace(lf, extra={"split": split}), str(z))
    res = cli("report", z, "-o", page, "--json", *FAST, "--folds", "5")  # the file's split
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    text = page.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", text)  # nothing fetched
    cells = re.findall(r'data-path="([^"]+)">([^<]*)<', text)
    assert len(cells) > 40
    for path, shown in cells:
        assert shown == fmt(_pointer(report, path)), path
    section = report["files"][0]
    rec = section["recommendation"]["method"]
    assert f"<code data-path='/files/0/recommendation/method'>{rec}</code>" in text
    assert {p["method"] for p in section["projections"]} == {
        r["method"] for r in section["check"]["methods"]
    }
    assert [r["method"] for r in section["probes"][0]["rows"]][0] == "raw"
    assert section["probes"][0]["protocol"]["split_from"] == str(z)  # not a temporary copy
    assert "invlatent-report-" not in res.stdout
    assert "report:" in res.stderr and "check of 9 methods" in res.stderr  # progress


def test_invariant_panel_collapses_orbits(cli, tmp_path):
    res = cli("report", _file(tmp_path), "--json", *FAST)
    panel = json.loads(res.stdout)["files"][0]["panels"][0]
    assert panel["orbits"] == 2
    assert panel["orbit_spread_raw"] > 0.1
    assert panel["orbit_spread_projected"] < 1e-3


def test_file_without_labels_or_targets_reports_what_it_can(cli, tmp_path):
    path = tmp_path / "bare.st"
    latentfile.write(replace(make_synthetic("c8", n_samples=60), labels=None), str(path))
    res = cli("report", path, "--json", *FAST)
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["files"][0]["probes"] == []
    assert report["files"][0]["check"] is not None
    assert report["files"][0]["recommendation"]["method"] is not None
    assert any("no labels and no targets" in s for s in report["skipped"])
    assert "skipped" in res.stderr


def test_time_budget_skips_and_says_so(cli, tmp_path):
    res = cli("report", _file(tmp_path), "--json", "--budget", "1", "--probe-rows", "90",
              "--tasks", "linear,mlp", "--embeddings", "pca")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    skipped = json.loads(res.stdout)["skipped"]
    assert any("mlp probe" in s and "budget" in s for s in skipped), skipped


def test_unwritable_output_and_no_output_are_one_line_errors(cli, tmp_path):
    z = _file(tmp_path)
    assert_one_line_error(cli("report", z, "-o", tmp_path / "no" / "r.html"), "does not exist")
    assert_one_line_error(cli("report", z), "-o report.html")
    assert_one_line_error(cli("report", z, "--json", "--tasks", "svm"), "--tasks", "svm")
    assert not (tmp_path / "no").exists()


def test_auto_records_the_chosen_method_in_history(cli, tmp_path):
    z, out = _file(tmp_path), tmp_path / "a.st"
    res = cli("project", "--method", "auto", z, "-o", out)
    assert res.exit_code == 0, res.stderr
    step = latentfile.read(str(out)).history[-1]
    assert step["options"]["requested"] == "auto"
    chosen = step["options"]["method"]
    assert chosen in ("bispectrum", "canonical", "random-max")  # injective at default options
    assert chosen in res.stderr and step["options"]["reason"].startswith(chosen)


def test_auto_picks_the_isometric_cross_section_for_sn_with_one_channel(cli, tmp_path):
    z, out = _file(tmp_path, "sn", node_dim=1), tmp_path / "a.st"
    assert cli("project", "-m", "auto", z, "-o", out).exit_code == 0
    assert latentfile.read(str(out)).history[-1]["options"]["method"] == "sort"


def test_auto_refuses_an_unknown_family(cli, tmp_path):
    path = tmp_path / "grid.st"
    z = np.random.default_rng(0).standard_normal((6, 2, 4, 4, 4)).astype(np.float32)
    latentfile.write(latentfile.LatentFile(z=z, action=Action.parse("c4:grid")), str(path))
    res = cli("project", "-m", "auto", path, "-o", tmp_path / "o.st")
    assert_one_line_error(res, "auto", "c4:grid")
    assert not (tmp_path / "o.st").exists()


@pytest.mark.parametrize("bad", ["bispectrum", "canonical"])
def test_a_method_measured_not_invariant_is_never_recommended(bad):
    check = {"methods": [
        {"method": "bispectrum", "invariance_error": 1e-7, "spearman": 0.7,
         "trustworthiness": 0.95, "seconds": 0.01},
        {"method": "canonical", "invariance_error": 0.0, "spearman": 0.6,
         "trustworthiness": 0.98, "seconds": 0.001},
        {"method": "pool-max", "invariance_error": 0.0, "spearman": 0.5,
         "trustworthiness": 0.9, "seconds": 0.001},
    ]}  # fmt: skip
    next(r for r in check["methods"] if r["method"] == bad)["invariance_error"] = 0.05
    rec = recommend("c8", check)
    assert rec["method"] == ({"bispectrum", "canonical"} - {bad}).pop()
    assert "injective" in rec["reason"]
