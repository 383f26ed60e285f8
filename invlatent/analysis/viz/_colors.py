"""What the points are coloured by, with one colour scale shared by every panel.

``labels``: one colour per class and one legend; a target name: a continuous colour bar;
``g``: the group element applied to each input (a cyclic colour map for angles and rotations),
which shows orbits smearing across raw pictures; ``none``: one colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile

MAX_CLASSES = 20


@dataclass
class Coloring:
    """Per-panel colour values and the shared scale: ``kind`` is none, classes or continuous."""

    kind: str
    label: str
    values: list[np.ndarray | None]
    vmin: float = 0.0
    vmax: float = 1.0
    classes: np.ndarray | None = None
    cmap: str = "viridis"


def resolve(spec: str, files: list[str], lfs: list[LatentFile], rows: list[np.ndarray]) -> Coloring:
    """The colouring asked for by ``--color`` (auto, none, labels, g or a target name)."""
    if spec == "auto":
        spec = "labels" if all(lf.labels is not None for lf in lfs) else "none"
    if spec == "none":
        return Coloring("none", "", [None] * len(lfs))
    values = [_values(spec, f, lf)[r] for f, lf, r in zip(files, lfs, rows, strict=True)]
    if spec == "labels":
        return _classes(values)
    if spec == "g":
        return _group(values, lfs)
    return _continuous(spec, values)


def _values(spec: str, file: str, lf: LatentFile) -> np.ndarray:
    if spec == "labels":
        if lf.labels is None:
            raise InvlatentError(f"{file}: color labels, but the file has no labels")
        return np.asarray(lf.labels)
    if spec == "g":
        return _g_values(file, lf)
    if spec in lf.target_names:
        return np.asarray(lf.targets[:, lf.target_names.index(spec)], dtype=np.float64)
    known = ", ".join(["labels", "g", *lf.target_names])
    raise InvlatentError(f"{file}: color {spec!r} is not a target of this file (use {known})")


def _g_values(file: str, lf: LatentFile) -> np.ndarray:
    kind = lf.g_kind or lf.action.g_kind
    if lf.g is None:
        raise InvlatentError(f"{file}: color g, but the file has no g tensor")
    if kind not in ("index", "angle"):
        raise InvlatentError(f"{file}: color g needs rotation indices or angles, not {kind}")
    return np.asarray(lf.g, dtype=np.float64)


def _classes(values: list[np.ndarray]) -> Coloring:
    classes = np.unique(np.concatenate(values))
    if len(classes) > MAX_CLASSES:
        return _continuous("labels", values)
    idx = [np.searchsorted(classes, v) for v in values]
    cmap = "tab10" if len(classes) <= 10 else "tab20"
    return Coloring("classes", "label", idx, 0, len(classes), classes, cmap)


def _group(values: list[np.ndarray], lfs: list[LatentFile]) -> Coloring:
    angle = any((lf.g_kind or lf.action.g_kind) == "angle" for lf in lfs)
    top = 2 * np.pi if angle else max(max(lf.action.group_size for lf in lfs), _top(values))
    label = "g (angle, rad)" if angle else "g (element index)"
    return Coloring("continuous", label, values, 0.0, float(top), None, "twilight")


def _continuous(name: str, values: list[np.ndarray]) -> Coloring:
    both = np.concatenate(values).astype(np.float64)
    finite = both[np.isfinite(both)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return Coloring("continuous", name, values, lo, hi if hi > lo else lo + 1.0)


def _top(values: list[np.ndarray]) -> int:
    return int(max(v.max() for v in values)) + 1
