"""``invlatent inspect``: what a latent file holds, without loading its data."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, say


@cli_errors
def inspect(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Latent files (or - for stdin), or 3-D structure files (.extxyz, .db…)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Print shapes, dtypes, group action, targets and history of latent files (frames,
    elements and targets of structure files)."""
    if files.count("-") > 1:
        fail("stdin (-) can be read only once")
    summaries = [_summarise(f) for f in files]
    if as_json:
        typer.echo(json.dumps(summaries if len(files) > 1 else summaries[0], indent=2))
    else:
        say("\n\n".join(_render(s) for s in summaries))


def _summarise(path: str) -> dict:
    """A latent file's summary, or a structure file's (by its suffix)."""
    from invlatent.pipelines.mol3d.structures import STRUCTURE_SUFFIXES

    if path.lower().endswith(STRUCTURE_SUFFIXES):
        from invlatent.pipelines.mol3d.structures import summarise_structures

        return summarise_structures(path)
    from invlatent.analysis.inspection import summarise

    return summarise(path)


def _render(summary: dict) -> str:
    if summary["format"] == "structures":
        from invlatent.pipelines.mol3d.structures import render_structures

        return render_structures(summary)
    from invlatent.analysis.inspection import render

    return render(summary)
