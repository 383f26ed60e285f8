"""What every subcommand shares: one-line errors with exit status 2, quiet broken pipes, stderr."""

from __future__ import annotations

import functools
import os
import sys
from typing import NoReturn

import typer

from invlatent.errors import InvlatentError


def fail(message: str) -> NoReturn:
    """Print ``invlatent: error: MESSAGE`` on one line of stderr and exit with status 2."""
    from invlatent.ranks import rank_prefix

    first = " ".join(str(message).split())
    typer.echo(f"invlatent: error: {rank_prefix()}{first}", err=True)
    raise typer.Exit(2)


def at_least(**bounds: tuple[float | None, float]) -> None:
    """Refuse an option below its least value with one line naming the flag (typer's own range
    checks print a multi-line box): ``at_least(batch_size=(value, 1))`` checks ``--batch-size``;
    a value of None (an option not given) passes."""
    for name, (value, least) in bounds.items():
        if value is not None and value < least:
            fail(f"--{name.replace('_', '-')} must be at least {least}, got {value}")


def one_of(**choices: tuple[str | None, tuple[str, ...]]) -> None:
    """Refuse an option whose value is not among its choices, with one line naming the flag."""
    for name, (value, allowed) in choices.items():
        if value is not None and value not in allowed:
            flag = f"--{name.replace('_', '-')}"
            fail(f"{flag} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


def say(message: str) -> None:
    """A message for people: always on stderr, never mixed with data on stdout."""
    typer.echo(message, err=True)


def cli_errors(fn):
    """Turn library errors into one-line messages (exit 2) and a closed stdout into a quiet exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvlatentError as e:
            fail(str(e))
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            fail(f"{e.filename}: {e.strerror.lower()}")

    return wrapper


def _silence_stdout() -> None:
    """After the reader of a pipe went away, point stdout at /dev/null so exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def parse_names(text: str | None) -> list[str]:
    """Split a comma-separated option value into a list of non-empty names."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def stderr_is_terminal() -> bool:
    """True when progress bars may be drawn."""
    return sys.stderr.isatty()
