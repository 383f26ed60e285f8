"""What the probe's 95 % intervals and paired comparisons cost: the bootstrap alone against the
whole probe protocol it is part of, in the same run.

Cases: the report's linear probe (9 files × 5,000 rows, 10 classes, 5 folds, 64 features per
file) and a large regression (2 files × 130,000 rows, 12 targets, 5 folds, 64 features: ridge).
``bootstrap s`` times ``replicates`` (1,000 resamples per fold, shared by the files) on the
probe's own fold structure; ``probe s`` is ``run_probe`` with the bootstrap included; the ratio
is the bootstrap's share. One BLAS thread, as inside the probe. Run under the shared lock:

    flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_intervals.py
"""

from __future__ import annotations

import time

import numpy as np
from _results import save
from threadpoolctl import threadpool_limits

from invlatent.analysis.probe import replicates, run_probe
from invlatent.format.latentfile import LatentFile
from invlatent.groups.action import Action


def classification_files(rng, n=5000, d=64, k=10, files=9) -> list[LatentFile]:
    labels = rng.integers(0, k, n)
    centres = rng.standard_normal((k, d))
    out = []
    for noise in np.linspace(1.0, 3.0, files):
        z = (centres[labels] + noise * rng.standard_normal((n, d))).astype(np.float32)
        out.append(LatentFile(z=z, action=Action.parse("trivial"), labels=labels))
    return out


def regression_files(rng, n=130_000, d=64, files=2) -> list[LatentFile]:
    z = rng.standard_normal((n, d)).astype(np.float32)
    t = (z @ rng.standard_normal((d, 12)) / 8 + 0.3 * rng.standard_normal((n, 12))).astype(
        np.float32
    )
    names = [f"t{i}" for i in range(12)]
    out = []
    for noise in np.linspace(0.0, 1.0, files):
        zz = (z + noise * rng.standard_normal(z.shape)).astype(np.float32)
        out.append(LatentFile(z=zz, action=Action.parse("trivial"), targets=t, target_names=names))
    return out


def bootstrap_only(y: np.ndarray, files: int, regression: bool, rng) -> float:
    """``replicates`` on 5 folds of ``y`` with stand-in predictions for ``files`` files."""
    folds = np.array_split(rng.permutation(len(y)), 5)
    tests = [(y[f], f) for f in folds]
    if regression:
        preds = [[y[f] + rng.standard_normal(y[f].shape) for f in folds] for _ in range(files)]
    else:
        preds = [[np.roll(y[f], i) for f in folds] for i in range(files)]
    scale = y.std(axis=0) if regression else None
    with threadpool_limits(limits=1, user_api="blas"):
        t = time.perf_counter()
        replicates(tests, preds, regression, scale, seed=0)
        return time.perf_counter() - t


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for name, files, task, target in (
        ("logistic 9 files x 5000, 10 classes", classification_files(rng), "linear", None),
        ("ridge 2 files x 130000, 12 targets", regression_files(rng), "ridge", None),
    ):
        regression = files[0].targets is not None
        target = files[0].target_names if regression else None
        t = time.perf_counter()
        run_probe(files, task=task, target=target, seed=0)
        probe_s = time.perf_counter() - t
        y = files[0].targets.astype(np.float64) if regression else files[0].labels
        boot_s = bootstrap_only(y, len(files), regression, rng)
        rows.append({"case": name, "probe_s": round(probe_s, 2), "bootstrap_s": round(boot_s, 2),
                     "share": round(boot_s / probe_s, 3)})  # fmt: skip
    print(f"{'case':<40}{'probe s':>10}{'bootstrap s':>14}{'share':>8}")
    for r in rows:
        print(f"{r['case']:<40}{r['probe_s']:>10}{r['bootstrap_s']:>14}{r['share']:>8}")
    print("wrote", save("intervals", {"cases": rows, "resamples": 1000, "folds": 5}))


if __name__ == "__main__":
    main()
