"""Multi-frame ``.xyz`` files: ``N``, a comment line, then ``N`` lines ``Sym x y z [...]``.

Frames follow each other; blank lines between frames are allowed. ``key=value`` pairs with numeric
values on the comment line (extended XYZ style, e.g. ``energy=-40.47``) become targets when every
frame has them. A malformed frame is an error naming the file and the line.
"""

from __future__ import annotations

import re

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.pipelines.mol3d.geometries import NUMBER, Geometries

_PAIR = re.compile(r"([A-Za-z_][\w.-]*)=(\S+)")


def read_xyz(path: str) -> Geometries:
    """All frames of ``path`` as padded geometries (targets from shared ``key=value`` pairs)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise InvlatentError(f"{path}: not a text .xyz file") from None
    frames, props, i = [], [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        frame, comment, i = _read_frame(path, lines, i)
        frames.append(frame)
        props.append(_numeric_pairs(comment))
    if not frames:
        raise InvlatentError(f"{path}: no frames found")
    return _geometries(path, frames, props)


def _read_frame(path: str, lines: list[str], i: int) -> tuple:
    """One frame starting at line index ``i``: ((symbols, xyz), comment, next index)."""
    head = lines[i].split()
    if len(head) != 1 or not head[0].isdigit() or int(head[0]) < 1:
        raise InvlatentError(
            f"{path}: line {i + 1}: expected the atom count of a frame, got {lines[i].strip()!r}"
        )
    n = int(head[0])
    if i + 1 + n >= len(lines):  # the comment line and n atom lines
        raise InvlatentError(
            f"{path}: line {i + 1}: frame of {n} atoms is cut short "
            f"(the file ends at line {len(lines)})"
        )
    symbols, xyz = [], np.zeros((n, 3))
    for k in range(n):
        line_no = i + 2 + k
        symbols.append(_atom_line(path, lines[line_no], line_no + 1, xyz[k]))
    return (symbols, xyz), lines[i + 1], i + 2 + n


def _atom_line(path: str, line: str, line_no: int, out: np.ndarray) -> str:
    parts = line.split()
    if len(parts) < 4:
        raise InvlatentError(
            f"{path}: line {line_no}: expected 'symbol x y z', got {line.strip()!r}"
        )
    sym = parts[0]
    sym = sym if sym in NUMBER else sym.capitalize()
    if sym not in NUMBER:
        raise InvlatentError(f"{path}: line {line_no}: unknown element {parts[0]!r}")
    try:
        out[:] = [float(p.replace("*^", "e")) for p in parts[1:4]]
    except ValueError:
        raise InvlatentError(
            f"{path}: line {line_no}: coordinates are not numbers: {line.strip()!r}"
        ) from None
    if not np.isfinite(out).all():
        raise InvlatentError(f"{path}: line {line_no}: coordinates are not finite")
    return sym


def _numeric_pairs(comment: str) -> dict[str, float]:
    out = {}
    for key, value in _PAIR.findall(comment):
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def _geometries(path: str, frames: list, props: list[dict]) -> Geometries:
    n = max(len(s) for s, _ in frames)
    b = len(frames)
    pos = np.zeros((b, n, 3), np.float32)
    species = np.zeros((b, n), np.int64)
    for r, (symbols, xyz) in enumerate(frames):
        pos[r, : len(symbols)] = xyz
        species[r, : len(symbols)] = [NUMBER[s] for s in symbols]
    names = tuple(k for k in props[0] if all(k in p for p in props))
    targets = np.array([[p[k] for k in names] for p in props], np.float32) if names else None
    ids = np.arange(b, dtype=np.int64)
    from invlatent.pipelines.qm9 import split_codes

    return Geometries(
        pos,
        species,
        species > 0,
        ids,
        split_codes(ids, b),
        targets,
        names,
        tuple("" for _ in names),
        path,
    )
