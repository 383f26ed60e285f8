"""The graph VAE: exact permutation equivariance of encoder and decoder, and a training run that learns."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rdkit")

from invlatent.pipelines.molecules.graphs import smiles_to_graphs  # noqa: E402
from invlatent.pipelines.molecules.model import GraphVAE, model_config  # noqa: E402

SMILES = ["CC(C)O", "c1ccccc1", "[NH3+]CC(=O)[O-]", "OC1C2CC1O2", "C#CC(=O)NC", "CCOC=O"]
TINY = dict(hidden=16, enc_layers=2, dec_layers=2, heads=2, fourier=8)


def _model(latent_dim=1, seed=0, **arch):
    torch.manual_seed(seed)
    return GraphVAE(model_config(latent_dim=latent_dim, **TINY, **arch)).double().eval()


def _graphs(rng):
    """Molecules with their nodes (padding included) in a random order."""
    g = smiles_to_graphs(SMILES)
    return g.permuted(np.argsort(rng.random(g.mask.shape), axis=1))


def _perm_rows(x, perm):
    return torch.stack([xb[p] for xb, p in zip(x, perm, strict=True)])


def _perm_pairs(x, perm):
    return torch.stack([xb[p][:, p] for xb, p in zip(x, perm, strict=True)])


@pytest.mark.parametrize("latent_dim", [1, 3])
def test_encoder_is_exactly_permutation_equivariant(rng, latent_dim):
    model, g = _model(latent_dim), _graphs(rng)
    perm = np.argsort(rng.random(g.mask.shape), axis=1)
    p = g.permuted(perm)
    t = [torch.from_numpy(x) for x in (g.types, g.adj, g.mask)]
    tp = [torch.from_numpy(x) for x in (p.types, p.adj, p.mask)]
    with torch.no_grad():
        mu, logvar = model.encoder(*t)
        mu_p, logvar_p = model.encoder(*tp)
    assert mu.shape == (len(SMILES), 9, latent_dim)
    assert torch.allclose(_perm_rows(mu, torch.from_numpy(perm)), mu_p, atol=1e-10)
    assert torch.allclose(_perm_rows(logvar, torch.from_numpy(perm)), logvar_p, atol=1e-10)
    assert mu.abs().sum() > 0 and (mu[~t[2]] == 0).all()


@pytest.mark.parametrize("latent_dim, edge_layers", [(1, 0), (2, 0), (1, 2)])
def test_decoder_is_exactly_permutation_equivariant(rng, latent_dim, edge_layers):
    model = _model(latent_dim, edge_layers=edge_layers)
    mask = torch.from_numpy(np.arange(9)[None, :] < rng.integers(1, 10, size=(8, 1)))
    z = torch.from_numpy(rng.standard_normal((8, 9, latent_dim))) * mask[..., None]
    perm = torch.from_numpy(np.argsort(rng.random((8, 9)), axis=1))
    with torch.no_grad():
        nodes, edges = model.decoder(z, mask)
        nodes_p, edges_p = model.decoder(_perm_rows(z, perm), _perm_rows(mask, perm))
    assert torch.allclose(_perm_rows(nodes, perm), nodes_p, atol=1e-10)
    assert torch.allclose(_perm_pairs(edges, perm), edges_p, atol=1e-10)
    assert torch.allclose(edges, edges.transpose(1, 2), atol=1e-12)  # bonds are symmetric


@pytest.mark.parametrize("edge_layers", [0, 1])
def test_equal_latents_on_padding_do_not_leak_into_real_nodes(rng, edge_layers):
    model = _model(edge_layers=edge_layers)
    mask = torch.tensor([[True] * 5 + [False] * 4])
    z = torch.from_numpy(rng.standard_normal((1, 9, 1)))
    z2 = z.clone()
    z2[0, 5:] = 123.0  # garbage on padded nodes must not matter
    with torch.no_grad():
        a, b = model.decoder(z * mask[..., None], mask), model.decoder(z2 * mask[..., None], mask)
    assert torch.allclose(a[0][0, :5], b[0][0, :5]) and torch.allclose(
        a[1][0, :5, :5], b[1][0, :5, :5]
    )


def test_a_short_training_run_reduces_the_loss():
    from invlatent.pipelines.molecules.train import train_graph_vae

    smi = SMILES * 12
    _, config = _train_on(smi, train_graph_vae)
    losses = [h["loss"] for h in config["history"]]
    assert losses[-1] < 0.7 * losses[0], losses
    assert config["family"] == "molecules" and config["latent_dim"] == 1


def _train_on(smiles, train_graph_vae, **options):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/m.smi"
        with open(path, "w") as f:
            f.write("\n".join(smiles) + "\n")
        return train_graph_vae(
            path,
            seed=0,
            log=lambda s: None,
            arch=TINY,
            **{"epochs": 5, "batch_size": 12, "lr": 5e-3, "warmup": 1, **options},
        )


def test_weight_ema_follows_its_recurrence_and_warms_up():
    from invlatent.pipelines.training import Ema

    model = _model()
    ema = Ema(model, decay=0.9)
    start = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model, step=0)  # warm-up: weight 1 - 1/10 on the new weights
    for s, p, q in zip(start, model.parameters(), ema.model.parameters(), strict=True):
        assert torch.allclose(q, 0.1 * s + 0.9 * p)
    before = [q.clone() for q in ema.model.parameters()]
    ema.update(model, step=10_000)  # warmed up: the configured decay
    for b, p, q in zip(before, model.parameters(), ema.model.parameters(), strict=True):
        assert torch.allclose(q, 0.9 * b + 0.1 * p)
    assert not any(q.requires_grad for q in ema.model.parameters())


def test_training_returns_the_averaged_weights():
    from invlatent.pipelines.molecules.train import train_graph_vae

    plain, _ = _train_on(SMILES * 5, train_graph_vae, ema=0.0)
    averaged, config = _train_on(SMILES * 5, train_graph_vae, ema=0.9)
    assert config["train"]["ema"] == 0.9
    assert any(not np.allclose(plain[k], averaged[k]) for k in plain)


def test_training_is_reproducible_with_a_seed():
    from invlatent.pipelines.molecules.train import train_graph_vae

    a, _ = _train_on(SMILES * 5, train_graph_vae)
    b, _ = _train_on(SMILES * 5, train_graph_vae)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_symmetry_class_permutations_stay_inside_classes():
    from invlatent.pipelines.molecules.symmetry import class_permutations

    perms = class_permutations(["OCCO", "CCO", "CC(C)(C)C"], cap=16)
    assert (perms[1] == np.arange(9)).all()  # ethanol: no two atoms alike
    occo = {tuple(p[:4]) for p in perms[0]}
    assert occo == {(0, 1, 2, 3), (0, 2, 1, 3), (3, 1, 2, 0), (3, 2, 1, 0)}
    assert all(set(p[[0, 2, 3, 4]]) == {0, 2, 3, 4} and p[1] == 1 for p in perms[2])


def test_bond_loss_does_not_care_which_alike_atom_is_which():
    """OCCO: swapping the two oxygens in the target leaves the loss unchanged (min over relabellings)."""
    from invlatent.pipelines.molecules.symmetry import class_permutations
    from invlatent.pipelines.molecules.train import vae_loss

    g = smiles_to_graphs(["OCCO"])
    perms = torch.from_numpy(class_permutations(["OCCO"], cap=16))
    swapped = g.permuted(np.array([[3, 1, 2, 0, 4, 5, 6, 7, 8]]))  # O0-C1 becomes O3-C1
    assert not (swapped.adj == g.adj).all()
    model = _model().float()
    types, mask = torch.from_numpy(g.types), torch.from_numpy(g.mask)
    one = torch.arange(9).view(1, 1, 9)
    losses = {}
    for name, graph in (("truth", g), ("swapped", swapped)):
        for k, p in (("min", perms), ("plain", one)):
            torch.manual_seed(0)
            gen = torch.Generator().manual_seed(1)
            _, parts = vae_loss(model, types, torch.from_numpy(graph.adj), mask, p, 0.0, gen)
            losses[name, k] = parts[1]
    assert losses["truth", "min"] == pytest.approx(losses["swapped", "min"], rel=1e-6)
    assert losses["truth", "plain"] != pytest.approx(losses["swapped", "plain"], rel=1e-3)


def test_valence_decoding_respects_valences_and_joins_fragments(rng):
    from invlatent.pipelines.molecules.decode import argmax_bonds, components, valence_bonds
    from invlatent.pipelines.molecules.graphs import MAX_VALENCE

    b = 200
    types = rng.integers(0, 8, size=(b, 9))
    mask = np.arange(9)[None, :] < rng.integers(2, 10, size=(b, 1))
    logits = rng.normal(size=(b, 9, 9, 4)) * 3
    logp = logits + logits.transpose(0, 2, 1, 3)
    logp[..., 0] += 6  # "no bond" usually likeliest: argmax graphs fall apart
    adj = valence_bonds(types, logp, mask)
    assert (adj == adj.transpose(0, 2, 1)).all() and (adj[~mask] == 0).all()
    assert (adj.sum(2) <= np.where(mask, MAX_VALENCE[types], 0)).all()
    joined = [components(a, m).max() == 0 for a, m in zip(adj, mask, strict=True)]
    plain = [
        components(a, m).max() == 0 for a, m in zip(argmax_bonds(logp, mask), mask, strict=True)
    ]
    assert np.mean(plain) < 0.5
    carbon_only = [
        components(a, m).max() == 0
        for a, m in zip(valence_bonds(types * 0, logp, mask), mask, strict=True)
    ]
    assert np.mean(carbon_only) > 0.95  # carbons nearly always have room to join fragments
    assert np.mean(joined) > np.mean(plain)
