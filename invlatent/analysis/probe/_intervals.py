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
    if n == len(compact) and np.array_equal(compact.reshape(-1), np.arange(n)):
        return per_object.astype(np.float64)
    return per_object[:, compact.reshape(-1)].astype(np.float64)


def weighted_classification(y_true, y_pred, w: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and macro-F1 of each weighted resample (rows of ``w``), as
    ``_metrics.classification`` defines them on the resampled rows."""
    design = Design(y_true, [y_pred], regression=False)
    return design.scores(w @ design.columns, w.sum(axis=1))[0]


def weighted_regression(y_true, y_pred, scale, w: np.ndarray) -> dict[str, np.ndarray]:
    """Per target (columns) MAE, RMSE, R² and MAE/σ of each weighted resample (rows of ``w``)."""
    design = Design(y_true, [y_pred], regression=True, scale=scale)
    per = design.scores(w @ design.columns, w.sum(axis=1))[0]
    return {m: per[m] for m in ("mae", "rmse", "r2", "nmae")}


class Design:
    """Columns over one fold's test rows whose weighted sums give every file's metrics on a
    resample: one matrix product per chunk of resamples serves all files (memory-bound work
    reads the weights once)."""

    def __init__(self, y_true, predictions: list, *, regression: bool, scale=None):
        self.regression, self.files = regression, len(predictions)
        if regression:
            y = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
            self.k = y.shape[1]
            centred = y - y.mean(axis=0)  # the weighted sums of squares lose no precision
            errors = [np.asarray(p, dtype=np.float64).reshape(y.shape) - y for p in predictions]
            parts = [centred, centred**2] + [c for e in errors for c in (np.abs(e), e**2)]
            scale = np.asarray(scale, dtype=np.float64).reshape(-1)
            self.scale = np.where(scale > 0, scale, 1.0)
        else:
            y_true = np.asarray(y_true).ravel()
            preds = [np.asarray(p).ravel() for p in predictions]
            _, both = np.unique(np.concatenate([y_true, *preds]), return_inverse=True)
            both = both.reshape(-1)
            eye = np.eye(int(both.max()) + 1)
            n = y_true.size
            t = both[:n]
            self.k = eye.shape[0]
            parts = [eye[t]]
            for f in range(self.files):
                p = both[(f + 1) * n : (f + 2) * n]
                parts += [eye[t] * (t == p)[:, None], eye[p]]
        self.columns = np.concatenate(parts, axis=1)

    def scores(self, sums: np.ndarray, total: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per file its metrics for each resample, from ``sums = w @ columns`` and ``w``'s
        row sums."""
        k, shared = self.k, 2 if self.regression else 1
        blocks = [sums[:, i * k : (i + 1) * k] for i in range(shared + 2 * self.files)]
        score = self._regression if self.regression else self._classification
        return [score(*blocks[:shared], *blocks[shared + 2 * f : shared + 2 * f + 2], total)
                for f in range(self.files)]  # fmt: skip

    @staticmethod
    def _classification(n_true, tp, n_pred, total) -> dict[str, np.ndarray]:
        present, seen = n_true > 0, (n_true + n_pred) > 0
        recall = np.divide(tp, n_true, out=np.zeros_like(tp), where=present)
        f1 = np.divide(2 * tp, n_true + n_pred, out=np.zeros_like(tp), where=seen)
        return {
            "accuracy": tp.sum(axis=1) / total,
            "balanced_accuracy": recall.sum(axis=1) / present.sum(axis=1),
            "macro_f1": f1.sum(axis=1) / seen.sum(axis=1),
        }

    def _regression(self, sy, sy2, s_abs, s_sq, total) -> dict[str, np.ndarray]:
        total = total[:, None]
        ss_tot = np.maximum(sy2 - sy**2 / total, 0.0)
        ok = ss_tot > 1e-12 * np.maximum(sy2, 1e-300)
        r2 = np.where(ok, 1 - s_sq / np.where(ok, ss_tot, 1), (s_sq == 0) * 1.0)
        mae = s_abs / total
        per = {"mae": mae, "rmse": np.sqrt(s_sq / total), "r2": r2, "nmae": mae / self.scale}
        flat = {"mean_r2": r2.mean(axis=1), "mean_nmae": per["nmae"].mean(axis=1)}
        return per | flat | {f"{m}/{j}": per[m][:, j] for m in per for j in range(self.k)}


def replicates(tests: list[tuple], predictions: list[list], regression: bool, scale, seed: int):
    """Per file, its metrics' bootstrap replicates ``{metric: (RESAMPLES,)}`` (per target as
    ``"r2/0"`` etc. for regression), each the mean over folds of the fold's metric.

    ``tests`` holds each fold's ``(y_test, unit_test)``; ``predictions[f][k]`` file f's
    predictions on fold k. Every file gets the same resamples (paired). Call it with BLAS
    limited to one thread, as ``run_probe`` does: the products are small and memory-bound."""
    out = [None] * len(predictions)
    for k, (y_test, unit_test) in enumerate(tests):
        rng = np.random.default_rng([seed, 25, k])
        design = Design(y_test, [p[k] for p in predictions], regression=regression, scale=scale)
        chunks = []
        step = max(1, min(RESAMPLES, CHUNK_CELLS // max(len(unit_test), 1)))
        for start in range(0, RESAMPLES, step):
            w = resample_weights(unit_test, min(step, RESAMPLES - start), rng)
            chunks.append(design.scores(w @ design.columns, w.sum(axis=1)))
        for f in range(len(predictions)):
            fold = {m: np.concatenate([c[f][m] for c in chunks]) for m in chunks[0][f]}
            out[f] = fold if out[f] is None else {m: out[f][m] + fold[m] for m in fold}
    return [{m: v / len(tests) for m, v in r.items()} for r in out]


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
