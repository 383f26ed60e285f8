"""Probe metrics equal scikit-learn's own on the same predictions, edge cases included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from invlatent.analysis.probe import classification, regression


@pytest.mark.parametrize("seed", range(6))
def test_classification_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 200)), int(rng.integers(2, 9))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k + 2, n))  # extra classes too
    got = classification(y_true, y_pred)
    with warnings.catch_warnings():  # scikit-learn warns about classes absent from y_true
        warnings.simplefilter("ignore")
        want = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "macro_f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        }
    assert got == pytest.approx(want, abs=1e-12)


def test_classification_metrics_with_a_class_never_predicted():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 0, 1, 1])  # class 2 never predicted: its F1 is 0
    got = classification(y_true, y_pred)
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))


@pytest.mark.parametrize("seed", range(4))
def test_regression_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((50, 3)) * [1, 10, 0.1]
    pred = y + rng.standard_normal(y.shape) * [0.5, 3, 0.2]
    scale = y.std(axis=0)
    got = regression(y, pred, scale)
    r2 = skm.r2_score(y, pred, multioutput="raw_values")
    mae = skm.mean_absolute_error(y, pred, multioutput="raw_values")
    rmse = np.sqrt(skm.mean_squared_error(y, pred, multioutput="raw_values"))
    for t in range(3):
        assert got[t]["r2"] == pytest.approx(r2[t], abs=1e-12)
        assert got[t]["mae"] == pytest.approx(mae[t], abs=1e-12)
        assert got[t]["rmse"] == pytest.approx(rmse[t], abs=1e-12)
        assert got[t]["nmae"] == pytest.approx(mae[t] / scale[t], abs=1e-12)


def test_r2_of_a_constant_target_follows_sklearn():
    y = np.full((4, 1), 3.0)
    exact, off = regression(y, y, np.zeros(1))[0], regression(y, y + 1, np.zeros(1))[0]
    assert exact["r2"] == skm.r2_score(y, y) == 1.0
    assert off["r2"] == skm.r2_score(y, y + 1) == 0.0


def test_every_public_name_exists():
    import invlatent.analysis.probe as probe

    assert all(hasattr(probe, name) for name in probe.__all__)
