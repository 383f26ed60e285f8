"""The probe protocol: one set of splits shared by every file, a probe fitted per training split.

Each file sees the same outer folds and the same inner holdouts, so the rows of the comparison
table differ only in their latents. Features are standardised with the training split's mean and
standard deviation; hyperparameters are chosen on the inner holdout; the test rows are used once.
"""

from __future__ import annotations

import importlib

import numpy as np

from invlatent.analysis.probe import _expect, _intervals, _metrics, _splits
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
    alpha: float = 0.05,
    expect: list[str] | None = None,
    all_pairs: bool = False,
) -> dict:
    """Probe every input (a path, ``-``, or a ``LatentFile`` in memory) under one protocol;
    returns the JSON-ready report (see docs/probe.md). ``names`` label the inputs in the table's
    file column (default: the path, or ``<memory i>`` for an object). Every metric gets a 95 %
    interval (``summary.<metric>.ci95``); ``comparisons`` tests every input against the first
    (every pair with ``all_pairs``) at level ``alpha``; ``expect`` lists conditions such as
    ``"A > B"`` or ``"A >= 0.9"``, judged in ``expectations`` (see ``_expect``)."""
    from threadpoolctl import threadpool_limits

    target = target or ["labels"]
    _check_options(task, target, folds, metric, alpha)
    wanted = [_expect.parse(e) for e in expect or []]
    data = load(list(inputs), target, names)
    kind = "classification" if data.is_classification else "regression"
    where = [_expect.resolve(e, _labels(data), [f.name for f in data.files], kind) for e in wanted]
    protocol = make_protocol(data, folds, seed)
    importlib.import_module(BACKENDS[task])  # load its BLAS before limiting the threads
    with threadpool_limits(limits=1, user_api="blas"):  # see docs/probe.md, "Speed"
        probed = [_probe_file(f, data, protocol, task, seed, metric) for f in data.files]
        results, predictions = [r for r, _ in probed], [p for _, p in probed]
        reps = _add_intervals(results, predictions, data, protocol, seed)
    report = {
        "task": task,
        "probe": _probe_name(task, data.is_classification, metric),
        "kind": kind,
        "target": target,
        "seed": seed,
        "protocol": protocol.info | {"interval": _intervals.METHOD, "alpha": alpha},
        "warnings": data.warnings + _few_rows(protocol),
        "results": results,
    }
    pairs = _pairs(len(results), all_pairs)
    report["comparisons"] = _compare(results, reps, pairs, alpha)
    if wanted:
        report["expectations"] = _judge(wanted, where, results, reps, report, alpha)
    return report


def _labels(data: Dataset) -> list[str]:
    return [f.path for f in data.files]


def _few_rows(protocol: _splits.Protocol) -> list[str]:
    n = sum(int(f.test.size) for f in protocol.folds)
    if n >= _intervals.MIN_TEST_ROWS:
        return []
    return [f"only {n} test rows: the 95 % intervals and comparisons are unreliable"]


def _add_intervals(results, predictions, data: Dataset, protocol, seed: int) -> list[dict]:
    """Put each metric's 95 % interval beside its mean; return the replicates (for the tests)."""
    unit, _ = _splits.units_of(data.ids, len(data.y))
    tests = [(data.y[f.test], unit[f.test]) for f in protocol.folds]
    regression = not data.is_classification
    scale = data.y.std(axis=0) if regression else None
    reps = _intervals.replicates(tests, predictions, regression, scale, seed)
    for r, rep in zip(results, reps, strict=True):
        for m, stat in r["summary"].items():
            if m != "targets":
                stat["ci95"] = _intervals.interval(rep[m])
        for j, t in enumerate(data.target_names if regression else []):
            for m, stat in r["summary"]["targets"][t].items():
                stat["ci95"] = _intervals.interval(rep[f"{m}/{j}"])
    return reps


