"""The 3-D molecule pipeline's figures: the e3nn network against a plain rotation-augmented
network of about the same size on the same time budget, equivariance errors, encoding throughput
and peak memory for all of QM9, probes of raw vs invariant latents, pictures.

Honest protocol: every latent file here is encoded with each molecule in a Haar-random rotation
and a random atom order (``--rotate random --permute random``, recorded in g / g_perm). Probes
use a seeded random subset of QM9 that keeps QM9's own split (fit on train rows, scored on test
rows) and all 12 targets; the model was trained on ``u0`` only, so 11 targets are held out.

Baselines in the same run: the plain network (test MAE, equivariance, encoding speed), raw
latents (every projection's probe score), loading the geometries alone (encoding time).

Run: ``nice -n 10 .venv/bin/python bench/bench_mol3d.py [--train]`` (19 minutes with trained
models, about 62 with --train, on the shared 2-core machine; writes bench/results/mol3d.json,
latents in out/mol3d/, pictures in docs/img/mol3d_*.png).
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
sys.path.insert(0, ROOT)
OUT = os.path.join(ROOT, "out", "mol3d")
IMG = os.path.join(ROOT, "docs", "img")
CLI = [sys.executable, "-m", "invlatent"]
POSE = ["--rotate", "random", "--permute", "random"]
METHODS = {  # the O(3) issue's projections per action kind
    "nodes": ("norm", "power", "bispectrum", "norm-sum", "canonical"),
    "graph": ("norm", "power", "bispectrum", "canonical", "random-max"),
}


def timed(cmd: list[str]) -> dict:
    """Run a command; wall seconds and the child's peak resident memory (MiB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return {
        "wall_s": round(time.perf_counter() - t, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
    }


def train(arch: str, path: str, minutes: float) -> dict:
    """The default recipe (e3nn) or the baseline (plain) on the same wall-time budget, timed.

    The plain network is several times cheaper per step, so it gets epochs enough for the budget
    (not the 2 of the default, which would stop it after a few minutes)."""
    epochs = ["--epochs", "100"] if arch == "plain" else []
    return timed([*CLI, "train", "mol3d", "--data", "qm9", "--arch", arch, *epochs,
                  "--max-minutes", str(minutes), "-o", path])  # fmt: skip


def model_facts(path: str) -> dict:
    from invlatent.format.checkpoint import read_config

    cfg = read_config(path)
    last = cfg["history"][-1]
    return {
        "parameters": cfg["parameters"],
        "test_mae": cfg["test_mae"],
        "test_mae_meV": {k: round(v * 27211.386, 1) for k, v in cfg["test_mae"].items()},
        "steps": last["steps"],
        "molecules_seen": last["molecules_seen"],
        "train_loop_s": last["seconds"],
        "val_mae_curve": [
            {"seconds": h["seconds"], "molecules_seen": h["molecules_seen"], **h["val_mae"]}
            for h in cfg["history"]
        ],
    }


def check(path: str, samples: int) -> dict:
    """Max relative equivariance error per layer over every transformation kind."""
    cmd = [*CLI, "check", path, "qm9", "--samples", str(samples), "--json"]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    worst: dict = {}
    for r in res["rows"]:
        key = f"{r['layer']}/{r['transform']}"
        worst[key] = max(worst.get(key, 0.0), r["max_relative_error"])
    return {"max_relative_error": res["max_error"], "per_layer_transform": worst}


def throughput(path: str, layer: str) -> dict:
    """Encode all of QM9 in random poses: molecules/s and peak memory, file size."""
    out = os.path.join(OUT, f"all_{layer}.st")
    run = timed([*CLI, "encode", path, "qm9", *POSE, "--layer", layer, "-o", out])
    from invlatent.format.latentfile import read_header

    header, _ = read_header(out)
    b = header.tensors["z"].shape[0]
    size = os.path.getsize(out)
    os.remove(out)
    return {
        **run,
        "molecules": b,
        "mol_per_s": round(b / run["wall_s"]),
        "file_mib": round(size / 2**20),
    }


