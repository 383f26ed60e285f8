"""``invlatent viz``: side-by-side 2-D pictures of latent files (PCA, UMAP or t-SNE)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, say

Opt = typer.Option


@cli_errors
def viz(
    files: Annotated[
        list[str], typer.Argument(help="Latent files (or - for stdin), one panel each.")
    ],
    output: Annotated[str, Opt("-o", "--output", help="Image file: .png, .svg or .pdf.")],
    method: Annotated[str, Opt(help="Embedding: pca, umap or tsne.")] = "pca",
    color: Annotated[str, Opt(help="auto, none, labels, g, or a target name.")] = "auto",
    sample: Annotated[int, Opt(help="At most this many points per panel (stratified).")] = 10_000,
    seed: Annotated[int, Opt(help="Seed of sampling, embedding and orbit choice.")] = 0,
    orbits: Annotated[int, Opt(help="Draw the orbits of this many objects.")] = 0,
    orbit_size: Annotated[
        int, Opt(help="Members per orbit for so2 angles / sn permutations.")
    ] = 24,
    orbit_source: Annotated[str, Opt(help="auto, ids (copies sharing an id) or group.")] = "auto",
    standardize: Annotated[bool, Opt(help="Scale every feature to mean 0, variance 1.")] = False,
    embed_out: Annotated[
        str | None, Opt(help="Also save the 2-D coordinates (latent file).")
    ] = None,
    dpi: Annotated[int, Opt(help="Resolution of raster output.")] = 150,
    n_neighbors: Annotated[int, Opt(help="UMAP: neighbourhood size.")] = 15,
    min_dist: Annotated[float, Opt(help="UMAP: minimum distance.")] = 0.1,
    perplexity: Annotated[float, Opt(help="t-SNE: perplexity.")] = 30.0,
    epochs: Annotated[int | None, Opt(help="UMAP epochs / t-SNE iterations.")] = None,
    as_json: Annotated[
        bool, Opt("--json", help="Print the picture's record as JSON on stdout.")
    ] = False,
) -> None:
    """Draw one panel per file with a shared colour scale; optionally draw orbits."""
    from invlatent.analysis import viz as v
    from invlatent.format.latentfile import (
        ensure_writable_output,
        make_step,
        read,
        write,
        write_atomic,
    )

    fmt = v.figure_format(output)
    settings = v.Settings(method, seed, n_neighbors, min_dist, perplexity, epochs)
    settings.check()
    _check(files, sample, orbits, orbit_size, dpi, embed_out, as_json)
    if embed_out:
        ensure_writable_output(embed_out)
    opts = v.Options(settings, color, sample, orbits, orbit_size, orbit_source, standardize)
    lfs = [read(f) for f in files]
    pic = v.render(files, lfs, opts, dpi=dpi)
    data = v.figure_bytes(pic.figure, fmt, pic.record, dpi=dpi)
    if embed_out:
        inputs = [(p["file"], p["sha256"]) for p in pic.record["panels"]]
        step = make_step("viz", _step_options(pic.record, method), inputs=inputs, seed=seed)
        write(v.embedding_file(pic.panels, step), embed_out)
    write_atomic([data], output)
    _report(pic.record, output, as_json)


def _check(files, sample, orbits, orbit_size, dpi, embed_out, as_json) -> None:
    if files.count("-") > 1:
        fail("stdin (-) can be read only once")
    at_least(sample=(sample, 3), orbits=(orbits, 0), orbit_size=(orbit_size, 2), dpi=(dpi, 10))
    if as_json and embed_out == "-":
        fail("--json and --embed-out - would both write to stdout")


def _step_options(record: dict, method: str) -> dict:
    params = record["panels"][0]["params"]
    keep = {k: v for k, v in params.items() if k not in ("seed", "explained_variance_ratio")}
    return {
        **keep,
        "method": method,
        "sample": record["sample"],
        "standardize": record["standardize"],
    }


def _report(record: dict, output: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"output": output, **record}, indent=2, sort_keys=True))
        return
    for i, p in enumerate(record["panels"], 1):
        line = f"panel {i}: {p['title']} ({p['file']}, {p['points']:,} points)"
        if p["points"] < p["rows"]:
            line += f", sampled from {p['rows']:,} rows (--sample)"
        ratio = p["params"].get("explained_variance_ratio")
        if ratio:
            line += f", explained variance {100 * ratio[0]:.1f}% + {100 * ratio[1]:.1f}%"
        if "orbits" in p:
            line += f", orbit spread {p['orbits']['relative_spread']:.3f}"
        say(line)
    say(f"wrote {output}")
