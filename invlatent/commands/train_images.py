"""Training sub-commands (placeholder until their issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this family's `train` sub-commands to the `train` app."""
