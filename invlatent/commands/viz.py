"""`invlatent viz`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def viz() -> None:
    """Not implemented yet."""
    fail("'viz' is not implemented yet")
