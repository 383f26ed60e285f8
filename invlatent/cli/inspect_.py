"""``invlatent inspect``: what a latent file holds, without loading its data."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, say


@cli_errors
def inspect(
    files: Annotated[list[str], typer.Argument(help="Latent files (or - for stdin).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Print shapes, dtypes, group action, targets and history of latent files."""
    from invlatent.analysis.inspection import render, summarise

    if files.count("-") > 1:
        fail("stdin (-) can be read only once")
    summaries = [summarise(f) for f in files]
    if as_json:
        typer.echo(json.dumps(summaries if len(files) > 1 else summaries[0], indent=2))
    else:
        say("\n\n".join(render(s) for s in summaries))
