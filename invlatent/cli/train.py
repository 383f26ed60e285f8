"""``invlatent train MODEL``: one sub-command per model family, each in its own module."""

from __future__ import annotations

import typer

from invlatent.cli import train_images, train_mol3d, train_molecules

app = typer.Typer(help="Train an equivariant encoder.", no_args_is_help=True)
train_images.register(app)
train_molecules.register(app)
train_mol3d.register(app)
