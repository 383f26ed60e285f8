"""``invlatent check``: measured invariance and retention of projections (FILE), or of a model
on data (MODEL DATA, handled by the image pipeline), lifted to cN/dN with ``--lift``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from invlatent.cli._common import cli_errors, fail, say
from invlatent.cli._gates import check_limits, gate


@cli_errors
def check_(
    inputs: Annotated[list[str], typer.Argument(help="A latent file, or MODEL DATA.")],
    method: Annotated[
        list[str] | None, typer.Option("--method", "-m", help="Method to measure (repeatable).")
    ] = None,
    pairs: Annotated[int, typer.Option(min=1, help="Random pairs for retention.")] = 2000,
    samples: Annotated[int, typer.Option(min=1, help="Rows sampled per measurement.")] = 256,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the sampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    device: Annotated[str, typer.Option(help="Device for MODEL DATA checks.")] = "cpu",
    layer: Annotated[
        str | None, typer.Option(help="MODEL DATA: the layer to check (default: the latent).")
    ] = None,
    lift: Annotated[
        str | None,
        typer.Option(
            help="MODEL DATA: check the encoder lifted to cN or dN as `encode --lift` makes it."
        ),
    ] = None,
    torchscript: Annotated[
        bool, typer.Option(help="MODEL is a TorchScript / torch.export encoder (with --lift).")
    ] = False,
    onnx: Annotated[bool, typer.Option(help="MODEL is an ONNX encoder (with --lift).")] = False,
    max_error: Annotated[
        float | None,
        typer.Option(
            help="Exit 1 when a measured invariance / equivariance error exceeds this (exact "
            "elements; raw only when named with -m raw)."
        ),
    ] = None,
    max_error_approx: Annotated[
        float | None,
        typer.Option(help="The same gate for approximate elements (non-quarter turns of a grid)."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="MODEL STRUCTURES with --torchscript/--onnx: the 3-D encoder's output action "
            "(sn*o3:IRREPS, o3:IRREPS, sn or trivial)."
        ),
    ] = None,
) -> None:
    """Measure invariance error, distance to the orbit and information retention per method."""
    if len(inputs) not in (1, 2):
        fail(f"check takes a latent file, or MODEL DATA; got {len(inputs)} arguments")
    check_limits(max_error=max_error, max_error_approx=max_error_approx)
    foreign = "onnx" if onnx else "torchscript" if torchscript else None
    if len(inputs) == 2 and foreign and group and not lift:
        from invlatent.pipelines.mol3d.check_model import check_foreign, render

        if torchscript and onnx:
            fail("--torchscript and --onnx exclude each other: say which format MODEL is")
        if layer is not None or device != "cpu":
            fail("--layer and --device apply to invlatent checkpoints, not to a 3-D encoder")
        opts = dict(seed=seed, samples=samples)
        result = check_foreign(inputs[0], inputs[1], group=group, onnx=onnx, **opts)
    elif len(inputs) == 2 and (lift or foreign):
        from invlatent.pipelines.images.check_model import check_lift, render

        if torchscript and onnx:
            fail("--torchscript and --onnx exclude each other: say which format MODEL is")
        if not lift:
            fail(
                f"--{foreign}: check measures a foreign image encoder lifted (add --lift cN or "
                "dN) or a 3-D encoder (add --group sn*o3:IRREPS)"
            )
        opts = dict(seed=seed, samples=samples, device=device, layer=layer)
        result = check_lift(inputs[0], inputs[1], lift=lift, foreign=foreign, **opts)
    elif len(inputs) == 2:
        from invlatent.format.checkpoint import read_config

        if read_config(inputs[0]).get("family") == "mol3d":
            from invlatent.pipelines.mol3d.check_model import check_model, render
        else:
            from invlatent.pipelines.images.check_model import check_model, render

        result = check_model(
            inputs[0], inputs[1], seed=seed, samples=samples, device=device, layer=layer
        )
    else:
        given = (
            ("--layer", layer),
            ("--lift", lift),
            (f"--{foreign}", foreign),
            ("--group", group),
        )
        for flag, value in given:
            if value is not None:
                fail(f"{flag} applies to MODEL DATA checks, not to a latent file")
        from invlatent.analysis.check import check_file, render
        from invlatent.format.shards import read_input

        result = check_file(read_input(inputs[0]), method, pairs=pairs, samples=samples, seed=seed)
        result = {"file": inputs[0], **result}
    if as_json:
        typer.echo(json.dumps(result))
    else:
        say(render(result))
    from invlatent.analysis.check import gate as failed

    gate(failed(result, max_error, max_error_approx, tuple(method or ())))
