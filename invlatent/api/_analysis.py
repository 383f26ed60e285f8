"""``check``, ``probe`` and ``recommend`` on latents in memory: the dicts that ``--json``
prints, for ``LatentFile`` objects, paths or arrays (no temporary files)."""

from __future__ import annotations

import os

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, validate
from invlatent.format.shards import read_input
from invlatent.projections.actions import as_action


def check(
    data, action=None, methods=None, *, mask=None, pairs: int = 2000, samples: int = 256,
    seed: int = 0,
) -> dict:  # fmt: skip
    """``invlatent check FILE --json``: invariance error, distance to the orbit and retention
    per method (``methods``: all of the action's when None)."""
    from invlatent.analysis.check import check_file

    lf = as_latent_file(data, action, mask=mask)
    return check_file(lf, methods, pairs=pairs, samples=samples, seed=seed)


def probe(inputs, *, labels=None, targets=None, target_names=None, **options) -> dict:
    """``invlatent probe --json``: how well labels or targets read off each input (a
    ``LatentFile``, a path or an array; arrays take ``labels``/``targets`` from here).
    ``options`` are ``run_probe``'s: task, target, folds, seed, metric, names, alpha, expect,
    all_pairs."""
    from invlatent.analysis.probe import run_probe

    side = {"labels": labels, "targets": targets, "target_names": target_names}
    files = [as_latent_file(x, "trivial", **side) for x in inputs]
    return run_probe(files, **options)


def recommend(
    data, action=None, *, mask=None, labels=None, seed: int = 0, samples: int = 256,
    pairs: int = 2000, probe_rows: int = 2000,
) -> dict:  # fmt: skip
    """The recommended projection and why (``project --method auto``'s choice): measured by
    ``check``, and by a linear probe when the latents have labels or targets."""
    from invlatent.analysis.recommend import choose

    lf = as_latent_file(data, action, mask=mask, labels=labels)
    return choose(lf, seed=seed, samples=samples, pairs=pairs, probe_rows=probe_rows)


def as_latent_file(data, action=None, *, mask=None, labels=None, targets=None, target_names=None):
    """``data`` as a ``LatentFile``: itself, read from a path, or an array with ``action``."""
    if isinstance(data, LatentFile):
        return data
    if isinstance(data, str | os.PathLike):
        return read_input(os.fspath(data))
    if not isinstance(data, np.ndarray):
        raise InvlatentError(
            f"data: expected a LatentFile, a path or a numpy array, got {type(data).__name__}"
        )
    if action is None:
        raise InvlatentError("action: an array needs its action (e.g. 'c8')")
    names = list(target_names or ([] if targets is None else _columns(targets)))
    lf = LatentFile(
        z=data, action=as_action(action), mask=mask, labels=labels, targets=targets,
        target_names=names,
    )  # fmt: skip
    validate(lf, "data")
    return lf


def _columns(targets) -> list[str]:
    return [f"target_{i}" for i in range(np.asarray(targets).reshape(len(targets), -1).shape[1])]
