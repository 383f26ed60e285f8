"""Read the files to compare, check they describe the same samples, and pick the probe's target.

Every file becomes a feature matrix ``(B, D)``: invariant latents as they are, equivariant ones
flattened (said so in the output). Labels, targets, ids and a fixed split are shared by all files:
taken from the first file that has them, and every other file that has them must agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, describe
from invlatent.format.shards import read_input

LABELS = "labels"
FEATURE_BYTES = 2 << 30  # float32 features a probe holds; larger files are sampled


@dataclass
class Features:
    """One input file as the probe sees it."""

    path: str
    name: str
    x: np.ndarray
    shape: list[int]
    flattened: bool


@dataclass
class Dataset:
    """The files' features plus the shared target, ids and split (rows with NaN targets dropped)."""

    files: list[Features]
    y: np.ndarray
    target_names: list[str]
    classes: np.ndarray | None
    ids: np.ndarray | None
    split: np.ndarray | None
    split_source: str | None
    dropped: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def is_classification(self) -> bool:
        return self.classes is not None


def load(inputs: list, target: list[str], names: list[str] | None = None) -> Dataset:
    """Read ``inputs`` (paths, ``-``, or ``LatentFile`` objects already in memory) and build the
    data set for ``target`` (``["labels"]`` or target names). ``names`` label the inputs in the
    table and in messages (default: the path, or ``<memory i>`` for an object)."""
    paths = _labels_of(inputs, names)
    if sum(isinstance(i, str) and i == "-" for i in inputs) > 1:
        raise InvlatentError("stdin (-) can be read only once")
    files = [i if isinstance(i, LatentFile) else read_input(str(i)) for i in inputs]
    _check_same_samples(files, paths)
    ids = _shared(files, paths, lambda lf: lf.ids, "ids")
    split, split_source = _split(files, paths)
    if target == [LABELS]:
        classes, y = np.unique(_labels(files, paths), return_inverse=True)
        keep, dropped = np.ones(len(y), dtype=bool), 0
    else:
        classes = None
        y, keep, dropped = _targets(files, paths, target)
    keep, limited = _within_memory(files, keep, y if classes is not None else None)
    data = Dataset(
        files=[_features(lf, p, keep) for lf, p in zip(files, paths, strict=True)],
        y=y[keep],
        target_names=list(target),
        classes=classes,
        ids=None if ids is None else ids[keep],
        split=None if split is None else split[keep],
        split_source=split_source,
        dropped=dropped,
    )
    if dropped:
        data.warnings.append(
            f"dropped {dropped} of {len(y)} rows whose targets "
            f"({', '.join(target)}) hold NaN or Inf"
        )
    if limited:
        data.warnings.append(limited)
    poses = (_pose_warning(lf, p) for lf, p in zip(files, paths, strict=True))
    data.warnings.extend(w for w in poses if w)
    _name_rows(data.files)
    return data


def _labels_of(inputs: list, names: list[str] | None) -> list[str]:
    """Each input's label: its given name, else its path, else ``<memory i>``."""
    if names is not None and len(names) != len(inputs):
        raise InvlatentError(f"names: {len(names)} names for {len(inputs)} inputs")
    if names is not None:
        return [str(n) for n in names]
    return [f"<memory {i}>" if isinstance(x, LatentFile) else str(x) for i, x in enumerate(inputs)]


