"""The comparison table for people: a row per file, a column per metric (its mean over folds and
95 % interval), and each file's paired difference from the first on the primary metric."""

from __future__ import annotations

CLASSIFICATION_COLUMNS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "bal. acc.",
    "macro_f1": "macro-F1",
}
REGRESSION_COLUMNS = {"mean_r2": "mean R²", "mean_nmae": "MAE/σ"}
MAX_TARGET_COLUMNS = 3  # beyond this many targets only the summary columns are shown


def render(report: dict, width: int | None = None) -> str:
    """The report's table, with its notes, as text for people."""
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width or 170, highlight=False, markup=False)
    table = Table(title=_title(report), caption=_caption(report), title_justify="left")
    table.add_column("latents", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("features", justify="right")
    columns = _metric_columns(report)
    for label in columns.values():
        table.add_column(label, justify="right", no_wrap=True)
    primary = next(iter(columns))[0]
    deltas = _deltas(report, primary)
    if deltas:
        table.add_column(f"Δ {columns[(primary,)]}", justify="right", no_wrap=True)
    table.add_column("chosen")
    for k, r in enumerate(report["results"]):
        cells = [_cell(_lookup(r["summary"], key)) for key in columns]
        delta = [deltas.get(r["file"], "") if k else "baseline"] if deltas else []
        table.add_row(r["name"], r["file"], _features(r), *cells, *delta, _chosen(r["folds"]))
    console.print(table)
    return console.file.getvalue().rstrip("\n")


def _title(report: dict) -> str:
    p = report["protocol"]
    on = "labels" if report["kind"] == "classification" else ", ".join(report["target"])
    folds = (
        "fixed split from " + p["split_from"]
        if p["type"] == "fixed-split"
        else f"{p['folds']} folds"
    )
    guard = f", grouped by ids ({p['n_objects']} objects)" if p.get("grouped_by") else ""
    return f"probe {report['probe']} on {on}: {p['type']}, {folds}{guard}, seed {report['seed']}"


def _deltas(report: dict, metric: str) -> dict[str, str]:
    """Each file's difference from the first row on ``metric``: value, interval, * significant."""
    first = report["results"][0]["file"]
    out = {}
    for c in report.get("comparisons", []):
        if c["metric"] == metric and c["baseline"] == first:
            lo, hi = c["ci95"]
            mark = " *" if c["significant"] else "  "
            out[c["file"]] = f"{c['difference']:+.3f} [{lo:+.3f}–{hi:+.3f}]{mark}"
    return out


def _caption(report: dict) -> str | None:
    notes = ["[lo–hi] = 95 % bootstrap interval over the test rows"]
    if len(report["results"]) > 1:
        alpha = report["protocol"].get("alpha", 0.05)
        notes.append(
            "Δ = difference from the first row on the same test rows, "
            f"* = significant at α = {alpha:g} (paired test, Holm-corrected)"
        )
    if any(r["flattened"] for r in report["results"]):
        notes.append("flat = equivariant latents flattened to vectors (not invariant)")
    if report["protocol"]["dropped_rows"]:
        notes.append(f"{report['protocol']['dropped_rows']} rows with NaN targets dropped")
    return "; ".join(notes) or None


def _metric_columns(report: dict) -> dict[tuple[str, ...], str]:
    if report["kind"] == "classification":
        return {(k,): v for k, v in CLASSIFICATION_COLUMNS.items()}
    cols = {(k,): v for k, v in REGRESSION_COLUMNS.items()}
    if len(report["target"]) <= MAX_TARGET_COLUMNS:
        cols |= {("targets", t, "r2"): f"R² {t}" for t in report["target"]}
    return cols


def _lookup(summary: dict, key: tuple[str, ...]) -> dict:
    for part in key:
        summary = summary[part]
    return summary


def _cell(stat: dict) -> str:
    if "ci95" in stat:
        lo, hi = stat["ci95"]
        return f"{stat['mean']:.3f} [{lo:.3f}–{hi:.3f}]"
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}" if stat["std"] else f"{stat['mean']:.3f}"


def _features(result: dict) -> str:
    if result["flattened"]:
        return "flat " + "×".join(map(str, result["shape"])) + f" = {result['dim']}"
    return str(result["dim"])


def _chosen(folds: list[dict]) -> str:
    """Each hyperparameter's value, or its range over folds (and targets) when it varies."""
    parts = []
    for key in folds[0]["hyperparameters"]:
        values = []
        for f in folds:
            v = f["hyperparameters"][key]
            values += v if isinstance(v, list) else [v]
        lo, hi = min(values), max(values)
        parts.append(f"{key}={lo:g}" if lo == hi else f"{key} {lo:g}–{hi:g}")
    return ", ".join(parts)
