"""3-D molecular geometries: QM9 (all atoms, hydrogens included), users' ``.npz`` and, through
ASE (:mod:`invlatent.pipelines.mol3d.structures`), every molecular structure file ASE reads.

A batch of molecules is a zero-padded ``pos`` (B, n, 3) in Å, atomic numbers ``species`` (B, n)
with 0 on padding, and a node ``mask``. QM9 rows come from the qm9pack CSVs the graph VAE reads
(``XYZ_Ang`` and ``Elements``); ``ids`` are the same 0-based source rows and ``split`` the same
seeded 80/10/10 assignment (:func:`invlatent.pipelines.qm9.split_codes`). Rows that do not parse
are counted by reason in ``rejected``, never dropped silently. Molecules keep the source's order;
``--limit N`` takes N of them stratified by split (:func:`invlatent.sampling.stratified_rows`).
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.pipelines.mol3d.geometries import NUMBER, QM9_MAX_ATOMS, SYMBOLS, Geometries
from invlatent.sampling import check_split_options, split_rows


def load_geometries(
    data: str, limit: int | None = None, split: str = "all", labels: str | None = None
) -> Geometries:
    """``qm9``, an ``.npz`` or any structure file ASE reads: the molecules of ``split``,
    ``limit`` of them stratified by split, in input order; ``labels`` names the integer
    property that becomes class labels."""
    check_split_options(split, limit)
    if data.lower() == "qm9":
        geo = _nonempty(data, load_qm9_geometries(limit, split=split), split)
    else:
        from invlatent.pipelines.mol3d.structures import read_structures

        geo = load_npz(data) if data.lower().endswith(".npz") else read_structures(data)
        geo = _nonempty(data, geo.take(split_rows(geo.split, split, limit)), split)
    if labels is None:
        return geo
    from invlatent.pipelines.mol3d.structures import with_labels

    return with_labels(geo, labels)


def _nonempty(data: str, geo: Geometries, split: str) -> Geometries:
    if len(geo) == 0:
        where = "" if split == "all" else f" in the {split} split"
        raise InvlatentError(f"{data}: no molecule{where} could be read ({dict(geo.rejected)})")
    return geo


def load_qm9_geometries(
    limit: int | None = None, folder: str | None = None, split: str = "all"
) -> Geometries:
    """QM9 from qm9pack: coordinates of every atom, atomic numbers, the 12 targets, the split;
    the source rows of ``split``, ``limit`` of them stratified by split (those that do not
    parse are counted)."""
    from invlatent.pipelines.qm9 import QM9_SIZE, TARGETS, read_qm9_columns, split_codes

    cols = ["N_atoms", "Elements", "XYZ_Ang"] + [c for _, c, _ in TARGETS]
    df = read_qm9_columns(cols, limit, folder, split)
    targets = df[[c for _, c, _ in TARGETS]].to_numpy(np.float32)
    pos, species, mask, ok, rejected = _parse_rows(
        df["Elements"].tolist(), df["XYZ_Ang"].tolist(), df["N_atoms"].tolist(), targets
    )
    ids = df.index.to_numpy(np.int64)[ok]
    return Geometries(
        pos,
        species,
        mask,
        ids,
        split_codes(ids, QM9_SIZE),
        targets[ok],
        tuple(n for n, _, _ in TARGETS),
        tuple(u for _, _, u in TARGETS),
        "qm9",
        rejected,
    )


def _parse_rows(elements, coords, counts, targets) -> tuple:
    """Padded arrays of the rows that parse, a keep mask over all rows, and rejections by reason."""
    n_rows = len(elements)
    pos = np.zeros((n_rows, QM9_MAX_ATOMS, 3), np.float32)
    species = np.zeros((n_rows, QM9_MAX_ATOMS), np.int64)
    ok = np.zeros(n_rows, bool)
    rejected: Counter = Counter()
    for r in range(n_rows):
        reason = _parse_row(elements[r], coords[r], counts[r], pos[r], species[r])
        if reason is None and not np.isfinite(targets[r]).all():
            reason = "missing or non-finite target"
        if reason is None:
            ok[r] = True
        else:
            rejected[reason] += 1
    return pos[ok], species[ok], species[ok] > 0, ok, rejected


def _parse_row(elements, coords, count, pos_out, species_out) -> str | None:
    """Fill one row in place; the reason it cannot be read, or None."""
    if not isinstance(elements, str) or not isinstance(coords, str):
        return "missing elements or coordinates"
    symbols = [s.strip(" '\"") for s in elements.strip()[1:-1].split(",")]
    if any(s not in NUMBER for s in symbols):
        return "unknown element"
    try:
        flat = np.array(coords.replace("[", " ").replace("]", " ").split(","), dtype=np.float64)
    except ValueError:
        return "coordinates do not parse"
    n = len(symbols)
    if flat.size != 3 * n or n != count:
        return "atom count does not match coordinates"
    if n > QM9_MAX_ATOMS:
        return f"more than {QM9_MAX_ATOMS} atoms"
    if not np.isfinite(flat).all():
        return "non-finite coordinates"
    pos_out[:n] = flat.reshape(n, 3)
    species_out[:n] = [NUMBER[s] for s in symbols]
    return None


def load_npz(path: str) -> Geometries:
    """``pos`` (B, n, 3), ``species`` (B, n) atomic numbers, optional ``mask``, ``targets``,
    ``target_names``, ``ids`` and ``split``; every shape and value checked."""
    if not os.path.exists(path):
        raise InvlatentError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise InvlatentError(f"{path}: not a readable .npz file ({e})") from None
    for key in ("pos", "species"):
        if key not in arrays:
            raise InvlatentError(f"{path}: no {key!r} array (has {sorted(arrays)})")
    pos, species = arrays["pos"], arrays["species"]
    if pos.ndim != 3 or pos.shape[2] != 3 or not np.issubdtype(pos.dtype, np.floating):
        raise InvlatentError(f"{path}: pos must be float (B, n, 3), got {pos.dtype} {pos.shape}")
    if species.shape != pos.shape[:2] or not np.issubdtype(species.dtype, np.integer):
        raise InvlatentError(
            f"{path}: species must be integer {pos.shape[:2]}, got {species.dtype} {species.shape}"
        )
    mask = arrays.get("mask", species > 0)
    if mask.shape != species.shape:
        raise InvlatentError(f"{path}: mask must have shape {species.shape}, got {mask.shape}")
    mask = mask.astype(bool)
    _check_values(path, pos, species, mask)
    targets, names = _npz_targets(path, arrays, len(pos))
    ids, split = _npz_ids_split(path, arrays, len(pos))
    return Geometries(
        np.where(mask[..., None], pos, 0).astype(np.float32),
        np.where(mask, species, 0).astype(np.int64),
        mask,
        ids,
        split,
        targets,
        names,
        tuple("" for _ in names),
        path,
    )


def _check_values(path: str, pos, species, mask) -> None:
    if not np.isfinite(pos[mask]).all():
        raise InvlatentError(f"{path}: pos holds NaN or Inf on real atoms")
    bad = species[mask]
    if bad.size and (bad.min() < 1 or bad.max() >= len(SYMBOLS)):
        raise InvlatentError(
            f"{path}: species must be atomic numbers 1..{len(SYMBOLS) - 1} on real atoms, "
            f"got {int(bad.min())}..{int(bad.max())}"
        )


def _npz_targets(path: str, arrays: dict, b: int) -> tuple[np.ndarray | None, tuple[str, ...]]:
    if "targets" not in arrays:
        return None, ()
    t = arrays["targets"]
    t = t[:, None] if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[0] != b or not np.issubdtype(t.dtype, np.number):
        raise InvlatentError(f"{path}: targets must be numeric ({b}, k), got {t.shape}")
    names = arrays.get("target_names")
    names = tuple(str(s) for s in names) if names is not None else ()
    names = names or tuple(f"t{i}" for i in range(t.shape[1]))
    if len(names) != t.shape[1]:
        raise InvlatentError(f"{path}: {len(names)} target_names for {t.shape[1]} target columns")
    return t.astype(np.float32), names


def _npz_ids_split(path: str, arrays: dict, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Optional ``ids`` (B,) and ``split`` (B,) codes 0/1/2; by default row numbers and the
    seeded 80/10/10 split of them."""
    from invlatent.pipelines.qm9 import split_codes

    ids = arrays.get("ids", np.arange(b))
    if ids.shape != (b,) or not np.issubdtype(ids.dtype, np.integer):
        raise InvlatentError(f"{path}: ids must be integer ({b},), got {ids.dtype} {ids.shape}")
    split = arrays.get("split")
    if split is None:
        return ids.astype(np.int64), split_codes(np.arange(b), b)
    if split.shape != (b,) or not np.isin(split, (0, 1, 2)).all():
        raise InvlatentError(f"{path}: split must hold ({b},) codes 0 (train), 1 (val), 2 (test)")
    return ids.astype(np.int64), split.astype(np.uint8)
