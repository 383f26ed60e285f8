"""Probe speed: the full protocol (5 folds, hyperparameter search) against one plain sklearn fit.

Cases (targets from the issue): logistic on 5,000 × 256 with 10 classes (< 30 s); ridge and kNN
on 130,000 × 64 with 12 regression targets (< 60 s together). Each case runs ``run_probe`` on a
latent file written to a temporary folder, so reading is included. Run under the shared lock:

    flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_probe.py
"""

from __future__ import annotations

import os
import resource
import tempfile
import time

import numpy as np
from _results import save

from invlatent.analysis.probe import run_probe
from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile
from invlatent.groups.action import Action

TARGETS_S = {"logistic 5000x256": 30.0, "ridge+knn 130000x64": 60.0}


def classification_file(folder: str, rng) -> tuple[str, np.ndarray, np.ndarray]:
    """5,000 × 256 latents, 10 classes separated along a random 40-dimensional subspace."""
    n, d, k = 5000, 256, 10
    labels = rng.integers(0, k, n)
    centres = rng.standard_normal((k, 40)) @ rng.standard_normal((40, d)) / np.sqrt(40)
    z = (centres[labels] + 6.0 * rng.standard_normal((n, d))).astype(np.float32)
    path = os.path.join(folder, "cls.st")
    latentfile.write(LatentFile(z=z, action=Action.parse("trivial"), labels=labels), path)
    return path, z, labels


def regression_file(folder: str, rng) -> tuple[str, np.ndarray, np.ndarray]:
    """130,000 × 64 latents with 12 targets: linear, nonlinear and noisy functions of them."""
    n, d = 130_000, 64
    z = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal((d, 12)) / 8
    lin = z @ w
    t = np.concatenate([lin[:, :6], np.tanh(lin[:, 6:9]) * 3, lin[:, 9:] ** 2], axis=1)
    t += 0.3 * rng.standard_normal(t.shape)
    path = os.path.join(folder, "reg.st")
    lf = LatentFile(
        z=z,
        action=Action.parse("trivial"),
        targets=t.astype(np.float32),
        target_names=[f"t{i}" for i in range(12)],
    )
    latentfile.write(lf, path)
    return path, z, t


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def plain_fit(task: str, z: np.ndarray, y: np.ndarray, threads: int | None = 1) -> float:
    """The baseline: one default scikit-learn fit on the whole standardised data, no search
    (for kNN: one KNeighborsRegressor(20) fit and prediction of a fifth of the rows), with
    BLAS limited to ``threads`` as inside the probe (None: the library default)."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from threadpoolctl import threadpool_limits

    x = (z - z.mean(0)) / z.std(0)
    with threadpool_limits(limits=threads, user_api="blas"):
        if task == "knn":
            cut = len(x) * 4 // 5
            knn = KNeighborsRegressor(20, algorithm="brute")
            return timed(lambda: knn.fit(x[:cut], y[:cut]).predict(x[cut:]))[0]
        model = LogisticRegression() if task == "logistic" else Ridge()
        return timed(lambda: model.fit(x, y))[0]


def main() -> None:
    """Print a table and write bench/results/probe.json."""
    rng = np.random.default_rng(0)
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        cls, z, labels = classification_file(folder, rng)
        base = plain_fit("logistic", z, labels)
        default_threads = plain_fit("logistic", z, labels, threads=None)
        secs, rep = timed(lambda: run_probe([cls], task="logistic", seed=0))
        acc = rep["results"][0]["summary"]["accuracy"]["mean"]
        rows["logistic 5000x256"] = {"seconds": secs, "baseline_s": base, "score": acc}
        rows["logistic 5000x256"]["baseline_default_threads_s"] = default_threads
        reg, z, t = regression_file(folder, rng)
        names = [f"t{i}" for i in range(12)]
        for task in ("ridge", "knn"):
            base = plain_fit(task, z, t)
            secs, rep = timed(lambda k=task: run_probe([reg], task=k, target=names, seed=0))
            score = rep["results"][0]["summary"]["mean_r2"]["mean"]
            rows[f"{task} 130000x64x12"] = {"seconds": secs, "baseline_s": base, "score": score}
    ridge, knn = rows["ridge 130000x64x12"], rows["knn 130000x64x12"]
    rows["ridge+knn 130000x64"] = {
        "seconds": ridge["seconds"] + knn["seconds"],
        "baseline_s": ridge["baseline_s"] + knn["baseline_s"],
        "score": None,
    }
    report(rows)


def report(rows: dict) -> None:
    head = f"{'case (5 folds, search)':<24} {'seconds':>8} {'target':>7} {'1 fit s':>8}"
    print(f"{head} {'× 1 fit':>8} {'score':>7}")
    for name, r in rows.items():
        r["ratio_to_plain_fit"] = r["seconds"] / r["baseline_s"]
        r["target_s"] = TARGETS_S.get(name)
        target = f"< {r['target_s']:.0f}" if r["target_s"] else ""
        score = f"{r['score']:.3f}" if r["score"] is not None else ""
        ratio = r["ratio_to_plain_fit"]
        row = f"{name:<24} {r['seconds']:8.1f} {target:>7} {r['baseline_s']:8.2f}"
        print(f"{row} {ratio:8.1f} {score:>7}")
    print("1 fit: one default sklearn fit, 1 BLAS thread (Logistic / Ridge / kNN(20) on 80/20)")
    default = rows["logistic 5000x256"]["baseline_default_threads_s"]
    print(f"plain LogisticRegression().fit with default BLAS threads: {default:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MiB")
    save("probe", {"cases": rows, "peak_rss_mib": peak})


if __name__ == "__main__":
    main()
