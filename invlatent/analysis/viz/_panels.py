"""One panel per input file: sampled rows, flat features, a 2-D embedding and optional orbits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from invlatent.analysis.viz._embedding import NAMES, Embedding, Settings, embed
from invlatent.analysis.viz._features import flatten, standardizer
from invlatent.analysis.viz._lineage import find_source, project_like, projection_step
from invlatent.analysis.viz._orbits import Orbits, choose, copy_orbits, group_orbits, repeated_ids
from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, describe
from invlatent.sampling import sample_rows

ORBIT_SOURCES = ("auto", "ids", "group")


@dataclass(frozen=True)
class Options:
    """Everything that decides a picture besides the input files."""

    settings: Settings = field(default_factory=Settings)
    color: str = "auto"
    sample: int = 10_000
    orbits: int = 0
    orbit_size: int = 24
    orbit_source: str = "auto"
    standardize: bool = False


@dataclass
class Panel:
    """What one panel shows: rows of a file, their embedding, and orbit members placed alike."""

    file: str
    title: str
    lf: LatentFile
    rows: np.ndarray
    embedding: Embedding
    orbits: Orbits | None = None
    orbit_mismatch: float | None = None

    def orbit_spread(self) -> float | None:
        """Median over orbits of their RMS radius, relative to the RMS radius of the data."""
        if self.orbits is None:
            return None
        xy, pts = self.embedding.xy, self.embedding.extra_xy
        scale = np.sqrt(((xy - xy.mean(0)) ** 2).sum(1).mean()) or 1.0
        radii = [
            np.sqrt(
                ((pts[self.orbits.obj == k] - pts[self.orbits.obj == k].mean(0)) ** 2).sum(1).mean()
            )
            for k in np.unique(self.orbits.obj)
        ]
        return float(np.median(radii) / scale)


def build_panels(files: list[str], lfs: list[LatentFile], opts: Options) -> list[Panel]:
    """Sample, embed and (with ``opts.orbits``) add orbits for every input file."""
    seed = opts.settings.seed
    rows = [sample_rows(len(lf), opts.sample, seed, _labels(lf)) for lf in lfs]
    orbits = _plan_orbits(files, lfs, rows, opts) if opts.orbits else [(None, None)] * len(lfs)
    return [
        _panel(f, lf, r, orb, mismatch, opts)
        for f, lf, r, (orb, mismatch) in zip(files, lfs, rows, orbits, strict=True)
    ]


def _labels(lf: LatentFile) -> np.ndarray | None:
    return None if lf.labels is None else np.asarray(lf.labels)


def _labels_at(lf: LatentFile, rows: np.ndarray) -> np.ndarray | None:
    return None if lf.labels is None else np.asarray(lf.labels)[rows]


def _panel(file, lf, rows, orbits, mismatch, opts: Options) -> Panel:
    x = flatten(lf.z[rows], None if lf.mask is None else lf.mask[rows])
    extra = flatten(orbits.z, orbits.mask) if orbits is not None else np.zeros((0, x.shape[1]))
    if extra.shape[1] != x.shape[1]:
        raise InvlatentError(
            f"{file}: orbit members have {extra.shape[1]} features, not {x.shape[1]}"
        )
    if opts.standardize:
        mean, scale = standardizer(x)
        x, extra = (x - mean) / scale, (extra - mean) / scale
    emb = embed(x, extra, opts.settings)
    title = f"{describe(lf)} · {NAMES[opts.settings.method]}"
    return Panel(file, title, lf, rows, emb, orbits, mismatch)


def _plan_orbits(files, lfs, rows, opts: Options) -> list[tuple[Orbits, float | None]]:
    if opts.orbit_source not in ORBIT_SOURCES:
        raise InvlatentError(f"orbit_source must be one of {', '.join(ORBIT_SOURCES)}")
    if opts.orbit_source != "group":
        shared = _shared_repeated_ids(lfs)
        if len(shared):
            chosen = choose(shared, opts.orbits, opts.settings.seed, _id_labels(lfs[0], shared))
            return [(copy_orbits(lf.ids, lf.z, lf.mask, chosen, lf.g), None) for lf in lfs]
        if opts.orbit_source == "ids":
            raise InvlatentError("orbit_source ids: no id occurs more than once in every input")
    return [_group_orbits(i, files, lfs, rows, opts) for i in range(len(lfs))]


def _id_labels(lf: LatentFile, ids: np.ndarray) -> np.ndarray | None:
    """The label of the first row of each id (copies of one object share its label)."""
    if lf.labels is None:
        return None
    values, first = np.unique(np.asarray(lf.ids), return_index=True)
    return np.asarray(lf.labels)[first[np.searchsorted(values, ids)]]


def _shared_repeated_ids(lfs: list[LatentFile]) -> np.ndarray:
    shared = repeated_ids(lfs[0].ids)
    for lf in lfs[1:]:
        shared = np.intersect1d(shared, repeated_ids(lf.ids))
    return shared


def _group_orbits(i, files, lfs, rows, opts: Options) -> tuple[Orbits, float | None]:
    seed, k, size = opts.settings.seed, opts.orbits, opts.orbit_size
    file, lf = files[i], lfs[i]
    if not lf.action.is_invariant:
        picked = choose(rows[i], k, seed, _labels_at(lf, rows[i]))
        return group_orbits(lf.action, lf.z, lf.mask, picked, size, seed), None
    src = find_source(lf, lfs)
    if src is None:
        raise InvlatentError(
            f"{file}: cannot draw orbits: its action is trivial, no id repeats, and the file it "
            "was projected from is not among the inputs (add the raw file to the command)"
        )
    src_rows = rows[next(j for j, o in enumerate(lfs) if o is src)]
    picked = choose(src_rows, k, seed, _labels_at(src, src_rows))
    raw = group_orbits(src.action, src.z, src.mask, picked, size, seed)
    z = project_like(projection_step(lf), src.action, raw.z, raw.mask)
    return replace(raw, z=z, mask=None, source="group+project"), _mismatch(lf, picked, z, raw)


def _mismatch(lf: LatentFile, picked: np.ndarray, z: np.ndarray, raw: Orbits) -> float | None:
    """How far the re-projected identity members are from the file's own rows (should be ~0)."""
    if z.shape[1:] != lf.z.shape[1:] or picked.max(initial=-1) >= len(lf):
        return None
    mine = np.asarray(lf.z[picked], dtype=np.float64).reshape(len(picked), -1)
    again = z[raw.element == 0].astype(np.float64).reshape(len(picked), -1)
    return float(np.abs(mine - again).max(initial=0.0))


def panel_name(panel: Panel) -> str:
    """The file name shown under a panel's title."""
    return "stdin" if panel.file == "-" else os.path.basename(panel.file)
