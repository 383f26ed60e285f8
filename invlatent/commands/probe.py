"""`invlatent probe`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def probe() -> None:
    """Not implemented yet."""
    fail("'probe' is not implemented yet")
