"""The probe protocol: one set of splits shared by every file, a probe fitted per training split.

Each file sees the same outer folds and the same inner holdouts, so the rows of the comparison
table differ only in their latents. Features are standardised with the training split's mean and
standard deviation; hyperparameters are chosen on the inner holdout; the test rows are used once.
"""

from __future__ import annotations

import importlib

import numpy as np

from invlatent.analysis.probe import _metrics, _splits
from invlatent.analysis.probe._inputs import Dataset, Features, load
from invlatent.analysis.probe._knn import METRICS, TEMPERATURE, KnnProbe
from invlatent.analysis.probe._linear import LogisticProbe, RidgeProbe
from invlatent.analysis.probe._mlp import MlpProbe
from invlatent.errors import InvlatentError

CLASSIFY_TASKS = ("linear", "logistic", "knn", "mlp")
REGRESS_TASKS = ("linear", "ridge", "knn", "mlp")
DEFAULT_FOLDS = 5
BACKENDS = {
    "linear": "sklearn.linear_model",
    "logistic": "sklearn.linear_model",
    "ridge": "sklearn.linear_model",
    "knn": "sklearn.neighbors",
    "mlp": "sklearn.neural_network",
}


def run_probe(
    inputs: list,
    *,
    task: str = "linear",
    target: list[str] | None = None,
    folds: int | None = None,
    seed: int = 0,
    metric: str = "cosine",
    names: list[str] | None = None,
) -> dict:
    """Probe every input (a path, ``-``, or a ``LatentFile`` in memory) under one protocol;
    returns the JSON-ready report (see docs/probe.md). ``names`` label the inputs in the table's
    file column (default: the path, or ``<memory i>`` for an object)."""
    from threadpoolctl import threadpool_limits

    target = target or ["labels"]
    _check_options(task, target, folds, metric)
    data = load(list(inputs), target, names)
    protocol = make_protocol(data, folds, seed)
    importlib.import_module(BACKENDS[task])  # load its BLAS before limiting the threads
    with threadpool_limits(limits=1, user_api="blas"):  # see docs/probe.md, "Speed"
        results = [_probe_file(f, data, protocol, task, seed, metric) for f in data.files]
    return {
        "task": task,
        "probe": _probe_name(task, data.is_classification, metric),
        "kind": "classification" if data.is_classification else "regression",
        "target": target,
        "seed": seed,
        "protocol": protocol.info,
        "warnings": data.warnings,
        "results": results,
    }


def _check_options(task: str, target: list[str], folds: int | None, metric: str) -> None:
    regression = target != ["labels"]
    allowed = REGRESS_TASKS if regression else CLASSIFY_TASKS
    if task not in set(CLASSIFY_TASKS + REGRESS_TASKS):
        raise InvlatentError(f"unknown task {task!r}: expected one of {', '.join(_all_tasks())}")
    if task not in allowed:
        kind = "regression targets" if regression else "labels"
        raise InvlatentError(f"task {task} does not fit {kind}; use {', '.join(allowed)}")
    if folds is not None and folds < 2:
        raise InvlatentError(f"folds must be at least 2, got {folds}")
    if metric not in METRICS:
        raise InvlatentError(f"unknown metric {metric!r}: expected {' or '.join(METRICS)}")


def _all_tasks() -> list[str]:
    return list(dict.fromkeys(CLASSIFY_TASKS + REGRESS_TASKS))


def _probe_name(task: str, classification: bool, metric: str) -> str:
    if task == "knn":
        return f"knn-{metric}" + (f" (T={TEMPERATURE})" if metric == "cosine" else "")
    if task in ("linear", "logistic", "ridge"):
        return "logistic" if classification else "ridge"
    return "mlp"


def make_protocol(data: Dataset, folds: int | None, seed: int) -> _splits.Protocol:
    """The outer splits: the file's fixed split unless --folds is given, else (group) K-fold."""
    unit, grouped = _splits.units_of(data.ids, len(data.y))
    facts = {"grouped_by": "ids" if grouped else None, "n_samples": int(len(data.y))}
    if grouped:
        facts["n_objects"] = int(unit.max()) + 1
    if data.is_classification:
        facts["n_classes"] = len(data.classes)
    facts |= {"dropped_rows": data.dropped, "scaling": "standardised per training split"}
    if data.split is not None and folds is None:
        fold = _splits.fixed_split(data.split, data.split_source)
        _warn_straddling(data, unit, fold)
        tuning = "val part" if fold.holdout is not None else "inner holdout (1/5 of train)"
        head = {"type": "fixed-split", "folds": 1, "split_from": data.split_source}
        return _splits.Protocol([fold], {**head, **facts, "tuning": tuning})
    k = folds or DEFAULT_FOLDS
    if data.split is not None:
        data.warnings.append(f"{data.split_source}: ignoring the file's split (--folds given)")
    _warn_small_classes(data, unit, k)
    kind = "stratified-" * data.is_classification + "group-" * grouped + "kfold"
    tuning = "inner holdout (1/5 of each training split)"
    strata = data.y if data.is_classification else None
    info = {"type": kind, "folds": k, **facts, "tuning": tuning}
    return _splits.Protocol(_splits.kfold(unit, strata, k, seed), info)


