"""SMILES ↔ dense padded graphs: node types, bond-order adjacency and a node mask.

A molecule becomes (kekulised, hydrogens implicit) at most ``MAX_NODES`` heavy atoms, each one of
``ATOM_TYPES`` (element and formal charge), and a symmetric adjacency of bond orders
0 (none), 1, 2, 3. Hydrogen counts are not stored: RDKit's default valences give them back for
every atom type QM9 contains ([NH3+], [CH-], ...). Molecules that do not fit are counted by
reason, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MAX_NODES = 9
ATOM_TYPES = (("C", 0), ("N", 0), ("O", 0), ("F", 0), ("C", -1), ("N", 1), ("N", -1), ("O", -1))
BOND_ORDERS = 4  # none, single, double, triple
MAX_VALENCE = np.array([4, 3, 2, 1, 3, 4, 2, 1], dtype=np.int64)
_TYPE_INDEX = {t: i for i, t in enumerate(ATOM_TYPES)}


@dataclass
class Graphs:
    """A batch of padded graphs; ``kept`` indexes the input molecules that made it."""

    types: np.ndarray  # (B, n) int64, 0 on padding
    adj: np.ndarray  # (B, n, n) int64 bond orders, symmetric, zero diagonal
    mask: np.ndarray  # (B, n) bool
    kept: np.ndarray  # (B,) int64 rows of the input
    rejected: Counter = field(default_factory=Counter)
    perms: np.ndarray | None = None  # (B, K, n) target relabellings for training, if any

    def __len__(self) -> int:
        return int(self.types.shape[0])

    def take(self, index: np.ndarray) -> Graphs:
        """The graphs ``index`` (``rejected`` is kept as is)."""
        perms = None if self.perms is None else self.perms[index]
        return Graphs(
            self.types[index],
            self.adj[index],
            self.mask[index],
            self.kept[index],
            self.rejected,
            perms,
        )

    def permuted(self, perm: np.ndarray) -> Graphs:
        """Relabel nodes: new node i of molecule b is old node ``perm[b, i]``."""
        types = np.take_along_axis(self.types, perm, axis=1)
        mask = np.take_along_axis(self.mask, perm, axis=1)
        rows = np.take_along_axis(self.adj, perm[:, :, None], axis=1)
        adj = np.take_along_axis(rows, perm[:, None, :], axis=2)
        return Graphs(types, adj, mask, self.kept, self.rejected)


def smiles_to_graphs(smiles: list[str]) -> Graphs:
    """Parse SMILES with RDKit into padded graphs, counting the rejected ones by reason."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    b = len(smiles)
    types = np.zeros((b, MAX_NODES), np.int64)
    adj = np.zeros((b, MAX_NODES, MAX_NODES), np.int64)
    mask = np.zeros((b, MAX_NODES), bool)
    ok = np.zeros(b, bool)
    rejected: Counter = Counter()
    for i, s in enumerate(smiles):
        reason = _fill(s, types[i], adj[i], mask[i])
        if reason:
            rejected[reason] += 1
        else:
            ok[i] = True
    kept = np.flatnonzero(ok)
    return Graphs(types[kept], adj[kept], mask[kept], kept.astype(np.int64), rejected)


def _fill(smiles: str, types: np.ndarray, adj: np.ndarray, mask: np.ndarray) -> str | None:
    """Write one molecule into the row buffers; returns why it was rejected, or None."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return "unparsable SMILES"
    if mol.GetNumAtoms() > MAX_NODES:
        return f"more than {MAX_NODES} heavy atoms"
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return "radical"
    Chem.Kekulize(mol, clearAromaticFlags=True)
    for a in mol.GetAtoms():
        t = _TYPE_INDEX.get((a.GetSymbol(), a.GetFormalCharge()))
        if t is None:
            return f"atom type {a.GetSymbol()}{a.GetFormalCharge():+d}"
        types[a.GetIdx()] = t
        mask[a.GetIdx()] = True
    for bond in mol.GetBonds():
        order = {1.0: 1, 2.0: 2, 3.0: 3}.get(bond.GetBondTypeAsDouble())
        if order is None:
            return f"bond type {bond.GetBondType()}"
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        adj[i, j] = adj[j, i] = order
    return None


def graph_to_mol(types: np.ndarray, adj: np.ndarray, mask: np.ndarray):
    """An RDKit molecule from one padded graph, or None if RDKit cannot sanitise it."""
    from rdkit import Chem

    nodes = np.flatnonzero(mask)
    mol = Chem.RWMol()
    for t in types[nodes]:
        symbol, charge = ATOM_TYPES[int(t)]
        atom = Chem.Atom(symbol)
        atom.SetFormalCharge(charge)
        mol.AddAtom(atom)
    bond_type = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
    for a, i in enumerate(nodes):
        for c, j in enumerate(nodes[a + 1 :], start=a + 1):
            if adj[i, j]:
                mol.AddBond(a, c, bond_type[int(adj[i, j])])
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several unrelated types for bad valences and kekulisation
        return None
    return mol.GetMol()


def graph_to_smiles(types: np.ndarray, adj: np.ndarray, mask: np.ndarray) -> str | None:
    """Canonical SMILES of a valid, connected graph; None for invalid or fragmented graphs."""
    from rdkit import Chem

    if not mask.any():
        return None
    mol = graph_to_mol(types, adj, mask)
    if mol is None:
        return None
    smiles = Chem.MolToSmiles(mol)
    return None if "." in smiles else smiles


def graphs_to_smiles(graphs: Graphs) -> list[str | None]:
    """Canonical SMILES (or None when invalid) of every graph in a batch."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [
        graph_to_smiles(t, a, m)
        for t, a, m in zip(graphs.types, graphs.adj, graphs.mask, strict=True)
    ]


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES of a SMILES string (None when unparsable)."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def same_graph(a: Graphs, b: Graphs) -> np.ndarray:
    """Per row: the two graphs are identical node for node (types on real nodes, bonds, mask)."""
    types_eq = ((a.types == b.types) | ~a.mask).all(axis=1)
    return types_eq & (a.mask == b.mask).all(axis=1) & (a.adj == b.adj).all(axis=(1, 2))
