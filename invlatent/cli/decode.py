"""``invlatent decode``: latents (raw ``sn`` or sorted) or prior samples → SMILES, one per line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, say
from invlatent.pipelines.molecules.defaults import SEARCH_CANDIDATES

Opt = typer.Option


@cli_errors
def decode(
    model: Annotated[str, typer.Argument(help="Graph VAE checkpoint from `train graph-vae`.")],
    latents: Annotated[
        str | None, typer.Argument(help="Latent file (raw sn or `project --method sort`), or -.")
    ] = None,
    prior: Annotated[
        int | None, Opt(help="Decode N samples of the prior instead of a latent file.")
    ] = None,
    mode: Annotated[
        str,
        Opt(
            help="search: of the decoder's likeliest graphs, the one the encoder maps back "
            "closest; valence: greedy bonds within valences; argmax: likeliest bond per pair."
        ),
    ] = "search",
    candidates: Annotated[
        int, Opt(help="Graphs re-encoded per latent by --mode search (more: slower, surer).")
    ] = SEARCH_CANDIDATES,
    seed: Annotated[int, Opt(help="Seed for prior samples.")] = 0,
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON on stderr.")] = False,
    output: Annotated[
        str | None, Opt("-o", "--output", help="SMILES file to write (default: stdout).")
    ] = None,
) -> None:
    """Decode latents into molecules: SMILES and the latent's id per line, INVALID when invalid."""
    from invlatent.pipelines.molecules.decode import decode_to_smiles, write_smiles

    if (latents is None) == (prior is None):
        fail("give either a LATENTS file or --prior N")
    if prior is not None and prior < 1:
        fail(f"--prior must be at least 1, got {prior}")
    at_least(candidates=(candidates, 1))
    lines, summary = decode_to_smiles(
        model, latents, prior=prior, mode=mode, seed=seed, candidates=candidates
    )
    write_smiles(lines, output)
    say(json.dumps(summary, sort_keys=True) if as_json else _summary_text(summary))


def _summary_text(s: dict) -> str:
    how = f"search over {s['candidates']} candidates" if s["mode"] == "search" else s["mode"]
    return (
        f"decoded {s['decoded']} latents ({s['source']}, {how}): {s['valid']} valid "
        f"({100 * s['validity']:.1f}%), {s['unique']} unique valid ({100 * s['uniqueness']:.1f}%)"
    )
