"""QM9 (130,831 molecules) and users' SMILES files, read as SMILES, targets and a fixed split.

QM9 comes from the ``qm9pack`` package, whose ``data/qm9_part{1,2,3}.csv`` files are read
directly (``import qm9pack`` fails on current setuptools). ``ids`` are the 0-based rows of the
three files concatenated in order (the files' order, roughly by molecule size); the split
(80/10/10) is a fixed seeded assignment of those rows, so a molecule keeps its split whatever
``--limit`` is used. ``--limit N`` on any source takes N rows stratified by that split, by a fixed
random rank (a larger limit takes a superset), and keeps the source's order.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.sampling import check_split_options, split_rows

TARGETS = (
    ("mu", "Dipole_debye", "D"),
    ("alpha", "Polarizability_bohr3", "a0^3"),
    ("homo", "HOMO_au", "Ha"),
    ("lumo", "LUMO_au", "Ha"),
    ("gap", "HOMO_LUMO_gap_au", "Ha"),
    ("r2", "R2_bohr2", "a0^2"),
    ("zpve", "ZPVE_au", "Ha"),
    ("u0", "InternalEnergy_0K_au", "Ha"),
    ("u298", "InternalEnergy_298K_au", "Ha"),
    ("h298", "Enthalphy_298K_au", "Ha"),
    ("g298", "GibbsFreeEnergy_298K_au", "Ha"),
    ("cv", "Heatcapacity_Cv_cal_mol_K", "cal/(mol K)"),
)
SPLIT_NAMES = ("train", "val", "test")
SPLIT_SEED = 20240609
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
QM9_SIZE = 130_831


@dataclass
class MoleculeTable:
    """SMILES with optional targets, their source rows (ids) and split codes (0/1/2)."""

    smiles: list[str]
    ids: np.ndarray
    split: np.ndarray
    targets: np.ndarray | None = None
    target_names: tuple[str, ...] = ()
    target_units: tuple[str, ...] = ()
    source: str = ""

    def take(self, index: np.ndarray) -> MoleculeTable:
        """The rows ``index`` of the table."""
        t = None if self.targets is None else self.targets[index]
        return MoleculeTable(
            [self.smiles[i] for i in index],
            self.ids[index],
            self.split[index],
            t,
            self.target_names,
            self.target_units,
            self.source,
        )


def qm9_folder() -> str:
    """The ``data`` folder of the installed qm9pack package (found without importing it)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise InvlatentError("qm9: the qm9pack package is not installed (pip install qm9pack)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def read_qm9_columns(
    cols: list[str], limit: int | None = None, folder: str | None = None, split: str = "all"
):
    """The columns ``cols`` of qm9pack's three CSV parts joined in order (a pandas DataFrame
    indexed by source row), all read, then cut to the rows of ``split`` and ``limit`` of those
    stratified by split; shared by the graph (SMILES) and 3-D (XYZ) readers."""
    import pandas as pd

    folder = folder or qm9_folder()
    frames = []
    for part in (1, 2, 3):
        path = os.path.join(folder, f"qm9_part{part}.csv")
        if not os.path.exists(path):
            raise InvlatentError(f"qm9: {path} is missing from the qm9pack installation")
        frames.append(pd.read_csv(path, usecols=cols))
    df = pd.concat(frames, ignore_index=True)
    if limit is None and split == "all":
        return df
    return df.iloc[split_rows(split_codes(np.arange(len(df)), QM9_SIZE), split, limit)]


def load_qm9(
    limit: int | None = None, folder: str | None = None, split: str = "all"
) -> MoleculeTable:
    """QM9 SMILES, the 12 standard targets (float32) and the fixed split; the rows of ``split``,
    ``limit`` of them stratified by split, in file order."""
    df = read_qm9_columns(["SMILES"] + [c for _, c, _ in TARGETS], limit, folder, split)
    ids = df.index.to_numpy(np.int64)
    return MoleculeTable(
        smiles=df["SMILES"].astype(str).tolist(),
        ids=ids,
        split=split_codes(ids, QM9_SIZE),
        targets=df[[c for _, c, _ in TARGETS]].to_numpy(np.float32),
        target_names=tuple(n for n, _, _ in TARGETS),
        target_units=tuple(u for _, _, u in TARGETS),
        source="qm9",
    )


def split_codes(ids: np.ndarray, total: int) -> np.ndarray:
    """Split code (0 train, 1 val, 2 test) of rows ``ids`` of a data set of ``total`` rows."""
    order = np.random.default_rng(SPLIT_SEED).permutation(max(total, int(ids.max(initial=-1)) + 1))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    cut = np.cumsum(SPLIT_FRACTIONS)[:2] * order.size
    return np.searchsorted(cut, rank[ids], side="right").astype(np.uint8)


def load_smiles_file(path: str, smiles_col: str | None = None) -> MoleculeTable:
    """A ``.smi`` file (SMILES first on each line) or a CSV whose numeric columns are targets."""
    if not os.path.exists(path):
        raise InvlatentError(f"{path}: no such file")
    if path.lower().endswith((".csv", ".tsv")):
        return _load_csv(path, smiles_col)
    with open(path, encoding="utf-8") as f:
        smiles = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
    if not smiles:
        raise InvlatentError(f"{path}: no SMILES found")
    ids = np.arange(len(smiles), dtype=np.int64)
    return MoleculeTable(smiles, ids, split_codes(ids, len(smiles)), source=path)


def _load_csv(path: str, smiles_col: str | None) -> MoleculeTable:
    """A CSV with a SMILES column; every other all-numeric column becomes a target."""
    import pandas as pd

    sep = "\t" if path.lower().endswith(".tsv") else ","
    try:
        df = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as e:
        raise InvlatentError(f"{path}: cannot read as CSV ({e})") from None
    col = smiles_col or next((c for c in df.columns if str(c).lower() == "smiles"), None)
    if col is None or col not in df.columns:
        raise InvlatentError(f"{path}: no SMILES column (looked for {smiles_col or 'smiles'})")
    numeric = [c for c in df.columns if c != col and pd.api.types.is_numeric_dtype(df[c])]
    ids = np.arange(len(df), dtype=np.int64)
    return MoleculeTable(
        smiles=df[col].astype(str).tolist(),
        ids=ids,
        split=split_codes(ids, len(df)),
        targets=df[numeric].to_numpy(np.float32) if numeric else None,
        target_names=tuple(str(c) for c in numeric),
        target_units=tuple("" for _ in numeric),
        source=path,
    )


def load_table(
    data: str, limit: int | None = None, smiles_col: str | None = None, split: str = "all"
) -> MoleculeTable:
    """``qm9`` or a SMILES/CSV file: the rows of ``split``, ``limit`` of them stratified by
    split, in input order."""
    if data.lower() == "qm9":
        if smiles_col is not None:
            raise InvlatentError("smiles_col is for CSV files, not qm9")
        check_split_options(split, limit)
        return load_qm9(limit, split=split)
    if smiles_col is not None and not data.lower().endswith((".csv", ".tsv")):
        raise InvlatentError(f"{data}: smiles_col is for .csv/.tsv files")
    table = load_smiles_file(data, smiles_col)
    return table.take(split_rows(table.split, split, limit))
