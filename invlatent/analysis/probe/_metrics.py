"""Probe metrics in vectorised numpy, defined exactly as scikit-learn defines them.

Classification: accuracy, balanced accuracy (mean recall over the classes present in ``y_true``)
and macro-F1 (mean over the union of true and predicted classes, 0 for a class never predicted).
Regression, per target: MAE, RMSE, R² (1 when a constant target is predicted exactly, else 0 for
a constant target), and MAE divided by the target's standard deviation (``nmae``).
"""

from __future__ import annotations

import numpy as np

CLASSIFICATION = ("accuracy", "balanced_accuracy", "macro_f1")
REGRESSION = ("mae", "rmse", "r2", "nmae")
SUMMARY = ("mean_r2", "mean_nmae")


def classification(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 of integer predictions."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    labels, both = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = both[: y_true.size], both[y_true.size :]
    n = labels.size
    tp = np.bincount(t[t == p], minlength=n).astype(np.float64)
    n_true = np.bincount(t, minlength=n).astype(np.float64)
    n_pred = np.bincount(p, minlength=n).astype(np.float64)
    present = n_true > 0
    return {
        "accuracy": float(tp.sum() / y_true.size),
        "balanced_accuracy": float(np.mean(tp[present] / n_true[present])),
        "macro_f1": float(np.mean(2 * tp / (n_true + n_pred))),
    }


def regression(y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray) -> list[dict[str, float]]:
    """Per target column: MAE, RMSE, R² and MAE / ``scale`` (the target's standard deviation)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    err = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape) - y_true
    mae = np.abs(err).mean(axis=0)
    ss_res = (err**2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), (ss_res == 0) * 1.0)
    nmae = mae / np.where(scale > 0, scale, 1)
    rmse = np.sqrt(ss_res / len(y_true))
    return [
        {"mae": float(a), "rmse": float(b), "r2": float(c), "nmae": float(d)}
        for a, b, c, d in zip(mae, rmse, r2, nmae, strict=True)
    ]


def summarise_targets(per_target: list[dict[str, float]]) -> dict[str, float]:
    """The summary that lets many targets share one table: mean R² and mean MAE/σ."""
    return {
        "mean_r2": float(np.mean([m["r2"] for m in per_target])),
        "mean_nmae": float(np.mean([m["nmae"] for m in per_target])),
    }


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and (population) standard deviation over folds."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}
