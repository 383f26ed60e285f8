"""Expectations a probe can gate on: ``A > B`` (A significantly better than B by the paired test on
the same test rows), ``A >= B`` (A not significantly worse) and thresholds on a metric's interval
(``A >= 0.9``: the interval's lower end at least 0.9; ``A.mean_nmae <= 0.3``: its upper end at most
0.3). A and B are inputs as given (paths or names) or the table's row names; the metric is the
probe's primary one unless written as ``A.metric``. For lower-is-better metrics (MAE/σ) ``>``
between two inputs means better; thresholds compare the numbers as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from invlatent.analysis.probe import _intervals
from invlatent.errors import InvlatentError

SPACED = re.compile(r"\s+(>=|<=|>|<)\s+")  # tried first: names such as <memory 0> hold < >
OPERATORS = re.compile(r"\s*(>=|<=|>|<)\s*")
PRIMARY = {"classification": "accuracy", "regression": "mean_r2"}
METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "macro_f1"),
    "regression": ("mean_r2", "mean_nmae"),
}
RANGES = {
    "accuracy": (0.0, 1.0),
    "balanced_accuracy": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "mean_r2": (float("-inf"), 1.0),
    "mean_nmae": (0.0, float("inf")),
}


class ExpectationError(InvlatentError):
    """An expectation that cannot be read or does not fit the probed inputs."""


@dataclass(frozen=True)
class Expectation:
    """One parsed expectation: ``left op right``, right a side or a number."""

    text: str
    left: str
    op: str
    right: str
    threshold: float | None


def parse(text: str) -> Expectation:
    """Read ``A > B`` / ``A >= 0.9`` (syntax only: names are resolved once files are read)."""
    parts = SPACED.split(text.strip())
    if len(parts) != 3:
        parts = OPERATORS.split(text.strip())
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise ExpectationError(
            f"{text!r}: expected 'A > B', 'A >= B' or 'A >= 0.9' (one comparison of two inputs "
            "or of an input and a number)"
        )
    left, op, right = parts
    if _number(left) is not None:
        raise ExpectationError(f"{text!r}: the left side must name an input, not a number")
    return Expectation(text.strip(), left, op, right, _number(right))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def resolve(exp: Expectation, labels: list[str], names: list[str], kind: str) -> dict:
    """The inputs (indices) and metric an expectation is about; refuses unknown names, metrics
    of the other kind of probe and thresholds outside the metric's range."""
    left, metric = _side(exp, exp.left, labels, names, kind)
    right = None
    if exp.threshold is None:
        right, other = _side(exp, exp.right, labels, names, kind)
        if metric != other and PRIMARY[kind] not in (metric, other):
            raise ExpectationError(f"{exp.text!r}: the two sides name different metrics")
        metric = metric if metric != PRIMARY[kind] else other
        if right == left:
            raise ExpectationError(f"{exp.text!r}: both sides name the same input")
    else:
        lo, hi = RANGES[metric]
        if not lo <= exp.threshold <= hi:
            raise ExpectationError(
                f"{exp.text!r}: {exp.threshold:g} is outside the range of {metric} "
                f"({_range(lo, hi)})"
            )
    return {"left": left, "right": right, "metric": metric}


def _range(lo: float, hi: float) -> str:
    if lo == float("-inf"):
        return f"at most {hi:g}"
    return f"at least {lo:g}" if hi == float("inf") else f"{lo:g} to {hi:g}"


def _side(exp, text: str, labels, names, kind: str) -> tuple[int, str]:
    found = _find(text, labels, names)
    if found is not None:
        return found, PRIMARY[kind]
    head, dot, metric = text.rpartition(".")
    if dot and metric in RANGES:
        if metric not in METRICS[kind]:
            raise ExpectationError(
                f"{exp.text!r}: {metric} is not a metric of a {kind} probe; "
                f"use {', '.join(METRICS[kind])}"
            )
        found = _find(head, labels, names)
        if found is not None:
            return found, metric
    known = ", ".join(f"{a} ({b})" if a != b else a for a, b in zip(labels, names, strict=True))
    raise ExpectationError(f"{exp.text!r}: no input named {text!r}; the inputs are {known}")


def _find(text: str, labels: list[str], names: list[str]) -> int | None:
    hits = [i for i, (a, b) in enumerate(zip(labels, names, strict=True)) if text in (a, b)]
    if len(set(hits)) > 1:
        raise ExpectationError(f"{text!r} names several inputs; use the file paths")
    return hits[0] if hits else None


def evaluate(exp: Expectation, where: dict, results: list[dict], pair: dict | None) -> dict:
    """Whether ``exp`` holds, with the figures that decided it. ``pair`` is the paired comparison
    (baseline = the right side) for comparisons of two inputs, its p-value already corrected."""
    left, metric = results[where["left"]], where["metric"]
    stat = left["summary"][metric]
    out = {"expect": exp.text, "metric": metric, "left": left["name"]}
    if exp.threshold is not None:
        lo, hi = stat["ci95"]
        x = exp.threshold
        holds = {">=": lo >= x, ">": lo > x, "<=": hi <= x, "<": hi < x}[exp.op]
        return out | {"value": stat["mean"], "ci95": stat["ci95"], "holds": bool(holds)}
    right = results[where["right"]]
    wins = pair["significant"] and _intervals.better(metric, pair["difference"])
    loses = pair["significant"] and not _intervals.better(metric, pair["difference"])
    holds = {">": wins, "<": loses, ">=": not loses, "<=": not wins}[exp.op]
    keep = ("difference", "ci95", "p_value", "significant")
    return out | {"right": right["name"], **{k: pair[k] for k in keep}, "holds": bool(holds)}


def explain(result: dict) -> str:
    """One line saying why an expectation failed."""
    m = result["metric"]
    if "right" not in result:
        lo, hi = result["ci95"]
        return (
            f"{result['expect']!r}: {result['left']} {m} {result['value']:.4g} "
            f"[{lo:.4g}, {hi:.4g}] (95 % interval)"
        )
    lo, hi = result["ci95"]
    verdict = "no significant difference"
    if result["significant"]:
        side = "better" if _intervals.better(m, result["difference"]) else "worse"
        verdict = f"{result['left']} significantly {side}"
    return (
        f"{result['expect']!r}: {m} difference {result['left']} − {result['right']} "
        f"{result['difference']:+.4g} [{lo:+.4g}, {hi:+.4g}], p = {result['p_value']:.3g} "
        f"(Holm), {verdict}"
    )
