"""Gates for CI scripts: conditions a command was asked to hold, and exit status 1 when one fails.

Exit status 0: every asked-for condition holds; 1: a condition failed (one line per failed
condition on stderr, results still printed); 2: bad input or usage (``_common.fail``).
"""

from __future__ import annotations

import typer


def gate(failures: list[str]) -> None:
    """Print ``invlatent: failed: CONDITION`` for each failure and exit with status 1 if any."""
    for line in failures:
        typer.echo(f"invlatent: failed: {' '.join(line.split())}", err=True)
    if failures:
        raise typer.Exit(1)


def check_alpha(alpha: float) -> None:
    """Refuse ``--alpha`` outside (0, 1) with one line naming the flag."""
    from invlatent.cli._common import fail

    if not 0 < alpha < 1:
        fail(f"--alpha must lie strictly between 0 and 1, got {alpha:g}")


def check_limits(**limits: float | None) -> None:
    """Refuse an error limit (``--max-error``) that is not positive, naming the flag."""
    from invlatent.cli._common import fail

    for name, value in limits.items():
        if value is not None and not value > 0:
            fail(f"--{name.replace('_', '-')} must be positive, got {value:g}")
