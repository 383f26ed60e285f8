"""Molecules as graphs: SMILES round trips (aromatic rings, QM9's charges), rejections, QM9 loader."""

import importlib.util

import numpy as np
import pytest

pytest.importorskip("rdkit")

from invlatent.pipelines.molecules import graphs as gr  # noqa: E402

# aromatic rings, a zwitterion, an isocyanide ([C-]), [NH2+]/[NH+]/[N+], [N-] and [CH-] as in QM9
FIXTURES = [
    "c1ccccc1",
    "c1ccncc1",
    "Cc1ccc(O)cc1",
    "c1cc[nH]c1",
    "O=C1C=CC(=O)N1",
    "[NH3+]CC(=O)[O-]",
    "C[N+]#[C-]",
    "CC=[NH2+]",
    "C[NH+]=C[O-]",
    "C1=CC=[NH+]C1",
    "[N-]=[N+]=NC",
    "[CH-]=[N+]=O",
    "[NH2+]=C1[CH-]C(=O)C=CN1",
    "NC(=[NH2+])C1=CN=N[N-]1",
    "C[NH+]1CC(C1)C([O-])=O",
    "[NH2+]=CN[C-](C#N)C#N",
    "FC(F)(F)C#N",
    "OC1C2CC1O2",
]


@pytest.mark.parametrize("smiles", FIXTURES)
def test_smiles_graph_smiles_round_trip(smiles):
    g = gr.smiles_to_graphs([smiles])
    assert len(g) == 1, g.rejected
    back = gr.graph_to_smiles(g.types[0], g.adj[0], g.mask[0])
    assert back == gr.canonical(smiles)


def test_graphs_are_kekulised_symmetric_and_padded():
    g = gr.smiles_to_graphs(["c1ccccc1"])
    adj = g.adj[0]
    assert (adj == adj.T).all() and (np.diag(adj) == 0).all()
    assert sorted(adj[:6, :6][np.triu_indices(6, 1)][adj[:6, :6][np.triu_indices(6, 1)] > 0]) == [
        1,
        1,
        1,
        2,
        2,
        2,
    ]
    assert g.mask[0].tolist() == [True] * 6 + [False] * 3
    assert (adj[6:] == 0).all()


def test_rejected_molecules_are_counted_by_reason():
    g = gr.smiles_to_graphs(["CCO", "CCCCCCCCCC", "CCl", "C1CC(", "[CH3]", "O"])
    assert g.kept.tolist() == [0, 5]
    assert sum(g.rejected.values()) == 4
    assert set(g.rejected) == {
        "more than 9 heavy atoms",
        "atom type Cl+0",
        "unparsable SMILES",
        "radical",
    }


def test_permuting_nodes_keeps_the_molecule(rng):
    g = gr.smiles_to_graphs(FIXTURES)
    perm = np.argsort(rng.random(g.mask.shape), axis=1)
    p = g.permuted(perm)
    assert not (p.types == g.types).all()
    assert gr.graphs_to_smiles(p) == gr.graphs_to_smiles(g)
    assert gr.same_graph(p.permuted(np.argsort(perm, axis=1)), g).all()
    assert not gr.same_graph(p, g).all()


def test_invalid_graphs_decode_to_none():
    g = gr.smiles_to_graphs(["CC"])
    types, adj, mask = g.types[0].copy(), g.adj[0].copy(), g.mask[0]
    types[0] = gr.ATOM_TYPES.index(("F", 0))
    adj[0, 1] = adj[1, 0] = 2  # F=C: over F's valence
    assert gr.graph_to_smiles(types, adj, mask) is None
    split = g.adj[0] * 0  # two carbons without a bond: two fragments
    assert gr.graph_to_smiles(g.types[0], split, mask) is None


needs_qm9 = pytest.mark.skipif(
    importlib.util.find_spec("qm9pack") is None, reason="qm9pack not installed"
)


@needs_qm9
def test_qm9_loader_reads_a_few_rows_with_targets_and_a_stable_split():
    from invlatent.pipelines import qm9

    t, full = qm9.load_qm9(limit=30), qm9.load_qm9()
    assert len(t.smiles) == 30 and full.smiles[:3] == ["C", "N", "O"]
    assert t.targets.shape == (30, 12) and t.targets.dtype == np.float32
    assert np.isfinite(t.targets).all()
    assert t.target_names == (
        "mu",
        "alpha",
        "homo",
        "lumo",
        "gap",
        "r2",
        "zpve",
        "u0",
        "u298",
        "h298",
        "g298",
        "cv",
    )
    assert full.targets[0, 1] == pytest.approx(13.21)  # methane's polarizability (a0^3)
    assert t.smiles == [full.smiles[i] for i in t.ids]
    assert np.array_equal(t.targets, full.targets[t.ids])
    assert set(np.unique(t.split)) <= {0, 1, 2} and np.array_equal(t.split, full.split[t.ids])
    small = qm9.load_qm9(limit=10)
    assert set(small.ids) <= set(t.ids) and np.array_equal(small.split, full.split[small.ids])


def test_split_is_close_to_80_10_10():
    from invlatent.pipelines.qm9 import split_codes

    codes = split_codes(np.arange(10_000), 10_000)
    assert np.bincount(codes).tolist() == [8000, 1000, 1000]
