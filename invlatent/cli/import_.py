"""``invlatent import``: wrap arrays saved by any other program into a latent file."""

from __future__ import annotations

from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, parse_names

Out = Annotated[str | None, typer.Option("-o", "--output", help="Output file (default: stdout).")]


@cli_errors
def import_(
    array: Annotated[str, typer.Argument(help="z as .npy, .npz, .pt or .safetensors.")],
    group: Annotated[
        str,
        typer.Option(
            "--group",
            "-g",
            help="sn, cN, dN, cN:grid, dN:grid, so2, o3:IRREPS, so3:IRREPS, sn*o3:IRREPS, "
            "sn*so3:IRREPS (e3nn Irreps, e.g. o3:16x0e+8x1o) or trivial.",
        ),
    ],
    freqs: Annotated[str | None, typer.Option(help="so2 irrep frequencies, e.g. 0,1,1,2.")] = None,
    key: Annotated[str, typer.Option(help="Name of z inside .npz/.pt/.safetensors.")] = "z",
    labels: Annotated[str | None, typer.Option(help="File with integer labels [B].")] = None,
    targets: Annotated[
        str | None, typer.Option(help="File with regression targets [B, k].")
    ] = None,
    target_names: Annotated[str | None, typer.Option(help="Comma-separated target names.")] = None,
    mask: Annotated[str | None, typer.Option(help="File with the node mask [B, n].")] = None,
    g: Annotated[str | None, typer.Option("--elements", help="File with group elements g.")] = None,
    g_perm: Annotated[
        str | None,
        typer.Option("--elements-perm", help="sn*o3: file with the node permutations [B, n]."),
    ] = None,
    g_kind: Annotated[
        str | None,
        typer.Option(help="How g encodes elements: perm, index, angle, rotation, rotation+perm."),
    ] = None,
    ids: Annotated[str | None, typer.Option(help="File with sample ids [B].")] = None,
    allow_nonfinite: Annotated[bool, typer.Option(help="Accept NaN/Inf in z.")] = False,
    output: Out = None,
) -> None:
    """Wrap latents from other programs (escnn, e3nn, your own) with their group action."""
    from invlatent.format.importing import import_arrays
    from invlatent.format.latentfile import ensure_writable_output, write

    ensure_writable_output(output)
    if freqs:
        group = f"so2:{freqs}" if group.lower() == "so2" else group
    side = {"labels": labels, "targets": targets, "mask": mask, "g": g, "ids": ids}
    side["g_perm"] = g_perm
    lf = import_arrays(
        array,
        group,
        key=key,
        side_files=side,
        target_names=parse_names(target_names),
        g_kind=g_kind,
        allow_nonfinite=allow_nonfinite,
    )
    write(lf, output)
