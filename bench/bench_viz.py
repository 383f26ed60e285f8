"""Picture speed: ``invlatent viz`` end to end against the bare embedding library call.

For PCA, t-SNE and UMAP on one c8 file of 10,000 rows × 64 numbers (the default ``--sample``
cap), both sides run as fresh processes, so both pay interpreter start-up and imports (UMAP's
first import compiles with numba): the command reads the file, samples, embeds, draws the panel
and writes a PNG; the baseline loads the flattened array from ``.npy`` and only embeds, with the
same parameters and seed. The ratio is the cost of everything invlatent adds. Run under the
shared lock:

    flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_viz.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _results import save

from invlatent.format import latentfile
from invlatent.format.synthetic import make_synthetic

ROWS = 10_000
BASELINES = {
    "pca": "from sklearn.decomposition import PCA; PCA(2, random_state=0).fit_transform(x)",
    "tsne": (
        "from sklearn.manifold import TSNE; "
        "TSNE(2, perplexity=30.0, init='pca', random_state=0).fit_transform(x)"
    ),
    "umap": (
        "import umap; "
        "umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(x)"
    ),
}


def timed_process(args: list[str]) -> float:
    """Wall seconds of a fresh process, which must succeed."""
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Print a table and write bench/results/viz.json."""
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        lf = make_synthetic("c8", n_samples=ROWS, n_classes=4, fields=8, seed=0)
        path = os.path.join(folder, "c8.st")
        latentfile.write(lf, path)
        npy = os.path.join(folder, "x.npy")
        np.save(npy, np.asarray(lf.z, dtype=np.float32).reshape(ROWS, -1))
        for method, call in BASELINES.items():
            png = os.path.join(folder, f"{method}.png")
            command = [sys.executable, "-m", "invlatent", "viz", "--method", method, path]
            cli = timed_process([*command, "--seed", "0", "-o", png])
            script = f"import numpy as np; x = np.load({npy!r}); {call}"
            base = timed_process([sys.executable, "-c", script])
            rows[method] = {"seconds": cli, "baseline_s": base, "ratio": cli / base}
    report(rows)


def report(rows: dict) -> None:
    print(f"{'viz, 10,000 × 64 (c8)':<24} {'command s':>10} {'bare call s':>12} {'ratio':>7}")
    for name, r in rows.items():
        print(f"{name:<24} {r['seconds']:10.1f} {r['baseline_s']:12.1f} {r['ratio']:7.2f}")
    print("command: invlatent viz (read, sample, embed, draw, write PNG) in a fresh process;")
    print("bare call: the library's fit_transform on the same array, also in a fresh process")
    save("viz", {"rows": ROWS, "cases": rows})


if __name__ == "__main__":
    main()