def _within_memory(files: list[LatentFile], keep: np.ndarray, labels) -> tuple[np.ndarray, str]:
    """Keep at most ``FEATURE_BYTES`` of float32 features: a seeded sample of rows (stratified
    by label) when the files are larger, and a warning that says so; else ``keep`` as is."""
    row_bytes = 4 * sum(int(np.prod(lf.z.shape[1:], dtype=np.int64)) for lf in files)
    rows = np.flatnonzero(keep)
    limit = max(1, FEATURE_BYTES // max(row_bytes, 1))
    if len(rows) <= limit:
        return keep, ""
    from invlatent.sampling import sample_rows

    picked = rows[sample_rows(len(rows), limit, 0, None if labels is None else labels[rows])]
    out = np.zeros_like(keep)
    out[picked] = True
    gb = len(rows) * row_bytes / 2**30
    return out, (
        f"the features of all {len(rows):,} rows take {gb:.1f} GB: probing a seeded sample of "
        f"{limit:,} rows (stratified by label) that fits in {FEATURE_BYTES >> 20} MB"
    )


def _pose_warning(lf: LatentFile, path: str) -> str | None:
    """A warning when raw equivariant latents come from inputs all left in their source pose.

    Data sets arrive in a canonical pose (RDKit atom order, upright digits), which makes raw
    latents look aligned; a raw-vs-invariant comparison is only honest on arbitrary poses.
    """
    if lf.action.is_invariant:
        return None
    g = None if lf.g is None else np.asarray(lf.g)
    if g is None:
        posed = "records no group elements (g)"
    elif _all_identity(g, lf.g_kind or lf.action.g_kind):
        posed = "has every input in its source pose (g is the identity throughout)"
    else:
        return None
    return (
        f"{path}: raw {lf.action} latents {posed}; if the source data come in a canonical pose "
        "the raw scores are flattering (encode with --rotate random / --permute random)"
    )


def _all_identity(g: np.ndarray, kind: str | None) -> bool:
    if kind == "perm":
        return bool((g == np.arange(g.shape[-1])).all())
    return kind in ("index", "angle") and not np.any(g)


def _check_same_samples(files: list[LatentFile], paths: list[str]) -> None:
    first = len(files[0])
    for lf, p in zip(files[1:], paths[1:], strict=True):
        if len(lf) != first:
            raise InvlatentError(
                f"{p}: {len(lf)} samples but {paths[0]} has {first}; "
                "the files must describe the same samples"
            )


def _shared(files, paths, get, what: str) -> np.ndarray | None:
    """The first file's tensor ``what``; every other file that carries it must hold the same."""
    found = [(get(lf), p) for lf, p in zip(files, paths, strict=True) if get(lf) is not None]
    if not found:
        return None
    ref, ref_path = np.asarray(found[0][0]), found[0][1]
    for arr, p in found[1:]:
        arr = np.asarray(arr)
        if arr.shape != ref.shape or not np.array_equal(arr, ref, equal_nan=arr.dtype.kind == "f"):
            raise InvlatentError(
                f"{p}: {what} differ from those of {ref_path}; "
                "the files must describe the same samples in the same order"
            )
    return ref


def _split(files, paths) -> tuple[np.ndarray | None, str | None]:
    split = _shared(files, paths, lambda lf: lf.extra.get("split"), "split")
    if split is None:
        return None, None
    source = next(p for lf, p in zip(files, paths, strict=True) if "split" in lf.extra)
    if split.shape != (len(files[0]),) or split.dtype.kind not in "iu":
        raise InvlatentError(
            f"{source}: split must be integers of shape [{len(files[0])}], "
            f"got {split.dtype} {list(split.shape)}"
        )
    return split, source


def _labels(files, paths) -> np.ndarray:
    labels = _shared(files, paths, lambda lf: lf.labels, "labels")
    if labels is None:
        names = sorted({n for lf in files for n in lf.target_names})
        hint = f"; use --target {','.join(names)} for regression" if names else ""
        raise InvlatentError(f"{', '.join(paths)}: no labels for a classification probe{hint}")
    if np.unique(labels).size < 2:
        raise InvlatentError(
            f"labels hold a single class ({int(labels[0])}); a classifier needs at least two"
        )
    return np.asarray(labels)


def _targets(files, paths, names: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """The chosen target columns, the rows to keep (finite targets) and how many were dropped."""
    owner = next((i for i, lf in enumerate(files) if lf.targets is not None), None)
    if owner is None:
        raise InvlatentError(
            f"{', '.join(paths)}: no regression targets; classify the labels instead"
        )
    lf = files[owner]
    missing = [n for n in names if n not in lf.target_names]
    if missing:
        raise InvlatentError(
            f"{paths[owner]}: no target named {', '.join(map(repr, missing))}; "
            f"it has {', '.join(lf.target_names)}"
        )
    _shared(files, paths, lambda f: _columns(f, names), "targets")
    y = _columns(lf, names)
    keep = np.isfinite(y).all(axis=1)
    if not keep.any():
        raise InvlatentError(f"{paths[owner]}: every row has a NaN or Inf target")
    return y, keep, int((~keep).sum())


def _columns(lf: LatentFile, names: list[str]) -> np.ndarray | None:
    if lf.targets is None or any(n not in lf.target_names for n in names):
        return None
    cols = [lf.target_names.index(n) for n in names]
    return np.asarray(lf.targets[:, cols], dtype=np.float64)


def _features(lf: LatentFile, path: str, keep) -> Features:
    x = np.ascontiguousarray(np.asarray(lf.z).reshape(len(lf), -1)[keep], dtype=np.float32)
    name = describe(lf)
    if lf.action.is_invariant and name.startswith("raw "):
        name = name[4:]
    return Features(path, name, x, list(lf.z.shape[1:]), not lf.action.is_invariant)


def _name_rows(files: list[Features]) -> None:
    """Make row names unique by adding the file name where two files describe alike."""
    names = [f.name for f in files]
    for f in files:
        if names.count(f.name) > 1:
            f.name = f"{f.name} ({os.path.basename(f.path)})"
