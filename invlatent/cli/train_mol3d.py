"""``invlatent train mol3d``: an E(3)-equivariant e3nn network (or the plain baseline) on 3-D
molecules."""

from __future__ import annotations

from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, say
from invlatent.pipelines.mol3d.defaults import MODEL_DEFAULTS as ARCH
from invlatent.pipelines.mol3d.defaults import TRAIN_DEFAULTS as D

Opt = typer.Option


def register(app: typer.Typer) -> None:
    """Attach ``train mol3d`` to the `train` app."""
    app.command("mol3d")(mol3d)


@cli_errors
def mol3d(
    output: Annotated[str, Opt("-o", "--output", help="Checkpoint to write (safetensors + JSON).")],
    data: Annotated[
        str, Opt(help="qm9, an .xyz (multi-frame) or an .npz with pos/species.")
    ] = "qm9",
    arch: Annotated[
        str, Opt(help="e3nn (equivariant) or plain (non-equivariant baseline, rotation-augmented).")
    ] = "e3nn",
    targets: Annotated[
        str, Opt(help="Comma-separated targets to train on; the others stay for probes.")
    ] = D["targets"],
    limit: Annotated[
        int | None,
        Opt(help="Use N molecules: a fixed sample stratified by split, in input order."),
    ] = None,
    irreps: Annotated[str, Opt(help="e3nn irreps of each layer (the latent).")] = ARCH["irreps"],
    layers: Annotated[int, Opt(help="Message-passing layers.")] = ARCH["layers"],
    lmax: Annotated[int, Opt(help="Highest l of the edge spherical harmonics.")] = ARCH["lmax"],
    r_cut: Annotated[float, Opt(help="Cut-off radius of the atom graph, Å.")] = ARCH["r_cut"],
    width: Annotated[int, Opt(help="plain: node feature width.")] = ARCH["width"],
    epochs: Annotated[int, Opt(help="Passes over the training split.")] = D["epochs"],
    batch_size: Annotated[int, Opt(help="Molecules per step.")] = D["batch_size"],
    lr: Annotated[float, Opt(help="Peak learning rate (cosine schedule).")] = D["lr"],
    augment: Annotated[
        bool | None, Opt(help="Random rotations of the inputs (default: on for plain only).")
    ] = None,
    threads: Annotated[int, Opt(help="Torch CPU threads.")] = D["threads"],
    max_minutes: Annotated[
        float | None,
        Opt(help="Time budget: the schedule follows wall time and stops in time (0: no budget)."),
    ] = D["max_minutes"],
    seed: Annotated[int, Opt(help="Seed for weights, batches and augmentation.")] = 0,
) -> None:
    """Train a 3-D molecule network; latents nodes (sn*o3), graph (o3) and invariant (trivial)."""
    import os

    for name, value in (
        ("--layers", layers),
        ("--epochs", epochs),
        ("--batch-size", batch_size),
        ("--threads", threads),
        ("--width", width),
    ):
        at_least(**{name[2:]: (value, 1)})
    at_least(lmax=(lmax, 0))
    if lr <= 0 or r_cut <= 0 or (max_minutes is not None and max_minutes < 0):
        fail("--lr and --r-cut must be > 0, --max-minutes >= 0")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        fail(f"{output}: folder {folder} does not exist or is not writable")
    _check_irreps(irreps)
    from invlatent.format.checkpoint import save_checkpoint
    from invlatent.pipelines.mol3d.train import train_mol3d

    state, config = train_mol3d(
        data,
        arch=arch,
        seed=seed,
        log=say,
        model_opts=dict(irreps=irreps, layers=layers, lmax=lmax, r_cut=r_cut, width=width),
        targets=targets,
        limit=limit,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        augment=augment,
        threads=threads,
        max_minutes=max_minutes,
    )
    if max_minutes == 0:
        config["train"]["max_minutes"] = None
    from invlatent.ranks import finish, from_env

    ctx = from_env()
    if ctx.is_main:
        save_checkpoint(output, state, config)
        say(f"wrote {output}")
    ctx.barrier()
    finish()


def _check_irreps(text: str) -> None:
    """The latent irreps: parseable by e3nn, with scalars (the readout needs them)."""
    from e3nn import o3

    try:
        irreps = o3.Irreps(text)
    except (ValueError, AssertionError):
        fail(f"--irreps {text!r}: not an e3nn Irreps string (e.g. 32x0e+8x1o+4x2e)")
    if not any(ir.l == 0 and ir.p == 1 for _, ir in irreps):
        fail(f"--irreps {text!r}: needs scalars (0e) for the readout")
