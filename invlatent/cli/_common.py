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
