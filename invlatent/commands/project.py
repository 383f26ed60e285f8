"""`invlatent project`: placeholder until its issue lands."""

from __future__ import annotations

from invlatent.commands._common import fail


def project() -> None:
    """Not implemented yet."""
    fail("'project' is not implemented yet")
