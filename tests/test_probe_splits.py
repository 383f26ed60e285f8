"""The probe protocol's splits: partitions, stratification, the leakage guard, fixed splits."""

from __future__ import annotations

import numpy as np
import pytest

from invlatent.analysis.probe import fixed_split, inner_holdout, kfold, straddling, units_of
from invlatent.errors import InvlatentError


def _copies(rng, n_objects=40, max_copies=6):
    """ids of objects with 1..max_copies rows each, in shuffled row order."""
    ids = np.repeat(np.arange(n_objects), rng.integers(1, max_copies + 1, n_objects))
    return rng.permutation(ids) * 7 + 3  # ids need not be 0..n-1


@pytest.mark.parametrize("seed", range(3))
def test_kfold_partitions_rows_and_keeps_copies_together(seed):
    rng = np.random.default_rng(seed)
    ids = _copies(rng)
    unit, grouped = units_of(ids, len(ids))
    assert grouped
    labels = rng.integers(0, 3, unit.max() + 1)[unit]  # one label per object
    folds = kfold(unit, labels, 5, seed)
    tests = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(ids)))  # every row tested exactly once
    for f in folds:
        assert np.array_equal(np.sort(np.concatenate([f.train, f.test])), np.arange(len(ids)))
        assert straddling(unit, f) == 0
        assert not np.intersect1d(ids[f.train], ids[f.test]).size


def test_kfold_without_ids_is_stratified_and_balanced():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [50, 30, 20])[rng.permutation(100)]
    unit, grouped = units_of(None, 100)
    assert not grouped
    folds = kfold(unit, labels, 5, seed=1)
    for f in folds:
        assert len(f.test) == 20
        assert np.array_equal(np.bincount(labels[f.test]), [10, 6, 4])


def test_kfold_depends_on_the_seed_only():
    unit = np.arange(60)
    a, b, c = (kfold(unit, None, 3, s) for s in (4, 4, 5))
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.test, y.test) for x, y in zip(a, c, strict=True))


def test_fewer_objects_than_folds_is_refused():
    unit, _ = units_of(np.array([1, 1, 2, 2, 3, 3]), 6)
    with pytest.raises(InvlatentError, match="only 3 distinct ids for 5 folds"):
        kfold(unit, None, 5, 0)


def test_inner_holdout_takes_a_fifth_of_the_objects_and_keeps_copies_together():
    rng = np.random.default_rng(3)
    ids = _copies(rng, n_objects=100)
    unit, _ = units_of(ids, len(ids))
    hold = inner_holdout(unit, None, seed=0)
    assert len(np.unique(unit[hold])) == 20
    assert not np.intersect1d(unit[hold], unit[~hold]).size


def test_fixed_split_trains_on_train_and_val_and_tunes_on_val():
    split = np.array([0, 0, 1, 2, 0, 2, 1], dtype=np.uint8)
    fold = fixed_split(split, "f.st")
    assert fold.train.tolist() == [0, 1, 2, 4, 6]
    assert fold.test.tolist() == [3, 5]
    assert fold.holdout.tolist() == [False, False, True, False, True]
    assert fixed_split(np.array([0, 2, 0]), "f.st").holdout is None


@pytest.mark.parametrize(
    ("split", "message"),
    [([0, 3, 2], r"split holds values \[3\]"), ([0, 1, 0], "needs train"), ([1, 2, 2], "needs")],
)
def test_bad_fixed_splits_are_refused(split, message):
    with pytest.raises(InvlatentError, match=message):
        fixed_split(np.array(split), "f.st")
