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


TINY_BLOCKS = [[6, 5, True], [8, 3, False]]


def image_config(arch: str, size: int = 16, **extra) -> dict:
    """The config of a 1-channel, 10-class image checkpoint of ``size``² inputs."""
    return {"family": "images", "arch": arch, "in_channels": 1, "n_classes": 10, "hidden": 0,
            "image_size": [size, size], **extra}  # fmt: skip


def save_tiny_cnn(path) -> object:
    """An untrained plain CNN on 16×16 inputs with non-trivial batch-norm affine parts, saved
    as a checkpoint at ``path``; returns the model."""
    import torch

    from invlatent.pipelines.images.cnn import CNN
    from invlatent.pipelines.images.models import save_model

    torch.manual_seed(0)
    cnn = CNN(1, 10, TINY_BLOCKS).eval()
    for p in cnn.norms.parameters():
        p.data.uniform_(0.5, 1.5)
    save_model(str(path), cnn, image_config("cnn", blocks=TINY_BLOCKS))
    return cnn


def random_molecules(n: int = 6, seed: int = 0):
    """Random molecule-like point clouds (3-9 atoms, H/C/N/O, some pairs beyond the cut-off):
    ``pos`` (n, 9, 3), ``species`` (n, 9) with 0 on padding, and the node mask."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 10, n)
    pos = np.zeros((n, 9, 3), np.float32)
    species = np.zeros((n, 9), np.int64)
    for b, c in enumerate(counts):
        pos[b, :c] = rng.normal(0, 1.6, (c, 3))
        species[b, :c] = rng.choice([1, 6, 7, 8], c)
    return pos, species, species > 0


def pytest_collection_modifyitems(items) -> None:
    """Slow end-to-end tests first: the two workers then finish together, instead of one of them
    starting a minute-long test when the other is nearly done."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
