"""Decoding the graph VAE: single-pass (``argmax``, ``valence``) vs encoder-consistent
(``search``) on several trained models, and the search's width against its cost.

For each checkpoint: same-molecule reconstruction of the test split (nodes in a random order;
posterior mean and a posterior sample) and validity of 10,000 prior samples, per decoding mode,
with molecules per second. For the first checkpoint, reconstruction as the number of re-encoded
candidates per latent grows. Baseline in the same run: ``valence`` decoding of the same latents.

Run (under the shared lock):
``flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_mol_decoding.py A.pt B.pt ...``
(writes bench/results/mol_decoding.json).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from invlatent.pipelines.molecules.defaults import SEARCH_CANDIDATES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "mol_decoding.json")


def test_graphs():
    """The QM9 test split with each molecule's nodes in a seeded random order."""
    from bench_molecules import permuted_test

    from invlatent.pipelines.molecules.graphs import smiles_to_graphs
    from invlatent.pipelines.qm9 import load_qm9

    table = load_qm9()
    graphs = smiles_to_graphs(table.smiles)
    return permuted_test(graphs, table.split[graphs.kept])


def same_molecule(model, z, test, truth, mode: str, candidates: int = SEARCH_CANDIDATES):
    """(fraction decoded to the input's canonical SMILES, molecules per second)."""
    from invlatent.pipelines.molecules.decode import decode_logits
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    t = time.perf_counter()
    graphs = decode_logits(model, z, test.mask, mode, candidates=candidates)
    rate = len(z) / (time.perf_counter() - t)
    return float(np.mean(np.array(graphs_to_smiles(graphs), dtype=object) == truth)), rate


def prior_validity(model, config, mode: str, count: int = 10_000) -> float:
    """Fraction of decoded prior samples that are valid molecules."""
    from invlatent.pipelines.molecules.decode import decode_logits, sample_prior
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    z, mask = sample_prior(config, count, seed=0)
    smiles = graphs_to_smiles(decode_logits(model, z, mask, mode))
    return float(np.mean([s is not None for s in smiles]))


def per_model(path: str, test, truth) -> dict:
    """Reconstruction (mean, sample) and prior validity per decoding mode for one checkpoint."""
    from invlatent.pipelines.molecules.decode import DECODE_MODES, load_model, posterior

    model, config = load_model(path)
    out = {"epochs": len(config["history"]), "edge_layers": config["model"].get("edge_layers", 0)}
    for latent in ("mean", "sample"):
        z = posterior(model, test, sample=latent == "sample", seed=0)
        for mode in DECODE_MODES:
            acc, rate = same_molecule(model, z, test, truth, mode)
            out[f"{latent}_{mode}"] = round(acc, 4)
            out[f"{latent}_{mode}_mol_per_s"] = round(rate)
    for mode in DECODE_MODES:
        out[f"prior_valid_{mode}"] = round(prior_validity(model, config, mode), 4)
    return out


def width_sweep(path: str, test, truth, widths: list[int]) -> list[dict]:
    """Reconstruction from posterior means as the search re-encodes more candidates."""
    from invlatent.pipelines.molecules.decode import load_model, posterior

    model, _ = load_model(path)
    z = posterior(model, test, sample=False)
    rows = []
    for k in widths:
        acc, rate = same_molecule(model, z, test, truth, "search", candidates=k)
        rows.append({"candidates": k, "mean_search": round(acc, 4), "mol_per_s": round(rate)})
    return rows


def main() -> None:
    import torch

    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+", help="graph VAE checkpoints")
    p.add_argument("--widths", default="1,4,8,16,32,64", help="candidates for the sweep")
    p.add_argument("--results", default=RESULTS, help="where to write the JSON")
    args = p.parse_args()
    torch.set_num_threads(2)
    test = test_graphs()
    truth = np.array(graphs_to_smiles(test), dtype=object)
    res = {"test_molecules": len(test), "models": {}}
    print(
        f"{'model':28} {'mean argmax':>11} {'valence':>8} {'search':>7} "
        f"{'sample search':>13} {'prior valid (search)':>20}"
    )
    for path in args.models:
        r = res["models"][path] = per_model(path, test, truth)
        print(
            f"{path:28} {r['mean_argmax']:11.4f} {r['mean_valence']:8.4f} "
            f"{r['mean_search']:7.4f} {r['sample_search']:13.4f} {r['prior_valid_search']:20.4f}"
        )
    widths = [int(w) for w in args.widths.split(",")]
    res["width_sweep"] = width_sweep(args.models[0], test, truth, widths)
    for row in res["width_sweep"]:
        print(
            f"candidates {row['candidates']:3}: {row['mean_search']:.4f} at "
            f"{row['mol_per_s']} mol/s"
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
