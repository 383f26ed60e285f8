"""95 % intervals of every probe metric and paired comparisons between files, by a bootstrap of
the test rows that is stratified by fold and shared by every file.

Within each outer fold the test rows (the objects, when ids repeat) are resampled with
replacement; each fold's metric is recomputed on the resample and averaged over folds, as the
reported mean is. Every file sees the same resamples, so the difference of two files' replicates is
a paired bootstrap of their difference on the same test rows: its percentile interval is the
difference's interval, and its p-value is the two-sided shift test (how often the centred
replicates lie at least as far from zero as the observed difference). ``docs/probe.md`` says more.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 1000
CHUNK_CELLS = 1 << 21  # resamples × test rows weighed at a time (16 MB of float64 weights)
MIN_TEST_ROWS = 10  # fewer test rows than this: the intervals are reported with a warning
LOWER_IS_BETTER = ("mae", "rmse", "nmae", "mean_nmae")
RESOLUTION = 1e-4  # summary metrics are unitless: smaller differences are numerical noise
METHOD = (
    f"percentile bootstrap, {RESAMPLES} resamples of the test rows (of objects, when ids repeat) "
    "within each fold, the fold metrics averaged as the reported mean is; the same resamples "
    "for every file, so differences are paired (two-sided shift test, Holm-corrected)"
)


def resample_weights(unit: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``(count, rows)`` weights: each row's object drawn how many times in each resample."""
    _, compact = np.unique(unit, return_inverse=True)
    n = int(compact.max()) + 1
    draws = rng.integers(0, n, size=(count, n)) + (np.arange(count) * n)[:, None]
    per_object = np.bincount(draws.ravel(), minlength=count * n).reshape(count, n)
    return per_object[:, compact.reshape(-1)].astype(np.float64)


def weighted_classification(y_true, y_pred, w: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and macro-F1 of each weighted resample (rows of ``w``), as
    ``_metrics.classification`` defines them on the resampled rows."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    _, both = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = both[: y_true.size], both[y_true.size :]
    eye = np.eye(int(both.max()) + 1)
    true_hot, pred_hot = eye[t], eye[p]
    tp = w @ (true_hot * (t == p)[:, None])
    n_true, n_pred = w @ true_hot, w @ pred_hot
    present, seen = n_true > 0, (n_true + n_pred) > 0
    recall = np.divide(tp, n_true, out=np.zeros_like(tp), where=present)
    f1 = np.divide(2 * tp, n_true + n_pred, out=np.zeros_like(tp), where=seen)
    return {
        "accuracy": tp.sum(axis=1) / w.sum(axis=1),
        "balanced_accuracy": recall.sum(axis=1) / present.sum(axis=1),
        "macro_f1": f1.sum(axis=1) / seen.sum(axis=1),
    }


def weighted_regression(y_true, y_pred, scale, w: np.ndarray) -> dict[str, np.ndarray]:
    """Per target (columns) MAE, RMSE, R² and MAE/σ of each weighted resample (rows of ``w``)."""
    y = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    err = np.asarray(y_pred, dtype=np.float64).reshape(y.shape) - y
    y = y - y.mean(axis=0)  # centred: the weighted sums of squares below lose no precision
    total = w.sum(axis=1)[:, None]
    mae = (w @ np.abs(err)) / total
    ss_res = w @ err**2
    ss_tot = np.maximum(w @ y**2 - (w @ y) ** 2 / total, 0.0)
    ok = ss_tot > 1e-12 * np.maximum(w @ y**2, 1e-300)
    r2 = np.where(ok, 1 - ss_res / np.where(ok, ss_tot, 1), (ss_res == 0) * 1.0)
    scale = np.asarray(scale, dtype=np.float64)
    nmae = mae / np.where(scale > 0, scale, 1)
    return {"mae": mae, "rmse": np.sqrt(ss_res / total), "r2": r2, "nmae": nmae}


def replicates(tests: list[tuple], predictions: list[list], regression: bool, scale, seed: int):
    """Per file, its metrics' bootstrap replicates: ``{metric: (RESAMPLES,)}`` (and for
    regression ``{"targets": {index: {metric: ...}}}``), averaged over the folds.

    ``tests`` holds each fold's ``(y_test, unit_test)``; ``predictions[f][k]`` file f's
    predictions on fold k. Every file gets the same resamples (paired)."""
    out = [None] * len(predictions)
    for k, (y_test, unit_test) in enumerate(tests):
        rng = np.random.default_rng([seed, 25, k])
        chunks = [[] for _ in predictions]
        step = max(1, min(RESAMPLES, CHUNK_CELLS // max(len(unit_test), 1)))
        for start in range(0, RESAMPLES, step):
            w = resample_weights(unit_test, min(step, RESAMPLES - start), rng)
            for f, preds in enumerate(predictions):
                chunks[f].append(_score(y_test, preds[k], w, regression, scale))
        for f, parts in enumerate(chunks):
            fold = {m: np.concatenate([p[m] for p in parts]) for m in parts[0]}
            out[f] = fold if out[f] is None else {m: out[f][m] + fold[m] for m in fold}
    return [{m: v / len(tests) for m, v in r.items()} for r in out]


def _score(y_test, pred, w, regression: bool, scale) -> dict[str, np.ndarray]:
    if not regression:
        return weighted_classification(y_test, pred, w)
    per = weighted_regression(y_test, pred, scale, w)
    flat = {"mean_r2": per["r2"].mean(axis=1), "mean_nmae": per["nmae"].mean(axis=1)}
    return flat | {f"{m}/{j}": per[m][:, j] for m in per for j in range(per[m].shape[1])}


def interval(values: np.ndarray) -> list[float]:
    """The 95 % percentile interval of bootstrap replicates."""
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def paired(base: np.ndarray, other: np.ndarray, base_mean: float, other_mean: float) -> dict:
    """Difference other − base with its paired interval and two-sided bootstrap p-value."""
    diff = other_mean - base_mean
    reps = other - base
    far = np.abs(reps - diff) >= abs(diff) - 1e-15 * max(abs(diff), 1.0)
    p = (1 + int(far.sum())) / (len(reps) + 1)
    return {"difference": float(diff), "ci95": interval(reps), "p_uncorrected": min(p, 1.0)}


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (family-wise error at most alpha)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in out]


def better(metric: str, difference: float) -> bool:
    """Whether ``difference`` (other − base) means the other file is better on ``metric``."""
    name = metric.split(".")[-1].split("/")[0]
    return difference < 0 if name in LOWER_IS_BETTER else difference > 0
