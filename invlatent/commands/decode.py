"""`invlatent decode`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def decode() -> None:
    """Not implemented yet."""
    fail("'decode' is not implemented yet")
