"""``invlatent train gcnn`` / ``invlatent train cnn``: image classifiers on rotated data."""

from __future__ import annotations

from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, one_of, parse_names, say

Opt = typer.Option
Output = Annotated[
    str, Opt("-o", "--output", help="Checkpoint to write (safetensors + JSON config).")
]
Data = Annotated[
    str, Opt(help="mnist, digits, digits:SIZE, a folder of class folders, .npz or IDX.")
]
Epochs = Annotated[int, Opt(help="Passes over the training images.")]
Seed = Annotated[int, Opt(help="Seed for weights, data order and rotations.")]
Device = Annotated[str, Opt(help="cpu or cuda.")]
Augment = Annotated[
    str, Opt(help="rotate: a fresh random rotation of every training image per epoch; none.")
]
TestRotate = Annotated[
    str, Opt(help="random: score on randomly rotated test images (fixed seed); none.")
]
BatchSize = Annotated[int, Opt(help="Images per training step.")]
Lr = Annotated[float, Opt(help="Peak learning rate (one-cycle schedule).")]
Hidden = Annotated[int, Opt(help="Width of a hidden layer in the head (0: linear head).")]


def register(app: typer.Typer) -> None:
    """Attach this family's `train` sub-commands to the `train` app."""
    app.command("gcnn")(gcnn)
    app.command("cnn")(cnn)


@cli_errors
def gcnn(
    output: Output,
    group: Annotated[str, Opt(help="c4, c8, c16, d4 (any cN or dN).")] = "c8",
    data: Data = "mnist",
    epochs: Epochs = 20,
    widths: Annotated[str, Opt(help="Fields per block, comma-separated.")] = "8,12,12,16,16",
    hidden: Hidden = 0,
    basis: Annotated[
        str, Opt(help="Filter basis: harmonic (rotates smoothly) or pixel (bilinear).")
    ] = "harmonic",
    batch_size: BatchSize = 64,
    lr: Lr = 3e-3,
    augment: Augment = "rotate",
    test_rotate: TestRotate = "random",
    seed: Seed = 0,
    device: Device = "cpu",
) -> None:
    """Train a C_N / D_N group-equivariant CNN classifier."""
    from invlatent.groups.action import Action

    action = Action.parse(group)
    if not action.finite or action.grid:
        fail(f"--group {group!r}: a group CNN needs cN or dN (e.g. c4, c8, c16, d4)")
    _run(output, arch="gcnn", group=str(action), basis=basis, **_common(locals()))


@cli_errors
def cnn(
    output: Output,
    data: Data = "mnist",
    epochs: Epochs = 20,
    widths: Annotated[str, Opt(help="Channels per block, comma-separated.")] = "16,24,24,32,32",
    hidden: Hidden = 0,
    batch_size: BatchSize = 64,
    lr: Lr = 3e-3,
    augment: Augment = "rotate",
    test_rotate: TestRotate = "random",
    seed: Seed = 0,
    device: Device = "cpu",
) -> None:
    """Train a plain CNN (invariance encouraged by rotation augmentation) of matched size."""
    _run(output, arch="cnn", group=None, **_common(locals()))


def _common(values: dict) -> dict:
    keys = (
        "data",
        "epochs",
        "hidden",
        "batch_size",
        "lr",
        "augment",
        "test_rotate",
        "seed",
        "device",
    )
    out = {k: values[k] for k in keys}
    try:
        out["widths"] = [int(w) for w in parse_names(values["widths"])]
    except ValueError:
        fail(f"--widths {values['widths']!r}: expected comma-separated integers, e.g. 8,12,16")
    return out


def _run(output: str, **options) -> None:
    from invlatent.format.latentfile import ensure_writable_output
    from invlatent.pipelines.images.train import AUGMENTS, TrainOptions, train_to_file
    from invlatent.ranks import from_env

    ensure_writable_output(output)
    at_least(epochs=(options["epochs"], 1), batch_size=(options["batch_size"], 1))
    one_of(augment=(options["augment"], AUGMENTS))
    opts = TrainOptions(**options)
    opts.check()
    config = train_to_file(opts, output, _reporter(opts.epochs))
    if not from_env().is_main:
        return
    say(
        f"test accuracy {config['test_accuracy']:.4f} "
        f"({config['n_parameters']} parameters) → {output}"
    )


def _reporter(epochs: int):
    """One line per epoch on stderr (above the progress bar when stderr is a terminal)."""

    def report(epoch: int, row: dict) -> None:
        say(
            f"epoch {epoch}/{epochs}  loss {row['loss']:.4f}  train {row['train_accuracy']:.2%}  "
            f"test {row['test_accuracy']:.2%}  ({row['seconds']:.1f} s)"
        )

    return report
