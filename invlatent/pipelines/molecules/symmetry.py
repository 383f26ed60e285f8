"""Relabellings that an equivariant encoder cannot see: permutations inside symmetry classes.

Atoms in one symmetry class (RDKit's canonical ranks without tie-breaking) get equal latent
means from an exactly equivariant encoder, so which of them bonds to which partner is not in
the latent. Training against the minimum loss over such relabellings of the target lets the
decoder break the tie either way (both give the same molecule).
"""

from __future__ import annotations

import itertools

import numpy as np

from invlatent.pipelines.molecules.graphs import MAX_NODES


def class_permutations(smiles: list[str], cap: int = 16) -> np.ndarray:
    """Per molecule, up to ``cap`` node permutations (B, cap, n) acting inside symmetry classes.

    Row 0 is the identity; missing rows repeat it. Node order is RDKit's atom order, as in
    :func:`invlatent.pipelines.molecules.graphs.smiles_to_graphs`.
    """
    out = np.broadcast_to(np.arange(MAX_NODES), (len(smiles), cap, MAX_NODES)).copy()
    for b, s in enumerate(smiles):
        for k, perm in enumerate(_perms(s, cap)):
            out[b, k, : len(perm)] = perm
    return out


def _perms(smiles: str, cap: int):
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    ranks = np.array(list(Chem.CanonicalRankAtoms(mol, breakTies=False)))
    classes = [np.flatnonzero(ranks == r) for r in np.unique(ranks)]
    classes = [c for c in classes if len(c) > 1]
    if not classes:
        return [np.arange(len(ranks))]
    choices = [list(itertools.permutations(c)) for c in classes]
    perms = []
    for combo in itertools.islice(itertools.product(*choices), cap):
        p = np.arange(len(ranks))
        for c, image in zip(classes, combo, strict=True):
            p[c] = image
        perms.append(p)
    return perms
