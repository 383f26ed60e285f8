"""The ``invlatent`` command line: parsing and wiring only; the work lives in library modules."""

from __future__ import annotations

import signal
import sys

import typer

from invlatent.cli import (
    check_,
    decode,
    encode,
    import_,
    inspect_,
    interpolate,
    probe,
    project,
    report,
    train,
    viz,
)
from invlatent.cli._common import OneLineErrors

__all__ = ["app", "main"]

app = typer.Typer(
    name="invlatent",
    help="Analyse equivariant latents through invariant projections (files in, files out).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=OneLineErrors,
)
app.add_typer(train.app, name="train")
app.command("encode")(encode.encode)
app.command("project")(project.project)
app.command("probe")(probe.probe)
app.command("viz")(viz.viz)
app.command("check")(check_.check_)
app.command("inspect")(inspect_.inspect)
app.command("import")(import_.import_)
app.command("decode")(decode.decode)
app.command("interpolate")(interpolate.interpolate)
app.command("report")(report.report)


def main() -> None:
    """Entry point of the ``invlatent`` console script."""
    signal.signal(signal.SIGTERM, _terminated)
    app()


def _terminated(signum, frame) -> None:
    """SIGTERM (``kill``, a scheduler, torchrun) unwinds like an error, so that temporary
    outputs (a sharded project's hidden folder) are removed; exit status 128 + 15."""
    sys.exit(143)
