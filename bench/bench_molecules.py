"""The molecule pipeline's figures: training time, reconstruction, prior validity, interpolation,
encoding throughput and property regression from raw vs sorted latents (honest protocol:
molecules encoded with their nodes in a random order).

Baselines in the same run: encoding throughput is compared with RDKit parsing alone; sorted
interpolation and probes with raw ones; the encoder-consistent ``search`` decoding with the
single-pass ``valence`` and ``argmax`` decodings (accuracy and molecules per second). Trains the
default model first (timed, about 28 minutes) with ``--train`` or when ``--model`` does not exist
yet.

Run (heavy, under the shared lock):
``flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_molecules.py [--train]``
(writes bench/results/molecules.json; latent files go to out/molecules/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "out", "molecules")
RESULTS = os.path.join(ROOT, "bench", "results", "molecules.json")
CLI = [sys.executable, "-m", "invlatent"]


def train(model: str, minutes: float) -> dict:
    """Train the reference model on full QM9 through the CLI (80 epochs or the time budget,
    whichever ends first); wall time in seconds."""
    t = time.perf_counter()
    cmd = [*CLI, "train", "graph-vae", "--data", "qm9", "--epochs", "80"]
    cmd += ["--max-minutes", str(minutes), "-o", model]
    subprocess.run(cmd, check=True)
    return {"train_wall_s": round(time.perf_counter() - t, 1)}


def encode_all(model: str) -> tuple[dict, object]:
    """Encode all of QM9 (random node order), timed against RDKit parsing alone."""
    from invlatent.format.latentfile import write
    from invlatent.pipelines.molecules.encode import encode_checkpoint
    from invlatent.pipelines.molecules.graphs import smiles_to_graphs
    from invlatent.pipelines.qm9 import load_qm9

    t = time.perf_counter()
    smiles_to_graphs(load_qm9().smiles)
    parse = time.perf_counter() - t
    t = time.perf_counter()
    lf = encode_checkpoint(model, "qm9", permute="random", seed=0, batch_size=1024)
    enc = time.perf_counter() - t
    write(lf, os.path.join(OUT, "z_qm9.st"))
    return {
        "encode_molecules": len(lf),
        "encode_s": round(enc, 2),
        "encode_mol_per_s": round(len(lf) / enc),
        "rdkit_parse_s": round(parse, 2),
        "encode_over_parse": round(enc / parse, 2),
    }, lf


def reconstruction(model, test) -> dict:
    """Exact node-for-node and canonical-SMILES reconstruction of the (permuted) test split."""
    from invlatent.pipelines.molecules.decode import DECODE_MODES, decode_logits, posterior
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles, same_graph

    truth = graphs_to_smiles(test)
    sym = _has_symmetric_atoms(truth)
    out = {"test_molecules": len(test), "test_with_symmetric_atoms": int(sym.sum())}
    for latent in ("mean", "sample"):
        z = posterior(model, test, sample=latent == "sample", seed=0)
        for mode in DECODE_MODES:
            t = time.perf_counter()
            dec = decode_logits(model, z, test.mask, mode)
            out[f"decode_{latent}_{mode}_mol_per_s"] = round(len(z) / (time.perf_counter() - t))
            smi = graphs_to_smiles(dec)
            ok = same_graph(dec, test)
            out[f"exact_{latent}_{mode}"] = round(float(ok.mean()), 4)
            out[f"exact_{latent}_{mode}_symmetric"] = round(float(ok[sym].mean()), 4)
            out[f"exact_{latent}_{mode}_asymmetric"] = round(float(ok[~sym].mean()), 4)
            out[f"smiles_{latent}_{mode}"] = round(
                float(np.mean([a == b for a, b in zip(smi, truth, strict=True)])), 4
            )
    return out


def permuted_test(graphs, split: np.ndarray):
    """The test split's graphs, each with its nodes in a seeded random order (seed 0)."""
    test = graphs.take(np.flatnonzero(split == 2))
    order = np.argsort(np.random.default_rng(0).random(test.mask.shape), axis=1)
    return test.permuted(order)


def _has_symmetric_atoms(smiles: list[str]) -> np.ndarray:
    """Molecules with two or more atoms in one symmetry class (ties for an equivariant encoder)."""
    from rdkit import Chem

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return np.array(
        [len(set(Chem.CanonicalRankAtoms(m, breakTies=False))) < m.GetNumAtoms() for m in mols]
    )


