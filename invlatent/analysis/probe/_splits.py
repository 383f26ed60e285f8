"""Which rows train and which test: stratified (group) K-fold, a file's fixed split, inner holdouts.

The leakage guard: when several rows share an ``id`` (transformed copies of one object), the unit
dealt to a side of a split is the object, never the row, so all copies land on the same side of
every split (group K-fold). Otherwise a probe can score by recognising another copy of the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invlatent.errors import InvlatentError

SPLIT_NAMES = {0: "train", 1: "val", 2: "test"}
INNER_FOLDS = 5  # the inner holdout is one fifth of a training split


@dataclass(frozen=True)
class Fold:
    """Row indices of one outer split; ``holdout`` marks the training rows kept for tuning."""

    train: np.ndarray
    test: np.ndarray
    holdout: np.ndarray | None = None


@dataclass(frozen=True)
class Protocol:
    """How the rows were split: the folds plus a JSON-ready description."""

    folds: list[Fold]
    info: dict


def units_of(ids: np.ndarray | None, n: int) -> tuple[np.ndarray, bool]:
    """The object of each row (rows sharing an id are one object) and whether any id repeats."""
    if ids is None:
        return np.arange(n), False
    _, unit = np.unique(ids, return_inverse=True)
    return unit.reshape(-1), int(unit.max()) + 1 < n


def deal(unit: np.ndarray, strata: np.ndarray | None, k: int, rng) -> np.ndarray:
    """The fold of each row: objects shuffled within each stratum, then dealt round-robin."""
    n_units = int(unit.max()) + 1
    order = rng.permutation(n_units)
    if strata is not None:
        unit_stratum = np.empty(n_units, dtype=strata.dtype)
        unit_stratum[unit] = strata
        order = order[np.argsort(unit_stratum[order], kind="stable")]
    fold_of_unit = np.empty(n_units, dtype=np.int64)
    fold_of_unit[order] = np.arange(n_units) % k
    return fold_of_unit[unit]


def kfold(unit: np.ndarray, strata: np.ndarray | None, k: int, seed: int) -> list[Fold]:
    """Stratified K-fold over objects (group K-fold when objects have several rows)."""
    n_units = int(unit.max()) + 1
    if n_units < k:
        what = "distinct ids" if n_units < len(unit) else "samples"
        raise InvlatentError(f"only {n_units} {what} for {k} folds; use folds={max(n_units, 2)}")
    fold = deal(unit, strata, k, np.random.default_rng(seed))
    return [Fold(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


def fixed_split(split: np.ndarray, source: str) -> Fold:
    """Train on train(+val), test on test; a non-empty val part is the tuning holdout."""
    split = np.asarray(split).reshape(-1)
    bad = np.setdiff1d(np.unique(split), list(SPLIT_NAMES))
    if bad.size:
        raise InvlatentError(
            f"{source}: split holds values {bad.tolist()}; expected 0 train, 1 val, 2 test"
        )
    train, test = np.flatnonzero(split != 2), np.flatnonzero(split == 2)
    if not test.size or not np.any(split == 0):
        raise InvlatentError(f"{source}: split needs train (0) and test (2) rows")
    val = split[train] == 1
    return Fold(train, test, val if val.any() else None)


def inner_holdout(unit: np.ndarray, strata: np.ndarray | None, seed: int) -> np.ndarray:
    """A boolean mask over training rows: about a fifth of its objects, stratified, for tuning."""
    _, compact = np.unique(unit, return_inverse=True)
    if int(compact.max()) < 1:
        raise InvlatentError("a training split holds a single object; nothing left to tune on")
    fold = deal(compact.reshape(-1), strata, INNER_FOLDS, np.random.default_rng(seed))
    return fold == 0


def straddling(unit: np.ndarray, fold: Fold) -> int:
    """How many objects have rows on both sides of a split (0 when the guard holds)."""
    return int(np.intersect1d(unit[fold.train], unit[fold.test]).size)
