"""``invlatent probe``: downstream probes of one or more latent files, one comparison table."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, parse_names, say
from invlatent.cli._gates import check_alpha, gate
from invlatent.errors import InvlatentError


@cli_errors
def probe(
    files: Annotated[list[str], typer.Argument(help="Latent files (or -) of the same samples.")],
    task: Annotated[
        str,
        typer.Option(
            "--task", "-t", help="linear|logistic, knn, mlp (labels); ridge, knn, mlp (targets)."
        ),
    ] = "linear",
    target: Annotated[
        str, typer.Option(help="labels, or comma-separated target names.")
    ] = "labels",
    folds: Annotated[
        int | None, typer.Option(help="K-fold CV (default 5); given, it overrides a file's split.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the splits and of the probes.")] = 0,
    metric: Annotated[str, typer.Option(help="kNN: cosine (T=0.07 vote) or euclidean.")] = "cosine",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full report as JSON on stdout.")
    ] = False,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write the JSON report here.")
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="Significance level of the paired comparisons (Holm).")
    ] = 0.05,
    expect: Annotated[
        list[str] | None,
        typer.Option(
            help="Condition to gate on (repeatable; exit 1 when one fails): 'A > B' (A "
            "significantly better than B), 'A >= B' (not significantly worse), 'A >= 0.9' "
            "(interval's lower end), 'A.macro_f1 > B'. A, B: file paths or table names."
        ),
    ] = None,
) -> None:
    """Compare how well labels or targets can be read off each file (a row per file), with
    95 % intervals and paired comparisons against the first file."""
    from invlatent.analysis.probe import ExpectationError, explain, render, run_probe
    from invlatent.format.latentfile import write_atomic

    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise InvlatentError(
            f"{output}: folder {os.path.dirname(os.path.abspath(output))} does not exist"
        )
    check_alpha(alpha)
    opts = dict(folds=folds, seed=seed, metric=metric, alpha=alpha, expect=expect)
    try:
        report = run_probe(files, task=task, target=parse_names(target), **opts)
    except ExpectationError as e:
        fail(f"--expect {e}")
    for w in report["warnings"]:
        say(f"invlatent: warning: {w}")
    say(render(report))
    text = json.dumps(report, indent=2) + "\n"
    if output:
        write_atomic([text.encode()], output)
    if as_json:
        typer.echo(text, nl=False)
    gate([f"--expect {explain(e)}" for e in report.get("expectations", []) if not e["holds"]])
