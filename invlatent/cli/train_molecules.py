"""``invlatent train graph-vae``: a permutation-equivariant graph VAE on QM9 or a SMILES file."""

from __future__ import annotations

from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, say
from invlatent.pipelines.molecules.defaults import MODEL_DEFAULTS as ARCH
from invlatent.pipelines.molecules.defaults import TRAIN_DEFAULTS as D

Opt = typer.Option


def register(app: typer.Typer) -> None:
    """Attach this family's `train` sub-commands to the `train` app."""
    app.command("graph-vae")(graph_vae)


@cli_errors
def graph_vae(
    output: Annotated[str, Opt("-o", "--output", help="Checkpoint to write (safetensors + JSON).")],
    data: Annotated[str, Opt(help="qm9, or a .smi / .csv file of SMILES.")] = "qm9",
    smiles_col: Annotated[
        str | None, Opt(help="CSV data: the SMILES column (default: the one named smiles).")
    ] = None,
    limit: Annotated[
        int | None,
        Opt(help="Use N molecules: a fixed sample stratified by split, in input order."),
    ] = None,
    latent_dim: Annotated[int, Opt(help="Latent channels per node (d).")] = ARCH["latent_dim"],
    epochs: Annotated[int, Opt(help="Passes over the training split.")] = D["epochs"],
    hidden: Annotated[int, Opt(help="Width of encoder and decoder layers.")] = ARCH["hidden"],
    pair_layers: Annotated[
        int, Opt(help="Decoder layers on atom pairs (triangle products) before the bond logits.")
    ] = ARCH["edge_layers"],
    batch_size: Annotated[int, Opt(help="Molecules per step.")] = D["batch_size"],
    lr: Annotated[float, Opt(help="Peak learning rate (cosine schedule).")] = D["lr"],
    beta: Annotated[float, Opt(help="Weight of the KL term after warm-up.")] = D["beta"],
    warmup: Annotated[int, Opt(help="Epochs of linear KL warm-up.")] = D["warmup"],
    ema: Annotated[
        float, Opt(help="Decay of the weight average that is validated and saved (0: last step).")
    ] = D["ema"],
    threads: Annotated[int, Opt(help="Torch CPU threads.")] = D["threads"],
    max_minutes: Annotated[
        float | None,
        Opt(help="Time budget: the schedule follows wall time and stops in time (not bit-exact)."),
    ] = None,
    seed: Annotated[int, Opt(help="Seed for weights, batches and posterior noise.")] = 0,
) -> None:
    """Train a graph VAE with node-level latents z of shape [9, d] (action sn)."""
    import os

    from invlatent.format.checkpoint import save_checkpoint

    for name, value in (
        ("--latent-dim", latent_dim),
        ("--epochs", epochs),
        ("--hidden", hidden),
        ("--batch-size", batch_size),
        ("--threads", threads),
    ):
        at_least(**{name[2:]: (value, 1)})
    at_least(limit=(limit, 1))
    if lr <= 0 or beta < 0 or warmup < 0:
        fail("--lr must be > 0, --beta and --warmup >= 0")
    if pair_layers < 0 or not 0 <= ema < 1:
        fail(f"--pair-layers must be >= 0 and --ema in [0, 1), got {pair_layers} and {ema}")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        fail(f"{output}: folder {folder} does not exist or is not writable")
    from invlatent.pipelines.molecules.train import train_graph_vae

    state, config = train_graph_vae(
        data,
        seed=seed,
        log=say,
        arch=dict(latent_dim=latent_dim, hidden=hidden, edge_layers=pair_layers),
        limit=limit,
        smiles_col=smiles_col,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        beta=beta,
        warmup=warmup,
        ema=ema,
        threads=threads,
        max_minutes=max_minutes,
    )
    from invlatent.ranks import finish, from_env

    if from_env().is_main:
        save_checkpoint(output, state, config)
        say(f"wrote {output}")
    finish()
