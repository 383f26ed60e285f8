"""Messages for people (progress, notes, warnings): library code says them here, and the command
line decides where they go (stderr unless it says otherwise); library code never prints."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["say", "sent_to"]

_sinks: list[Callable[[str], None]] = []


def say(message: str) -> None:
    """Report ``message`` to the current sink (stderr when none is set)."""
    if _sinks:
        _sinks[-1](message)
    else:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def sent_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Send every message said inside the block to ``sink`` (e.g. a list's ``append``)."""
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.pop()
