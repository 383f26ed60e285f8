"""Shared fixtures: a CLI runner that keeps stdout bytes and stderr apart, and a seeded RNG."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from invlatent.cli import app


class Cli:
    """Run the real ``invlatent`` app in-process, with separate stdout bytes and stderr text."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args, input: bytes | None = None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def assert_one_line_error(result, *fragments: str) -> None:
    """Exit status 2, nothing on stdout, exactly one line on stderr containing ``fragments``."""
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout_bytes == b""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("invlatent: error:"), lines[0]
    assert "Traceback" not in result.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])
