"""``invlatent report``: one offline HTML page (and/or JSON) applying the paper's principles."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, parse_names


@cli_errors
def report(
    files: Annotated[list[str], typer.Argument(help="Latent files (or - once) to report on.")],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="The HTML page to write.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the same content as JSON on stdout.")
    ] = False,
    tasks: Annotated[
        str, typer.Option(help="Probes: linear, knn, mlp (linear is ridge for targets).")
    ] = "linear,knn",
    embeddings: Annotated[str, typer.Option(help="Panels: pca, umap.")] = "pca,umap",
    budget: Annotated[
        float | None, typer.Option(min=1, help="Seconds; stages that do not fit are skipped.")
    ] = None,
    samples: Annotated[int, typer.Option(min=2, help="check: sampled rows.")] = 256,
    pairs: Annotated[int, typer.Option(min=1, help="check: random pairs.")] = 2000,
    probe_rows: Annotated[int, typer.Option(min=10, help="Rows probed (seeded sample).")] = 5000,
    folds: Annotated[int, typer.Option(min=2, help="Probe folds.")] = 5,
    panel_rows: Annotated[int, typer.Option(min=3, help="Points per panel.")] = 2000,
    orbits: Annotated[int, typer.Option(min=0, help="Orbits drawn in the panels.")] = 5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every sample and probe.")] = 0,
) -> None:
    """Guarantees, measured invariance and retention, probes, panels and the recommended
    projection of each file, on one self-contained page; progress on stderr."""
    from invlatent.analysis import report as rep
    from invlatent.format.latentfile import write_atomic

    if output is None and not as_json:
        fail("give -o report.html and/or --json")
    _check_output(output)
    settings = rep.Settings(
        tasks=tuple(_names(tasks, ("linear", "knn", "mlp"), "--tasks")),
        embeddings=tuple(_names(embeddings, ("pca", "umap"), "--embeddings")),
        samples=samples, pairs=pairs, probe_rows=probe_rows, folds=folds,
        panel_rows=panel_rows, orbits=orbits, seed=seed,
    )  # fmt: skip
    result, figures = rep.build(files, settings, rep.Budget(budget))
    if output is not None:
        write_atomic([rep.html_page(result, figures).encode()], output)
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _check_output(path: str | None) -> None:
    """Refuse, before any work, an output that cannot be written."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        fail(f"{path}: is a folder")
    if not os.path.isdir(folder):
        fail(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        fail(f"{path}: folder {folder} is not writable")


def _names(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    names = parse_names(text)
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        fail(f"{option}: {', '.join(bad) or 'nothing given'}; choose from {', '.join(allowed)}")
    return names
