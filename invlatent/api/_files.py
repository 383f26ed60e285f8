"""``load`` and ``save``: latent files (and sharded data sets) as ``LatentFile`` objects."""

from __future__ import annotations

import os

from invlatent.format import latentfile, shards
from invlatent.format.latentfile import LatentFile


def load(path: str | os.PathLike) -> LatentFile:
    """Read a latent file, or a sharded data set's folder, validated; tensors are lazy views."""
    return shards.read_input(os.fspath(path))


def save(path: str | os.PathLike, lf: LatentFile) -> None:
    """Write ``lf`` to ``path`` atomically (validated first: nothing is written on an error)."""
    latentfile.write(lf, os.fspath(path))