def prior(model, config, train_smiles: set, count: int = 10_000) -> dict:
    """Validity, uniqueness and novelty of decoded prior samples."""
    from invlatent.pipelines.molecules.decode import (
        DECODE_MODES,
        decode_logits,
        sample_prior,
        validity_summary,
    )
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    out = {}
    z, mask = sample_prior(config, count, seed=0)
    for mode in DECODE_MODES:
        smi = graphs_to_smiles(decode_logits(model, z, mask, mode))
        s = validity_summary(smi)
        valid = [x for x in smi if x]
        out[f"prior_{mode}"] = {
            "validity": round(s["validity"], 4),
            "uniqueness": round(s["uniqueness"], 4),
            "novelty": round(
                float(np.mean([x not in train_smiles for x in valid])) if valid else 0.0, 4
            ),
        }
    return out


def interpolation(model, z, mask, pairs: int = 500, steps: int = 9) -> dict:
    """Path validity, uniqueness and smoothness, raw vs sorted."""
    from invlatent.pipelines.molecules.decode import DECODE_MODES
    from invlatent.pipelines.molecules.interpolate import interpolate

    out = {}
    for mode in DECODE_MODES:
        _, res = interpolate(
            model, z, mask, pairs=pairs, steps=steps, spaces=("raw", "sorted"), seed=0, mode=mode
        )
        out[f"interpolation_{mode}"] = {
            s: {k: round(v, 4) for k, v in m.items()} for s, (m, _) in res.items()
        }
    return out


def probes(z_path: str) -> dict:
    """Ridge and kNN R² per QM9 target from raw (flattened) vs sorted latents, fixed split."""
    from invlatent.pipelines.qm9 import TARGETS

    zs_path = z_path.replace(".st", "_sorted.st")
    subprocess.run([*CLI, "project", "--method", "sort", z_path, "-o", zs_path], check=True)
    names = ",".join(n for n, _, _ in TARGETS)
    out = {}
    for task in ("ridge", "knn"):
        cmd = [*CLI, "probe", "--task", task, "--target", names, "--json", z_path, zs_path]
        if task == "knn":
            cmd += ["--metric", "euclidean"]
        report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        out[f"probe_{task}"] = _r2_table(report, [n for n, _, _ in TARGETS])
    return out


def _r2_table(report: dict, names: list[str]) -> dict:
    rows = {}
    for r, label in zip(report["results"], ("raw", "sorted"), strict=True):
        rows[label] = {t: round(float(_r2(r["summary"]["targets"][t])), 4) for t in names}
    rows["sorted_wins"] = sum(rows["sorted"][t] > rows["raw"][t] for t in names)
    return rows


def _r2(entry) -> float:
    value = entry["r2"]
    return value["mean"] if isinstance(value, dict) else value


def main() -> None:
    import torch

    from invlatent.format.checkpoint import read_config
    from invlatent.pipelines.molecules.decode import load_model
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles, smiles_to_graphs
    from invlatent.pipelines.qm9 import load_qm9

    p = argparse.ArgumentParser()
    p.add_argument("--model", default=os.path.join(OUT, "vae.pt"))
    p.add_argument(
        "--train", action="store_true", help="train the default model first (also when missing)"
    )
    p.add_argument("--minutes", type=float, default=27.0)
    p.add_argument("--skip-probes", action="store_true")
    p.add_argument("--results", default=RESULTS, help="where to write the JSON")
    args = p.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    if not args.train and not os.path.exists(args.model):
        print(f"{args.model} does not exist: training the default model first", file=sys.stderr)
    fresh = args.train or not os.path.exists(args.model)
    res = train(args.model, args.minutes) if fresh else {}
    config = read_config(args.model)
    hist = config["history"]
    res.update(train_epochs=len(hist), train_s=hist[-1]["seconds"], final_val=hist[-1])
    model, _ = load_model(args.model)
    enc, lf = encode_all(args.model)
    res.update(enc)
    table = load_qm9()
    graphs = smiles_to_graphs(table.smiles)
    split = table.split[graphs.kept]
    res.update(reconstruction(model, permuted_test(graphs, split)))
    train_smiles = set(graphs_to_smiles(graphs.take(np.flatnonzero(split == 0))))
    res.update(prior(model, config, train_smiles))
    is_test = np.asarray(lf.extra["split"]) == 2
    res.update(interpolation(model, np.asarray(lf.z)[is_test], np.asarray(lf.mask)[is_test]))
    if not args.skip_probes:
        res.update(probes(os.path.join(OUT, "z_qm9.st")))
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print(json.dumps(res, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
