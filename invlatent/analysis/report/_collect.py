"""One file's report: what it is, what every projection guarantees and measures, probes, and the
recommendation — all from library calls (check, probe, projections, recommend), never the CLI."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from invlatent.analysis.recommend import node_channels, recommend, target_of
from invlatent.analysis.report._budget import Budget
from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, describe
from invlatent.format.projected import project_latents
from invlatent.projections import get_method, guarantees, methods_for

CLASSIFY_TASKS = ("linear", "knn", "mlp")
REGRESS_TASKS = ("ridge", "knn", "mlp")
METRIC = {"classification": "accuracy", "regression": "mean_r2"}
NO_PICK = {"significant": False, "tied": [], "ranking": []}


@dataclass(frozen=True)
class Settings:
    """What a report measures and how much of it (see ``invlatent report --help``)."""

    tasks: tuple[str, ...] = ("linear", "knn")
    samples: int = 256
    pairs: int = 2000
    probe_rows: int = 5000
    folds: int = 5
    panel_rows: int = 2000
    embeddings: tuple[str, ...] = ("pca", "umap")
    orbits: int = 5
    seed: int = 0


def file_facts(path: str, lf: LatentFile) -> dict:
    """The file's action, shape, side tensors and history."""
    return {
        "file": path,
        "name": describe(lf),
        "rows": len(lf),
        "action": str(lf.action),
        "shape": [int(s) for s in lf.z.shape[1:]],
        "labels": None if lf.labels is None else int(len(np.unique(np.asarray(lf.labels)))),
        "targets": list(lf.target_names) if lf.targets is not None else [],
        "ids": lf.ids is not None,
        "g": lf.g is not None,
        "history": lf.history,
    }


def projections(lf: LatentFile) -> list[dict]:
    """Every applicable projection with its declared guarantees."""
    return guarantees(lf.action)


def invariant_methods(lf: LatentFile) -> list[str]:
    """The methods whose output is invariant (not raw, not the equivariant grid poolings)."""
    return [m for m in methods_for(lf.action) if get_method(lf.action, m).invariant == "yes"]


def run_check(lf: LatentFile, s: Settings, budget: Budget, name: str) -> dict | None:
    """check_file's measurements of every method, or None when the budget has no room."""
    from invlatent.analysis.check import check_file

    methods = methods_for(lf.action)
    if not budget.fits("check", len(methods), f"{name}: check"):
        return None
    budget.say(f"{name}: check of {len(methods)} methods ({s.samples} samples, {s.pairs} pairs)")
    t0 = time.perf_counter()
    result = check_file(lf, pairs=s.pairs, samples=s.samples, seed=s.seed)
    budget.done("check", len(methods), time.perf_counter() - t0)
    return result


def run_probes(lf: LatentFile, s: Settings, budget: Budget, name: str) -> list[dict]:
    """Probes of raw vs every invariant projection, one per task, under one protocol each."""
    from invlatent.sampling import sample_rows

    target = target_of(lf)
    if target is None:
        budget.skip(f"{name}: probes (the file has no labels and no targets)")
        return []
    methods = invariant_methods(lf)
    if not methods:
        budget.skip(f"{name}: probes (no invariant projection applies to {lf.action})")
        return []
    labels = None if target != ["labels"] else np.asarray(lf.labels)
    sub = lf.subset(sample_rows(len(lf), s.probe_rows, s.seed, labels))
    tasks = _tasks(s.tasks, target)
    inputs = [sub, *(project_latents(sub, m, seed=s.seed, source=name) for m in methods)]
    out = []
    for task in tasks:
        stage = f"probe:{task}"  # _tasks made linear ridge for targets
        units = len(sub) / 1000 * len(inputs) * s.folds / 5
        if not budget.fits(stage, units, f"{name}: {task} probe"):
            continue
        budget.say(f"{name}: {task} probe of {len(inputs)} files × {len(sub)} rows")
        t0 = time.perf_counter()
        out.append(_probe(inputs, [name, *methods], ["raw", *methods], task, target, s))
        budget.done(stage, units, time.perf_counter() - t0)
    return out


def _tasks(tasks: tuple[str, ...], target: list[str]) -> list[str]:
    allowed = CLASSIFY_TASKS if target == ["labels"] else REGRESS_TASKS
    mapped = [("ridge" if t == "linear" and target != ["labels"] else t) for t in tasks]
    return [t for t in dict.fromkeys(mapped) if t in allowed]


def _probe(inputs: list, names: list[str], methods: list[str], task: str, target, s: Settings):
    """One probe report, reduced to what the page shows: the protocol, a row per method with its
    95 % interval and paired difference from the raw latents, and every pair's comparison on the
    primary metric (keyed by method) for the recommendation's tie rule."""
    from invlatent.analysis.probe import run_probe

    folds = None if s.folds == 5 else s.folds
    opts = dict(folds=folds, seed=s.seed, names=names, all_pairs=True)
    rep = run_probe(inputs, task=task, target=target, **opts)
    metric = METRIC[rep["kind"]]
    method_of = dict(zip(names, methods, strict=True))
    pairs = [
        c | {"baseline": method_of[c["baseline"]], "file": method_of[c["file"]]}
        for c in rep["comparisons"]
        if c["metric"] == metric
    ]
    vs_raw = {c["file"]: c for c in pairs if c["baseline"] == "raw"}
    keep_pair = ("difference", "ci95", "p_value", "significant")
    rows = [
        {
            "method": m,
            "name": r["name"],
            "dim": r["dim"],
            "flattened": r["flattened"],
            "mean": r["summary"][metric]["mean"],
            "ci95": r["summary"][metric]["ci95"],
            "std": r["summary"][metric]["std"],
            "vs_raw": {k: vs_raw[m][k] for k in keep_pair} if m in vs_raw else None,
            "chosen": [f["hyperparameters"] for f in r["folds"]],
        }
        for m, r in zip(methods, rep["results"], strict=True)
    ]
    keep = ("task", "probe", "kind", "target", "seed", "protocol", "warnings")
    n_test = sum(f["n_test"] for f in rep["results"][0]["folds"])
    extra = {"metric": metric, "n_test": n_test, "rows": rows, "comparisons": pairs}
    return {**{k: rep[k] for k in keep}, **extra}


def recommendation(lf: LatentFile, check: dict | None, probes: list[dict], name: str, budget):
    """The recommended projection and why (from the linear probe when it ran), or why none."""
    if check is None:
        budget.skip(f"{name}: recommendation (it needs check's measurements)")
        return {"method": None, "reason": "not made: check was skipped", **NO_PICK}
    linear = next((p for p in probes if p["task"] in ("linear", "ridge")), None)
    scores = None if linear is None else {r["method"]: r["mean"] for r in linear["rows"]}
    metric = "" if linear is None else f"{linear['probe']} {linear['metric'].replace('_', ' ')}"
    paired = None
    if linear is not None:
        ci = {r["method"]: r["ci95"] for r in linear["rows"]}
        paired = {"comparisons": linear["comparisons"], "n_test": linear["n_test"], "ci95": ci}
    unprobed = "the file has no labels or targets"
    if linear is None and target_of(lf) is not None:
        unprobed = "the linear probe was skipped"
    opts = dict(d=node_channels(lf), paired=paired, unprobed=unprobed)
    try:
        return recommend(lf.action, check, scores, metric, **opts)
    except InvlatentError as e:
        return {"method": None, "reason": str(e), **NO_PICK}
