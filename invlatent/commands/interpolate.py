"""`invlatent interpolate`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def interpolate() -> None:
    """Not implemented yet."""
    fail("'interpolate' is not implemented yet")
