"""The engine bench runs end to end on a small file (its ratios are reported, not asserted)."""

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_the_engine_bench_smoke_run_writes_its_table_and_json(tmp_path, monkeypatch, capsys):
    """In process (torch and e3nn are imported once for the suite); it still launches one
    ``invlatent project`` and one torch reference process."""
    pytest.importorskip("e3nn")
    monkeypatch.syspath_prepend(os.path.join(ROOT, "bench"))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.chdir(tmp_path)
    import bench_engine

    bench_engine.main(["--small"])
    out = capsys.readouterr().out
    assert "pool-max" in out and "random-max" in out
    result = json.loads((tmp_path / "bench" / "results" / "engine-small.json").read_text())
    assert [c["method"] for c in result["cases"]] == ["pool-max", "(sha256)"]
    assert all(c["ratio"] > 0 for c in result["cases"])
    assert result["o3"]["quotient_pairs_per_s"] > 0