def _warn_straddling(data: Dataset, unit: np.ndarray, fold: _splits.Fold) -> None:
    n = _splits.straddling(unit, fold)
    if n:
        data.warnings.append(
            f"{data.split_source}: the split puts copies of {n} ids on both train and test sides; "
            "scores may be inflated (leakage)"
        )


def _warn_small_classes(data: Dataset, unit: np.ndarray, k: int) -> None:
    if not data.is_classification:
        return
    first_row = np.unique(unit, return_index=True)[1]
    counts = np.bincount(data.y[first_row], minlength=len(data.classes))
    small = [str(c) for c, n in zip(data.classes, counts, strict=True) if n < k]
    what = "objects" if len(first_row) < len(unit) else "samples"
    if small:
        data.warnings.append(
            f"class {', '.join(small)} has fewer {what} than the {k} folds; some test folds lack it"
        )


def _probe_file(f: Features, data: Dataset, protocol, task: str, seed: int, metric: str) -> dict:
    unit, _ = _splits.units_of(data.ids, len(data.y))
    folds = []
    for i, fold in enumerate(protocol.folds):
        holdout = fold.holdout
        if holdout is None:
            strata = data.y[fold.train] if data.is_classification else None
            holdout = _splits.inner_holdout(unit[fold.train], strata, seed + 1000 + i)
        folds.append(_run_fold(f, data, fold, holdout, _make_probe(task, data, seed, metric), i))
    return {
        "file": f.path,
        "name": f.name,
        "flattened": f.flattened,
        "shape": f.shape,
        "dim": int(f.x.shape[1]),
        "summary": _summary(folds, data),
        "folds": folds,
    }


def _make_probe(task: str, data: Dataset, seed: int, metric: str):
    regression = not data.is_classification
    if task == "knn":
        return KnnProbe(regression=regression, metric=metric, seed=seed)
    if task == "mlp":
        return MlpProbe(regression=regression, seed=seed)
    return RidgeProbe() if regression else LogisticProbe(seed=seed)


def _run_fold(f: Features, data: Dataset, fold, holdout, probe, index: int) -> dict:
    x_train, x_test = _standardise(f.x[fold.train], f.x[fold.test])
    try:
        probe.fit(x_train, data.y[fold.train], holdout)
    except ValueError as e:  # scikit-learn refusing a degenerate split (e.g. one class)
        raise InvlatentError(f"{f.path}: fold {index}: {e}") from None
    pred = probe.predict(x_test)
    y_test = data.y[fold.test]
    out = {"fold": index, "n_train": int(fold.train.size), "n_test": int(fold.test.size)}
    out["n_tuning"] = int(holdout.sum())
    out["hyperparameters"] = probe.chosen_
    if data.is_classification:
        out["metrics"] = _metrics.classification(y_test, pred)
    else:
        scale = data.y.std(axis=0)
        per = _metrics.regression(y_test, pred, scale)
        out["metrics"] = _metrics.summarise_targets(per)
        out["targets"] = dict(zip(data.target_names, per, strict=True))
    return out


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both with the training rows' statistics only (constant columns left unscaled)."""
    mean = train.mean(axis=0, dtype=np.float64)
    std = train.std(axis=0, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def _summary(folds: list[dict], data: Dataset) -> dict:
    """Mean ± std over folds of every metric (and of every target's metrics)."""
    names = list(folds[0]["metrics"])
    out = {m: _metrics.mean_std([f["metrics"][m] for f in folds]) for m in names}
    if not data.is_classification:
        out["targets"] = {
            t: {
                m: _metrics.mean_std([f["targets"][t][m] for f in folds])
                for m in _metrics.REGRESSION
            }
            for t in data.target_names
        }
    return out
