"""What every subcommand shares: one-line errors with exit status 2, quiet broken pipes, stderr."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from typing import NoReturn

import typer
import typer.core
from typer._click import exceptions as click_errors  # typer's own click: what it raises

from invlatent.errors import InvlatentError


def fail(message: str) -> NoReturn:
    """Print ``invlatent: error: MESSAGE`` on one line of stderr and exit with status 2."""
    error_line(message)
    raise typer.Exit(2)


def error_line(message: str) -> None:
    """Print ``invlatent: error: MESSAGE`` with the message's lines and spaces joined into one."""
    from invlatent.ranks import rank_prefix

    first = " ".join(str(message).split())
    typer.echo(f"invlatent: error: {rank_prefix()}{first}", err=True)


class OneLineErrors(typer.core.TyperGroup):
    """The top-level command group: a usage error (an unknown option, a value typer cannot
    convert or that is out of range) is one ``invlatent: error:`` line with exit status 2 instead
    of click's multi-line box, and warnings wait until the command ends: printed after a result,
    dropped before an error line (which is then the only line)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        with warnings_held() as held:
            try:
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except click_errors.NoArgsIsHelpError as e:
                e.show()
                sys.exit(e.exit_code)
            except click_errors.UsageError as e:
                where = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
                error_line(f"{e.format_message()}{where}")
                sys.exit(2)
            except click_errors.ClickException as e:
                error_line(e.format_message())
                sys.exit(2)
        code = rv if isinstance(rv, int) else 0
        if code != 2:
            for message in held:
                typer.echo(message, err=True)
        sys.exit(code)


_HELD: list[list[str]] = []


@contextlib.contextmanager
def warnings_held():
    """Hold ``say``'s warnings, and Python's (numpy, torch), while the block runs; the yielded
    list holds their lines once it has ended without an exception."""
    lines: list[str] = []
    _HELD.append(lines)
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield lines
        lines.extend(_warning_line(w) for w in caught)
    finally:
        _HELD.remove(lines)


def _warning_line(w: warnings.WarningMessage) -> str:
    text = " ".join(str(w.message).split())
    return f"invlatent: warning: {w.category.__name__}: {text}"


def at_least(**bounds: tuple[float | None, float]) -> None:
    """Refuse an option below its least value with one line naming the flag (typer's own range
    checks print a multi-line box): ``at_least(batch_size=(value, 1))`` checks ``--batch-size``;
    a value of None (an option not given) passes."""
    for name, (value, least) in bounds.items():
        if value is not None and value < least:
            fail(f"--{name.replace('_', '-')} must be at least {least}, got {value}")


OPTION_LIMITS = {  # the largest value of each numeric option, whichever command takes it
    "dim": 65_536,  # output size / templates (and dim × row values, see projections)
    "pairs": 100_000,  # random pairs (check, report), molecule pairs (interpolate)
    "samples": 5_000,  # rows sampled by check: their N² quotient distances are computed
    "copies": 1_024,  # rotated copies per image
    "dpi": 600,
    "sample": 1_000_000,  # points per viz panel
    "orbits": 10_000,
    "orbit_size": 4_096,
    "folds": 1_000,
    "probe_rows": 10_000_000,
    "panel_rows": 1_000_000,
    "batch_size": 1 << 20,
    "n_neighbors": 10_000,
    "epochs": 1_000_000,
    "candidates": 10_000,
    "steps": 10_000,
    "prior": 10_000_000,
    "draw": 1_000,
    "seed": 2**32 - 1,
}


def within_limits(options: dict) -> None:
    """Refuse, before any work, a numeric option above its documented limit (``OPTION_LIMITS``,
    docs/format.md) or a negative seed: sizes that would otherwise be allocated as asked."""
    for name, value in options.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if name == "seed" and value < 0:
            fail(f"--seed must be at least 0, got {value}")
        if name in OPTION_LIMITS and value > OPTION_LIMITS[name]:
            flag = f"--{name.replace('_', '-')}"
            fail(f"{flag} must be at most {OPTION_LIMITS[name]:,}, got {value:,}")


def one_of(**choices: tuple[str | None, tuple[str, ...]]) -> None:
    """Refuse an option whose value is not among its choices, with one line naming the flag."""
    for name, (value, allowed) in choices.items():
        if value is not None and value not in allowed:
            flag = f"--{name.replace('_', '-')}"
            fail(f"{flag} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


def say(message: str) -> None:
    """A message for people: always on stderr, never mixed with data on stdout (a warning is
    held until the command has succeeded, see ``OneLineErrors``)."""
    if _HELD and message.startswith("invlatent: warning:"):
        _HELD[-1].append(message)
    else:
        typer.echo(message, err=True)


def cli_errors(fn):
    """Turn library errors into one-line messages (exit 2) and a closed stdout into a quiet exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        within_limits(kwargs)
        try:
            return fn(*args, **kwargs)
        except InvlatentError as e:
            fail(str(e))
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except OSError as e:  # a missing file, a full disk, a closed stream, a name too long
            if e.filename is None:  # a stream (stdout on /dev/full): its buffer is dropped, so
                _silence_stdout()  # that the flush at exit cannot fail a second time
            name = e.filename if e.filename is not None else "<output>"
            fail(f"{name}: {(e.strerror or str(e)).lower()}")

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