def load_only() -> dict:
    """Baseline for encoding time: reading all QM9 geometries and nothing else."""
    code = "from invlatent.pipelines.mol3d.data import load_geometries; load_geometries('qm9')"
    return timed([sys.executable, "-c", code])


def subset(n: int, seed: int, path: str) -> None:
    """A seeded random subset of QM9 as an .npz that keeps source ids and QM9's split."""
    from invlatent.pipelines.mol3d.data import load_geometries

    geo = load_geometries("qm9")
    idx = np.sort(np.random.default_rng(seed).permutation(len(geo))[:n])
    g = geo.take(idx)
    np.savez(path, pos=g.pos, species=g.species, mask=g.mask, targets=g.targets,
             target_names=np.array(g.target_names), ids=g.ids, split=g.split)  # fmt: skip


def probes(model: str, data: str, layer: str, tag: str, plain: str | None = None) -> dict:
    """Ridge and kNN R² per target: raw latents, each projection, the model's own scalars (and
    the plain baseline's pooled latents, what augmentation offers instead)."""
    from invlatent.pipelines.qm9 import TARGETS

    z = os.path.join(OUT, f"{tag}_{layer}.st")
    subprocess.run([*CLI, "encode", model, data, *POSE, "--layer", layer, "-o", z], check=True)
    files, labels = [z], ["raw"]
    for m in METHODS[layer]:
        zp = z.replace(".st", f"_{m}.st")
        subprocess.run([*CLI, "project", "--method", m, z, "-o", zp], check=True)
        files.append(zp)
        labels.append(m)
    zi = os.path.join(OUT, f"{tag}_invariant.st")
    subprocess.run(
        [*CLI, "encode", model, data, *POSE, "--layer", "invariant", "-o", zi], check=True
    )
    files.append(zi)
    labels.append("own-scalars")
    if plain:
        zb = os.path.join(OUT, f"{tag}_plain_graph.st")
        subprocess.run(
            [*CLI, "encode", plain, data, *POSE, "--layer", "graph", "-o", zb], check=True
        )
        files.append(zb)
        labels.append("plain-graph")
    names = [n for n, _, _ in TARGETS]
    out = {}
    for task in ("ridge", "knn"):
        t = time.perf_counter()
        cmd = [*CLI, "probe", "--task", task, "--target", ",".join(names), "--json", *files]
        if task == "knn":
            cmd += ["--metric", "euclidean"]
        report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        out[task] = _table(report, labels, names)
        out[task]["seconds"] = round(time.perf_counter() - t, 1)
    return out


def _table(report: dict, labels: list[str], names: list[str]) -> dict:
    rows = {}
    for r, label in zip(report["results"], labels, strict=True):
        rows[label] = {t: round(float(_r2(r["summary"]["targets"][t])), 4) for t in names}
    held_out = [t for t in names if t != "u0"]
    wins = {m: sum(rows[m][t] > rows["raw"][t] for t in held_out) for m in labels if m != "raw"}
    projections = [m for m in labels if m not in ("raw", "own-scalars", "plain-graph")]
    best = {t: max(rows[m][t] for m in projections) for t in held_out}
    return {
        "r2": rows,
        "wins_over_raw_held_out": wins,
        "best_projection_wins_held_out": sum(best[t] > rows["raw"][t] for t in held_out),
        "held_out_targets": len(held_out),
    }


def _r2(entry) -> float:
    value = entry["r2"]
    return value["mean"] if isinstance(value, dict) else value