def _pairs(n: int, all_pairs: bool) -> list[tuple[int, int]]:
    """(baseline, other) index pairs: every input against the first, or every pair."""
    if all_pairs:
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    return [(0, j) for j in range(1, n)]


def _compare(results: list[dict], reps: list[dict], pairs, alpha: float) -> list[dict]:
    """Paired comparisons on every summary metric, Holm-corrected per metric over the pairs."""
    out = []
    for m in [k for k in results[0]["summary"] if k != "targets"]:
        rows = [_pair(results, reps, b, o, m) for b, o in pairs]
        for row, p in zip(rows, _intervals.holm([r["p_uncorrected"] for r in rows]), strict=True):
            out.append(_verdict(row, p, alpha))
    return out


def _pair(results, reps, b: int, o: int, metric: str) -> dict:
    base, other = results[b], results[o]
    means = base["summary"][metric]["mean"], other["summary"][metric]["mean"]
    test = _intervals.paired(reps[b][metric], reps[o][metric], *means)
    return {"baseline": base["file"], "file": other["file"], "metric": metric, **test}


def _verdict(row: dict, p: float, alpha: float) -> dict:
    """The corrected p-value and the verdict (never significant below the resolution)."""
    noise = abs(row["difference"]) <= _intervals.RESOLUTION
    return row | {"p_value": p, "significant": bool(p < alpha and not noise)}


def _judge(wanted, where, results, reps, report: dict, alpha: float) -> list[dict]:
    """Each expectation judged; pairs with the first input use the table's comparison, other
    pairs are Holm-corrected among themselves."""
    table = {(c["baseline"], c["file"], c["metric"]): c for c in report["comparisons"]}
    extra = [
        (k, _pair(results, reps, w["right"], w["left"], w["metric"]))
        for k, w in enumerate(where)
        if w["right"] is not None and 0 not in (w["left"], w["right"])
    ]
    adjusted = _intervals.holm([row["p_uncorrected"] for _, row in extra]) if extra else []
    own = {k: _verdict(row, p, alpha) for (k, row), p in zip(extra, adjusted, strict=True)}
    out = []
    for k, (e, w) in enumerate(zip(wanted, where, strict=True)):
        pair = own.get(k)
        if pair is None and w["right"] is not None:
            pair = _oriented(table, results, w)
        out.append(_expect.evaluate(e, w, results, pair))
    return out


def _oriented(table: dict, results: list[dict], w: dict) -> dict:
    """The table's comparison of left against right (baseline right), flipped when needed."""
    left, right = results[w["left"]]["file"], results[w["right"]]["file"]
    row = table.get((right, left, w["metric"]))
    if row is not None:
        return row
    row = table[(left, right, w["metric"])]
    lo, hi = row["ci95"]
    return row | {"difference": -row["difference"], "ci95": [-hi, -lo]}


def _check_options(task: str, target: list[str], folds: int | None, metric: str, alpha) -> None:
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
    if not 0 < alpha < 1:
        raise InvlatentError(f"alpha must lie strictly between 0 and 1, got {alpha:g}")


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


def _probe_file(f: Features, data: Dataset, protocol, task: str, seed: int, metric: str):
    """The file's report entry and its predictions on each fold's test rows."""
    unit, _ = _splits.units_of(data.ids, len(data.y))
    folds, predictions = [], []
    for i, fold in enumerate(protocol.folds):
        holdout = fold.holdout
        if holdout is None:
            strata = data.y[fold.train] if data.is_classification else None
            holdout = _splits.inner_holdout(unit[fold.train], strata, seed + 1000 + i)
        probe = _make_probe(task, data, seed, metric)
        entry, pred = _run_fold(f, data, fold, holdout, probe, i)
        folds.append(entry)
        predictions.append(pred)
    return {
        "file": f.path,
        "name": f.name,
        "flattened": f.flattened,
        "shape": f.shape,
        "dim": int(f.x.shape[1]),
        "summary": _summary(folds, data),
        "folds": folds,
    }, predictions


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
    return out, pred


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
