"""``invlatent interpolate``: decode straight latent paths between molecules, raw vs sorted."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, one_of, say

Opt = typer.Option


@cli_errors
def interpolate(
    model: Annotated[str, typer.Argument(help="Graph VAE checkpoint from `train graph-vae`.")],
    latents: Annotated[str, typer.Argument(help="Raw node latents (action sn) or -.")],
    pairs: Annotated[int, Opt(help="Number of molecule pairs (same atom count).")] = 100,
    steps: Annotated[int, Opt(help="Decoded points per path, both ends included.")] = 9,
    space: Annotated[str, Opt(help="raw, sorted or both.")] = "both",
    mode: Annotated[str, Opt(help="Decoding: search, valence or argmax (see decode).")] = "search",
    draw: Annotated[int, Opt(help="Paths per space drawn in the picture.")] = 3,
    seed: Annotated[int, Opt(help="Seed for choosing the pairs.")] = 0,
    as_json: Annotated[bool, Opt("--json", help="Print the metrics as JSON on stdout.")] = False,
    output: Annotated[
        str | None, Opt("-o", "--output", help="PNG picture of the first paths.")
    ] = None,
) -> None:
    """Interpolate between molecules in raw and sorted latent space; report path quality."""
    from invlatent.pipelines.molecules.interpolate import SPACES, run_interpolation

    one_of(space=(space, (*SPACES, "both")))
    report = run_interpolation(
        model,
        latents,
        pairs=pairs,
        steps=steps,
        space=space,
        mode=mode,
        seed=seed,
        draw=draw,
        picture=output,
    )
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True, indent=1))
    else:
        say(_table(report))


def _table(report: dict) -> str:
    head = f"{'space':8} {'validity':>9} {'uniqueness':>11} {'edits/step':>11} {'changes/path':>13}"
    rows = [
        f"{s:8} {m['validity']:9.3f} {m['uniqueness']:11.3f} {m['edits_per_step']:11.2f} "
        f"{m['changes_per_path']:13.2f}"
        for s, m in report["spaces"].items()
    ]
    return "\n".join([f"{report['pairs']} pairs x {report['steps']} steps", head, *rows])
