"""Rotation pipeline figures: accuracy and training time, equivariance error, encoding throughput,
and linear probes of raw vs invariant latents, on rotated MNIST-5k (rotated train and test).

Run under the shared lock (it trains models for several minutes on 2 cores):

    flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_images.py

Writes ``bench/results/images.json`` and the checkpoints/latents under ``bench/results/images/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "results")
WORK = os.path.join(OUT, "images")
CLI = [sys.executable, "-m", "invlatent"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument(
        "--groups",
        default="c8,c4",
        help="group CNNs to train: GROUP or GROUP-pixel (the bilinear pixel filter basis)",
    )
    ap.add_argument("--reuse", action="store_true", help="reuse checkpoints from an earlier run")
    ap.add_argument("--json", default="images.json", help="result file name in bench/results/")
    ap.add_argument("--tasks", default="linear,knn,mlp", help="probes of raw vs projections")
    ap.add_argument("--no-cnn", action="store_true", help="skip the plain-CNN baseline")
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    result = {
        "protocol": "rotated MNIST-5k: 4,000 train / 1,000 test, random rotations in both",
        "machine": _machine(),
        "epochs": args.epochs,
        "models": {},
    }
    names = [g.strip() for g in args.groups.split(",") if g.strip()] + ["cnn"] * (not args.no_cnn)
    for name in names:
        result["models"][name] = _train(name, args.epochs, args.reuse)
    result["throughput"] = _throughput(names)
    for name in names:
        result["models"][name]["check"] = _check(name)
    result["probe"] = _probe(names, args.tasks.split(","))
    with open(os.path.join(OUT, args.json), "w") as f:
        json.dump(result, f, indent=2)
    print(_table(result))


def _machine() -> dict:
    import invlatent.pipelines.images  # noqa: F401  (sets the OpenMP wait policy before torch loads)

    # isort: split
    import torch

    from invlatent.pipelines.images.models import limit_threads

    limit_threads()
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average_at_start": os.getloadavg()[0],
    }


def _run(cmd: list[str], stdout=None) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=stdout is None, cwd=ROOT)
    if res.returncode:
        err = res.stderr if isinstance(res.stderr, str) else res.stderr.decode()
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    err = res.stderr if isinstance(res.stderr, str) else res.stderr.decode()
    return time.perf_counter() - t0, err


def _train(name: str, epochs: int, reuse: bool) -> dict:
    from invlatent.format.checkpoint import read_config

    path = os.path.join(WORK, f"{name}.pt")
    group, _, basis = name.partition("-")
    arch = (
        ["cnn", "--augment", "rotate"]
        if name == "cnn"
        else ["gcnn", "--group", group, "--basis", basis or "harmonic"]
    )
    seconds = None
    if not (reuse and os.path.exists(path)):
        seconds, _ = _run(
            [
                *CLI,
                "train",
                *arch,
                "--data",
                "mnist",
                "--epochs",
                str(epochs),
                "--seed",
                "0",
                "-o",
                path,
            ]
        )
        print(f"trained {name} in {seconds:.0f} s", file=sys.stderr)
    config = read_config(path)
    return {
        "test_accuracy": config["test_accuracy"],
        "train_seconds": seconds,
        "parameters": config["n_parameters"],
        "widths": [b[0] for b in config["blocks"]],
    }


def _throughput(names: list[str], repeats: int = 3) -> dict:
    """Images per second of encode's forward passes (test split ×4 copies), best of ``repeats``."""
    import numpy as np
    import torch

    from invlatent.pipelines.images.data import load_data
    from invlatent.pipelines.images.models import limit_threads, load_model

    limit_threads()
    x = torch.from_numpy(np.repeat(load_data("mnist").part("test").x, 4, axis=0))
    nets = {n: load_model(os.path.join(WORK, f"{n}.pt"))[0] for n in names}
    best = {n: float("inf") for n in names}
    with torch.no_grad():
        for _ in range(repeats):
            for n, net in nets.items():  # interleaved, so both see the same machine load
                t0 = time.perf_counter()
                for i in range(0, len(x), 256):
                    net.encode(x[i : i + 256], net.default_layer)
                best[n] = min(best[n], time.perf_counter() - t0)
    return {n: {"images_per_s": round(len(x) / best[n], 1), "images": len(x)} for n in names}


def _check(name: str) -> dict:
    cmd = [*CLI, "check", os.path.join(WORK, f"{name}.pt"), "mnist", "--samples", "200", "--json"]
    data = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    )
    keep = ("measure", "layer", "action", "max_error_elements", "max_error_between")
    rows = {
        f"{r['kind']} {r['angle_deg']:g}{' f' if r['flip'] else ''}": r["relative_error"]
        for r in data["rows"]
    }
    return {**{k: data[k] for k in keep}, "mean_error": rows}


def _probe(names: list[str], tasks: list[str]) -> dict:
    """Probes (the file's train/test split) of raw and projected test latents, one per task."""
    out = {}
    for name in names:
        model = os.path.join(WORK, f"{name}.pt")
        z = os.path.join(WORK, f"z_{name}.st")
        with open(z, "wb") as f:
            _run([*CLI, "encode", model, "mnist", "--rotate", "random", "--seed", "1"], stdout=f)
        files = [z]
        methods = (
            []
            if name == "cnn"
            else ["pool-max", "pool-mean", "power", "bispectrum", "canonical", "random-max"]
        )
        for m in methods:
            proj = os.path.join(WORK, f"z_{name}_{m}.st")
            with open(proj, "wb") as f:
                _run([*CLI, "project", "--method", m, z], stdout=f)
            files.append(proj)
        out[name] = {}
        for task in tasks:
            res = subprocess.run(
                [*CLI, "probe", "--task", task, "--json", *files],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            out[name][task] = (
                {"error": res.stderr.strip()} if res.returncode else json.loads(res.stdout)
            )
    return out


def _table(result: dict) -> str:
    lines = [
        result["protocol"],
        "",
        f"{'model':6} {'params':>7} {'test acc':>9} {'train s':>8} {'img/s':>8} "
        f"{'max err (elements)':>19} {'max err (between)':>18}",
    ]
    for name, m in result["models"].items():
        secs = "-" if m["train_seconds"] is None else f"{m['train_seconds']:.0f}"
        lines.append(
            f"{name:6} {m['parameters']:7d} {m['test_accuracy']:9.4f} {secs:>8} "
            f"{result['throughput'][name]['images_per_s']:8.0f} "
            f"{m['check']['max_error_elements']:19.2e} {m['check']['max_error_between']:18.2e}"
        )
    lines += [
        "",
        "probe accuracy, fit on the 4,000 train latents, scored on the 1,000 test",
    ]
    for name, reps in result["probe"].items():
        for task, rep in reps.items():
            lines.append(f"{name} {task}: {json.dumps(_probe_summary(rep))}")
    return "\n".join(lines)


def _probe_summary(rep: dict) -> dict:
    if "error" in rep:
        return rep
    return {r["name"]: r["summary"]["accuracy"]["mean"] for r in rep["results"]}


if __name__ == "__main__":
    main()
