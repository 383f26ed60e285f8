"""Downstream probes of latent files: how well a simple model reads labels or targets off them.

The instrument behind the paper's evidence (invariant projections beat raw equivariant latents):
logistic/ridge, kNN (DINO-style) and small-MLP probes under one shared cross-validation protocol
with a leakage guard for transformed copies. ``docs/probe.md`` describes the protocol and report.
"""

from invlatent.analysis.probe._expect import ExpectationError, explain
from invlatent.analysis.probe._intervals import (
    holm,
    interval,
    paired,
    replicates,
    resample_weights,
    weighted_classification,
    weighted_regression,
)
from invlatent.analysis.probe._knn import KnnProbe
from invlatent.analysis.probe._linear import LogisticProbe, RidgeProbe
from invlatent.analysis.probe._metrics import classification, regression
from invlatent.analysis.probe._mlp import MlpProbe
from invlatent.analysis.probe._run import CLASSIFY_TASKS, REGRESS_TASKS, run_probe
from invlatent.analysis.probe._splits import fixed_split, inner_holdout, kfold, straddling, units_of
from invlatent.analysis.probe._table import render

__all__ = [
    "CLASSIFY_TASKS",
    "ExpectationError",
    "explain",
    "holm",
    "interval",
    "paired",
    "replicates",
    "resample_weights",
    "weighted_classification",
    "weighted_regression",
    "REGRESS_TASKS",
    "KnnProbe",
    "LogisticProbe",
    "MlpProbe",
    "RidgeProbe",
    "classification",
    "fixed_split",
    "inner_holdout",
    "kfold",
    "straddling",
    "units_of",
    "regression",
    "render",
    "run_probe",
]
