"""Encoder-consistent decoding: the k-best candidates against brute force, feasibility against
RDKit, and the choice of the graph whose encoding is the latent, under node permutations."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rdkit")

from invlatent.pipelines.molecules.graphs import (  # noqa: E402
    ATOM_TYPES,
    MAX_NODES,
    graph_to_smiles,
    smiles_to_graphs,
)
from invlatent.pipelines.molecules.model import GraphVAE, model_config  # noqa: E402
from invlatent.pipelines.molecules.search import (  # noqa: E402
    MAX_CHANGES,
    candidate_graphs,
    consistent_graphs,
    feasible,
    orders_to_adj,
)

SMILES = ["CC(C)O", "c1ccccc1", "[NH3+]CC(=O)[O-]", "OC1C2CC1O2", "C#CC(=O)NC", "CC1=CC=CN1"]
N, T, PAIRS = MAX_NODES, len(ATOM_TYPES), MAX_NODES * (MAX_NODES - 1) // 2
IU, JU = np.triu_indices(N, 1)


def _log_softmax(x):
    return (
        x
        - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - x.max(-1, keepdims=True)
    )


def _forged(rng, nodes: int, uncertain: dict):
    """Decoder log-probs for one molecule: confident everywhere except ``uncertain``, which maps
    entries (0..n-1 atoms, n.. pairs) to the values that are nearly as likely as the best."""
    mask = np.arange(N) < nodes
    node = np.full((N, T), -30.0)
    node[np.arange(N), rng.integers(0, T, N)] = 0.0
    pair = np.full((PAIRS, 4), -30.0)
    pair[np.arange(PAIRS), rng.integers(0, 4, PAIRS)] = 0.0
    for entry, values in uncertain.items():
        row = node[entry] if entry < N else pair[entry - N]
        row[values] = -rng.uniform(0.05, 3.0, len(values))
    return _log_softmax(node), _log_softmax(pair), mask


def _brute_force(node, pair, mask, uncertain, k):
    """The k best log p over every assignment of the uncertain entries (≤ MAX_CHANGES changes)."""
    flat = [*node, *pair]
    best = np.array([row.argmax() for row in flat])
    options = [[best[e], *values] for e, values in uncertain.items()]
    scores = []
    for choice in itertools.product(*options):
        changes = sum(c != best[e] for c, e in zip(choice, uncertain, strict=True))
        if changes <= MAX_CHANGES:
            values = best.copy()
            values[list(uncertain)] = choice
            real = np.concatenate([mask, mask[IU] & mask[JU]])
            scores.append(sum(flat[i][v] for i, v in enumerate(values) if real[i]))
    return np.sort(scores)[::-1][:k]


@pytest.mark.parametrize("seed", range(4))
def test_candidates_are_the_k_likeliest_graphs(seed):
    rng = np.random.default_rng(seed)
    nodes = int(rng.integers(5, N + 1))
    real_pairs = np.flatnonzero((np.arange(N) < nodes)[IU] & (np.arange(N) < nodes)[JU])
    uncertain = {int(rng.integers(nodes)): [int(v) for v in rng.choice(T, 2, replace=False)]}
    for p in rng.choice(real_pairs, 4, replace=False):
        uncertain[N + int(p)] = [int(rng.integers(4))]
    node, pair, mask = _forged(rng, nodes, uncertain)
    best = np.concatenate([node.argmax(-1), pair.argmax(-1)])
    uncertain = {e: [v for v in vs if v != best[e]] for e, vs in uncertain.items()}
    k = 20
    types, orders, logp = candidate_graphs(node[None], pair[None], mask[None], k)
    np.testing.assert_allclose(logp[0], _brute_force(node, pair, mask, uncertain, k), rtol=1e-9)
    assert (np.diff(logp[0]) <= 1e-12).all()
    graphs = {(tuple(t[mask]), tuple(o)) for t, o in zip(types[0], orders[0], strict=True)}
    assert len(graphs) == k
    assert (orders[0][:, ~(mask[IU] & mask[JU])] == 0).all()


def test_feasible_agrees_with_rdkit_on_perturbed_molecules():
    rng = np.random.default_rng(0)
    g = smiles_to_graphs(SMILES * 40)
    types, adj = g.types.copy(), g.adj.copy()
    for b in range(len(g)):
        nodes = np.flatnonzero(g.mask[b])
        for _ in range(rng.integers(0, 3)):
            i, j = rng.choice(nodes, 2, replace=False)
            adj[b, i, j] = adj[b, j, i] = rng.integers(0, 4)
        if rng.random() < 0.3:
            types[b, rng.choice(nodes)] = rng.integers(T)
    ok = feasible(types, adj, g.mask)
    rows = zip(types, adj, g.mask, strict=True)
    valid = np.array([graph_to_smiles(t, a, m) is not None for t, a, m in rows])
    assert 0.2 < ok.mean() < 0.8
    np.testing.assert_array_equal(ok, valid)


def _encoder_setup(latent_dim=1):
    torch.manual_seed(0)
    cfg = model_config(
        hidden=16, enc_layers=2, dec_layers=2, heads=2, fourier=8, latent_dim=latent_dim
    )
    model = GraphVAE(cfg).double().eval()
    g = smiles_to_graphs(SMILES)
    with torch.no_grad():
        mu, _ = model.encoder(*(torch.from_numpy(x) for x in (g.types, g.adj, g.mask)))
    return model, g, mu.numpy()


def _decoder_that_is_wrong(g, rng):
    """Log-probs whose argmax graph has two wrong bonds; the true ones a close second."""
    b = len(g)
    node = np.full((b, N, T), -30.0)
    node[np.arange(b)[:, None], np.arange(N), g.types] = 0.0
    edge = np.full((b, N, N, 4), -30.0)
    edge[np.arange(b)[:, None, None], np.arange(N)[:, None], np.arange(N), g.adj] = 0.0
    wrong = g.adj.copy()
    for m in range(b):
        nodes = np.flatnonzero(g.mask[m])
        for i, j in rng.choice(nodes, (2, 2), replace=True):
            if i != j:
                v = (g.adj[m, i, j] + 1) % 4
                for a, c in ((i, j), (j, i)):
                    edge[m, a, c, v], edge[m, a, c, g.adj[m, i, j]] = 0.0, -0.5
                wrong[m, i, j] = wrong[m, j, i] = v
    return _log_softmax(node), _log_softmax(edge), wrong


@pytest.mark.parametrize("latent_dim", [1, 3])
def test_search_returns_the_graph_whose_encoding_is_the_latent(latent_dim):
    model, g, mu = _encoder_setup(latent_dim)
    assert mu.shape[-1] == latent_dim
    node, edge, wrong = _decoder_that_is_wrong(g, np.random.default_rng(1))
    assert (wrong != g.adj).any()
    types, adj = consistent_graphs(model, mu, g.mask, node, edge, (g.types, wrong))
    np.testing.assert_array_equal(adj, g.adj)
    np.testing.assert_array_equal(np.where(g.mask, types, 0), g.types)


def test_search_is_permutation_equivariant():
    model, g, mu = _encoder_setup()
    rng = np.random.default_rng(2)
    node, edge, wrong = _decoder_that_is_wrong(g, rng)
    perm = np.argsort(rng.random(g.mask.shape), axis=1)
    rows = np.arange(len(g))[:, None]
    pe = edge[rows[:, :, None], perm[:, :, None], perm[:, None, :]]
    pw = wrong[rows[:, :, None], perm[:, :, None], perm[:, None, :]]
    pt, pm = np.take_along_axis(g.types, perm, 1), np.take_along_axis(g.mask, perm, 1)
    t1, a1 = consistent_graphs(model, mu, g.mask, node, edge, (g.types, wrong))
    t2, a2 = consistent_graphs(model, mu[rows, perm], pm, node[rows, perm], pe, (pt, pw))
    np.testing.assert_array_equal(np.where(pm, t2, 0), np.where(pm, t1[rows, perm], 0))
    np.testing.assert_array_equal(a2, a1[rows[:, :, None], perm[:, :, None], perm[:, None, :]])


def test_orders_to_adj_is_symmetric_with_an_empty_diagonal():
    orders = np.random.default_rng(0).integers(0, 4, (3, 2, PAIRS))
    adj = orders_to_adj(orders, N)
    np.testing.assert_array_equal(adj, np.swapaxes(adj, -1, -2))
    assert (np.diagonal(adj, axis1=-2, axis2=-1) == 0).all()
    np.testing.assert_array_equal(adj[..., IU, JU], orders)
