"""Users' structure files through ASE: every molecular format ``ase.io.read`` knows (extended
XYZ, XYZ, SDF, PDB without a cell, trajectories) and ASE databases (``.db``).

Each frame is one molecule; rows keep the file's frame order and ``ids`` are frame indices.
Every numeric per-frame property (``atoms.info``, i.e. extxyz ``key=value`` pairs, the scalar
results ASE stores with a frame such as ``energy``, and a database row's key-value pairs) that
every frame carries becomes a target by name. Periodic frames are refused: the models here take
no cell (there are no minimum-image neighbours).
"""

from __future__ import annotations

import numbers
import os
import warnings
from dataclasses import replace

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.pipelines.mol3d.geometries import SYMBOLS, Geometries

# Suffixes ``invlatent inspect`` takes for structure files rather than latent files.
STRUCTURE_SUFFIXES = (".xyz", ".extxyz", ".sdf", ".mol", ".pdb", ".traj", ".db", ".cif")


def read_structures(path: str) -> Geometries:
    """All frames of ``path`` as padded geometries with their shared numeric properties."""
    frames, props = _frames(path)
    for i, atoms in enumerate(frames):
        _check_frame(path, i, atoms)
    return _geometries(path, frames, props)


def _frames(path: str) -> tuple[list, list[dict[str, float]]]:
    """The frames of ``path`` (ASE ``Atoms``) and each frame's numeric properties."""
    if not os.path.isfile(path):
        raise InvlatentError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.lower().endswith(".db"):
                return _db_frames(path)
            import ase.io

            frames = ase.io.read(path, index=":")
    except InvlatentError:
        raise
    except Exception as e:  # ASE raises many kinds of errors for files it cannot read
        reason = (str(e).strip().splitlines() or [""])[0][:200]
        raise InvlatentError(f"{path}: ASE cannot read it ({type(e).__name__}: {reason})") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise InvlatentError(f"{path}: no frames found")
    return frames, [_numeric({**_results(a), **a.info}) for a in frames]


def _db_frames(path: str) -> tuple[list, list[dict[str, float]]]:
    """The rows of an ASE database in id order, with their key-value pairs and results."""
    import ase.db

    frames, props = [], []
    with ase.db.connect(path, type="db") as db:
        for row in db.select(sort="id"):
            atoms = row.toatoms()
            frames.append(atoms)
            props.append(_numeric({**_results(atoms), **row.key_value_pairs}))
    if not frames:
        raise InvlatentError(f"{path}: the database holds no rows")
    return frames, props


def _results(atoms) -> dict:
    """The scalar results stored with a frame (extxyz moves ``energy=`` there)."""
    calc = getattr(atoms, "calc", None)
    return dict(getattr(calc, "results", {}) or {})


def _numeric(values: dict) -> dict[str, float]:
    """The real-number scalars of a property dict (booleans, strings and arrays left out)."""
    out = {}
    for key, v in values.items():
        v = v.item() if isinstance(v, np.ndarray) and v.shape == () else v
        if isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_):
            out[str(key)] = float(v)
    return out


def _check_frame(path: str, i: int, atoms) -> None:
    """Refuse a frame the 3-D pipeline cannot take: empty, periodic, non-finite, dummy atoms."""
    if len(atoms) == 0:
        raise InvlatentError(f"{path}: frame {i} has no atoms")
    if np.asarray(atoms.pbc).any():
        raise InvlatentError(
            f"{path}: frame {i} is periodic (pbc {np.asarray(atoms.pbc).tolist()}); periodic "
            "structures are not supported (no minimum-image neighbours): give molecules without "
            "a cell"
        )
    if not np.isfinite(atoms.positions).all():
        raise InvlatentError(f"{path}: frame {i} has NaN or infinite positions")
    z = atoms.numbers
    if z.min() < 1 or z.max() >= len(SYMBOLS):
        raise InvlatentError(f"{path}: frame {i} has atoms that are no element (atomic number 0)")


def _geometries(path: str, frames: list, props: list[dict[str, float]]) -> Geometries:
    from invlatent.pipelines.qm9 import split_codes

    b, n = len(frames), max(len(a) for a in frames)
    pos = np.zeros((b, n, 3), np.float32)
    species = np.zeros((b, n), np.int64)
    for r, atoms in enumerate(frames):
        pos[r, : len(atoms)] = atoms.positions
        species[r, : len(atoms)] = atoms.numbers
    names = tuple(k for k in props[0] if all(k in p for p in props))
    targets = np.array([[p[k] for k in names] for p in props], np.float32) if names else None
    if targets is not None and not np.isfinite(targets).all():
        bad = [k for k, col in zip(names, targets.T, strict=True) if not np.isfinite(col).all()]
        raise InvlatentError(f"{path}: properties {', '.join(bad)} hold NaN or infinite values")
    ids = np.arange(b, dtype=np.int64)
    return Geometries(
        pos, species, species > 0, ids, split_codes(ids, b), targets, names,
        tuple("" for _ in names), source=path,
    )  # fmt: skip


def with_labels(geo: Geometries, key: str) -> Geometries:
    """``geo`` with the integer property ``key`` as class labels (one line when it cannot be)."""
    if key not in geo.target_names:
        have = ", ".join(geo.target_names) or "none"
        raise InvlatentError(f"{geo.source}: no property {key!r} for labels (it has: {have})")
    values = geo.targets[:, geo.target_names.index(key)].astype(np.float64)
    if not (values == np.round(values)).all():
        raise InvlatentError(f"{geo.source}: property {key!r} holds non-integer values (labels)")
    return replace(geo, labels=values.astype(np.int64))


def summarise_structures(path: str) -> dict:
    """Frames, atoms, elements and targets of a structure file, as a JSON-ready dict."""
    geo = read_structures(path)
    counts = geo.mask.sum(1)
    elements = np.unique(geo.species[geo.mask])
    return {
        "file": path,
        "format": "structures",
        "frames": len(geo),
        "atoms": {"min": int(counts.min()), "max": int(counts.max()), "total": int(counts.sum())},
        "elements": [SYMBOLS[z] for z in elements.tolist()],
        "targets": list(geo.target_names),
    }


def render_structures(summary: dict) -> str:
    """The structure summary as a few lines for people."""
    a = summary["atoms"]
    return "\n".join(
        [
            f"{summary['file']}  (structures, {summary['frames']:,} frames)",
            f"  atoms    {a['min']}..{a['max']} per frame, {a['total']:,} in all",
            f"  elements {', '.join(summary['elements'])}",
            f"  targets  {', '.join(summary['targets']) or 'none'}",
        ]
    )
