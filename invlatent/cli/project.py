"""``invlatent project``: an invariant projection of a latent file (or the table of methods)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, say

FAMILY_EXAMPLES = {
    "sn": "sn",
    "regular": "c8",
    "grid": "c8:grid",
    "so2": "so2:0,1,1,2",
    "o3": "o3:16x0e+8x1o+4x2e",
    "sn*o3": "sn*o3:16x0e+8x1o+4x2e",
    "trivial": "trivial",
}
COLUMNS = ("method", "invariant", "injective on orbits", "isometric", "convex image",
           "output size", "element")  # fmt: skip


@cli_errors
def project(
    file: Annotated[str | None, typer.Argument(help="Latent file (default -: stdin).")] = None,
    method: Annotated[
        str | None,
        typer.Option("--method", "-m", help="Method (see --list), or auto: the recommended one."),
    ] = None,
    dim: Annotated[int | None, typer.Option(help="Output size or number of templates.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of random templates.")] = 0,
    key_channel: Annotated[int | None, typer.Option(help="sn sort: channel sorted first.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print methods and guarantees.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: JSON on stdout.")] = False,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Output file (default: stdout).")
    ] = None,
    chunk_mb: Annotated[
        int, typer.Option(min=1, help="Rows read per step, in MB: bounds the memory used.")
    ] = 64,
) -> None:
    """Project latents onto invariants (action trivial), recording the step in the history.

    Fields on a grid (cN:grid, dN:grid) are pooled over the grid instead (spatial-mean,
    spatial-max): an equivariant reduction to cN/dN fields, to chain with a cN/dN method.
    """
    if list_:
        return _list(file, as_json)
    if method is None:
        fail("choose a method with --method (see `invlatent project --list`)")
    from invlatent.format import latentfile
    from invlatent.format.shards import is_sharded
    from invlatent.format.streaming import project_dataset, project_file

    latentfile.ensure_writable_output(output)
    if method == "auto":
        return _auto(file or "-", output, seed, dim, key_channel)
    opts = {"dim": dim, "seed": seed, "key_channel": key_channel, "chunk_mb": chunk_mb}
    if is_sharded(file or "-"):
        project_dataset(file, output, method, **opts)
    else:
        project_file(file or "-", output, method, **opts)


def _auto(src: str, output: str | None, seed: int, dim, key_channel) -> None:
    """--method auto: the recommended projection (analysis.recommend), its reason on stderr."""
    if dim is not None or key_channel is not None:
        fail("--method auto chooses the method's options itself; drop --dim/--key-channel")
    from invlatent.analysis.recommend import project_auto

    rec = project_auto(src, output, seed=seed)
    say(f"auto: {rec['reason']}")


def _list(file: str | None, as_json: bool) -> None:
    from invlatent.projections import guarantees

    if file is not None:
        from invlatent.format.latentfile import read_header
        from invlatent.format.shards import is_sharded, open_dataset

        if is_sharded(file):
            action = str(open_dataset(file).action)
        else:
            action = read_header(file)[0].metadata.get("action")
        if action is None:
            fail(f"{file}: not an invlatent latent file (no 'action' metadata)")
        tables = {str(action): guarantees(action)}
    else:
        tables = {ex: guarantees(ex) for ex in FAMILY_EXAMPLES.values()}
    if as_json:
        typer.echo(json.dumps(tables, indent=2, ensure_ascii=False))
    else:
        say("\n\n".join(_render(group, rows) for group, rows in tables.items()))


def _render(group: str, rows: list[dict[str, str]]) -> str:
    """A plain-text table of one group's methods and their guarantees."""
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    body = [line(COLUMNS), line(["-" * w for w in widths])]
    body += [line([r[c] for c in COLUMNS]) for r in rows]
    return f"{group}:\n" + "\n".join(body)
