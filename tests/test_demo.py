"""``make demo``'s script end to end: every step runs and the paper's effect shows on real data."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("torch")
pytest.importorskip("rdkit")
pytest.importorskip("mlxtend")
if importlib.util.find_spec("qm9pack") is None:
    pytest.skip("needs qm9pack (QM9)", allow_module_level=True)


@pytest.mark.slow
def test_demo_runs_and_invariant_latents_beat_raw_ones(tmp_path):
    """The demo's script on its smallest reliable sizes (1 image epoch, 2,000 digits encoded,
    3,000 molecules for 3 epochs: power beat raw by 9-11 points, sort beat raw by 0.08-0.12 R²
    over two seeds);
    ``make demo`` runs the full sizes."""
    env = {
        **os.environ,
        "DEMO_OUT": str(tmp_path),
        "DEMO_IMAGE_EPOCHS": "1",
        "DEMO_IMAGE_LIMIT": "2000",
        "DEMO_QM9_LIMIT": "3000",
        "DEMO_VAE_EPOCHS": "3",
        "DEMO_CHECK_SAMPLES": "20",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
    }
    r = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "demo.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == ""
    for picture in ("digits_pca.png", "molecules_pca.png"):
        assert (tmp_path / picture).stat().st_size > 10_000
    digits = _scores(tmp_path / "probe_digits.json", "accuracy")
    assert max(v for k, v in digits.items() if k != "raw c8") > digits["raw c8"]
    molecules = _scores(tmp_path / "probe_molecules.json", "mean_r2")
    assert molecules["project:sort"] > molecules["raw sn"]


def _scores(path, metric: str) -> dict[str, float]:
    """Each probed file's mean score, by its name in the comparison table."""
    results = json.loads(path.read_text())["results"]
    return {r["name"]: r["summary"][metric]["mean"] for r in results}
