"""The engine bench runs end to end on small files (its ratios are reported, not asserted)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_the_engine_bench_smoke_run_writes_its_table_and_json(tmp_path):
    pytest.importorskip("e3nn")
    bench = os.path.join(ROOT, "bench", "bench_engine.py")
    env = {**os.environ, "PYTHONPATH": ROOT}
    r = subprocess.run([sys.executable, bench, "--small"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "pool-max" in r.stdout and "random-max" in r.stdout
    result = json.loads((tmp_path / "bench" / "results" / "engine-small.json").read_text())
    (case,) = result["cases"]
    assert case["method"] == "pool-max" and case["ratio"] > 0
    assert result["o3"]["quotient_pairs_per_s"] > 0