def pictures(model: str, data: str, seed: int) -> dict:
    """PCA/UMAP panels raw vs invariant, coloured by the gap; test molecules in 6 poses each
    (copies sharing an id), 6 of these orbits drawn."""
    out = {}
    for layer, method in (("graph", "power"), ("nodes", "norm")):
        z = os.path.join(OUT, f"orbits_{layer}.st")
        subprocess.run([*CLI, "encode", model, data, *POSE, "--layer", layer, "--copies", "6",
                        "--split", "test", "--seed", str(seed), "-o", z], check=True)  # fmt: skip
        zp = z.replace(".st", f"_{method}.st")
        subprocess.run([*CLI, "project", "--method", method, z, "-o", zp], check=True)
        for emb in ("pca", "umap"):
            png = os.path.join(IMG, f"mol3d_{emb}_{layer}_raw_vs_{method}.png")
            cmd = [*CLI, "viz", "--method", emb, "--color", "gap", "--orbits", "6",
                   "--standardize", "--dpi", "110", "--json", z, zp, "-o", png]  # fmt: skip
            rec = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            out[os.path.basename(png)] = rec
    return out


def main() -> None:
    from bench._results import save

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", action="store_true", help="train both models first (2 × budget)")
    p.add_argument("--minutes", type=float, default=20.0, help="training budget per model")
    p.add_argument("--nodes-n", type=int, default=5000, help="molecules probed on the node layer")
    p.add_argument("--graph-n", type=int, default=20000, help="molecules probed on graph layer")
    p.add_argument("--model", default=os.path.join(OUT, "mol3d.pt"), help="e3nn checkpoint")
    p.add_argument("--plain", default=os.path.join(OUT, "plain.pt"), help="baseline checkpoint")
    p.add_argument("--samples", type=int, default=256, help="molecules per equivariance check")
    p.add_argument("--skip", default="", help="comma list of parts to skip: "
                   "check,throughput,probes,graph-probes,pictures")  # fmt: skip
    p.add_argument("--json", default="mol3d", help="result name in bench/results/")
    args = p.parse_args()
    skip = set(args.skip.split(","))
    os.makedirs(OUT, exist_ok=True)
    model, plain = args.model, args.plain
    res: dict = {"protocol": "random rotation + random atom order (g, g_perm); QM9 split"}
    if args.train or not os.path.exists(model):
        res["train_e3nn"] = train("e3nn", model, args.minutes)
    if args.train or not os.path.exists(plain):
        res["train_plain"] = train("plain", plain, args.minutes)
    res["e3nn"], res["plain"] = model_facts(model), model_facts(plain)
    _say("models", {k: res[k]["test_mae_meV"] for k in ("e3nn", "plain")})
    if "check" not in skip:
        res["check_e3nn"], res["check_plain"] = (
            check(model, args.samples),
            check(plain, args.samples),
        )
        _say(
            "equivariance", {k: res[k]["max_relative_error"] for k in ("check_e3nn", "check_plain")}
        )
    if "throughput" not in skip:
        res["load_only"] = load_only()
        res["encode_e3nn_nodes"] = throughput(model, "nodes")
        res["encode_plain_graph"] = throughput(plain, "graph")
        res["encode_over_load"] = round(
            res["encode_e3nn_nodes"]["wall_s"] / res["load_only"]["wall_s"], 2
        )
        _say(
            "throughput",
            {k: res[k] for k in ("load_only", "encode_e3nn_nodes", "encode_plain_graph")},
        )
    if "probes" not in skip:
        data = os.path.join(OUT, "probe_subset.npz")
        subset(max(args.nodes_n, args.graph_n), 0, data)
        small = os.path.join(OUT, "probe_subset_small.npz")
        subset(args.nodes_n, 0, small)
        res["probes_nodes"] = probes(model, small, "nodes", "probe_small")
        _say("probes nodes", _wins(res["probes_nodes"]))
        if "graph-probes" not in skip:
            res["probes_graph"] = probes(model, data, "graph", "probe", plain)
            _say("probes graph", _wins(res["probes_graph"]))
    if "pictures" not in skip:
        res["pictures"] = pictures(model, os.path.join(OUT, "probe_subset_small.npz"), 0)
    print(f"wrote {save(args.json, res)}", file=sys.stderr)


def _wins(probe: dict) -> dict:
    return {
        task: (v["wins_over_raw_held_out"], v["best_projection_wins_held_out"])
        for task, v in probe.items()
    }


def _say(title: str, value) -> None:
    print(f"{title}: {json.dumps(value)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
