"""``invlatent encode``: run an encoder over data and write its latents (placeholder)."""

from __future__ import annotations

from invlatent.commands._common import fail


def encode() -> None:
    """Not implemented yet."""
    fail("'encode' is not implemented yet")
