"""`invlatent check`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def check_() -> None:
    """Not implemented yet."""
    fail("'check' is not implemented yet")
