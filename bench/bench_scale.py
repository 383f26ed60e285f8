"""Scale: `project` on a latent file larger than memory, and DDP training under torchrun.

1. A c8 latent file of ``--size-gb`` (default 30 GB, more than this machine's 24 GB of memory)
   is written block by block: z [B, 16, 8] float32. Its page-cache pages are dropped
   (``posix_fadvise DONTNEED``) before every timed pass, so each pass reads from the disk.
   Measured in one run: the disk's sequential read speed (16 MB reads, nothing else), a plain
   numpy pass that reads the file in 64 MB chunks and takes the max over the group axis (the
   reference), and `invlatent project -m pool-max -o FILE` (wall time, peak RSS, GB/s, ratio to
   the reference; target ≤ 2× and peak < 1 GB). Then `bispectrum` (output 1.86× the input,
   streamed to /dev/null), and `sort` on the same bytes read as an sn file (the header is
   rewritten in place: 16 nodes × 8 channels; output to /dev/null). Every file is deleted at
   the end.
2. The C8 group CNN on rotated MNIST for ``--epochs``: one process against
   ``torchrun --nproc-per-node 2``, seeds 0..2 each, interleaved, both with an
   effective batch of 64 (32 per process under torchrun: the same number of optimiser steps):
   training samples per second from the epoch times, and the 2-process mean test accuracy
   against the 1-process seed spread. ``--skip-files`` keeps the file results already saved.

Run (the 30 GB size once, on a quiet machine):
``flock /tmp/invlatent-heavy.lock nice -n 10 .venv/bin/python bench/bench_scale.py``;
small: ``.venv/bin/python bench/bench_scale.py --size-gb 1 --epochs 1 --seeds 1``
(writes bench/results/scale.json, or scale_small.json below 24 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
from _results import save

from invlatent.format import safetensors_io as sio
from invlatent.format.checkpoint import read_config

FIELDS, N = 16, 8
BATCH = 64  # effective batch of every training run: 64 // N per process under torchrun
BLOCK = 64 << 20
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# A small launcher measures its child: ru_maxrss survives exec, so a child forked straight from
# this process would report this process's memory.
LAUNCH = (
    "import os, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "out = open(os.devnull, 'wb') if sys.argv[1] == '-' else None\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=out or subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(time.perf_counter() - t, usage.ru_maxrss * 1024, status)"
)


def make_file(path: str, size_gb: float, action: str = "c8") -> int:
    """Write z [B, 16, 8] float32 of about ``size_gb`` GB block by block; returns B."""
    row = FIELDS * N * 4
    rows = int(size_gb * 1e9) // row
    head, _ = sio.header_bytes({"z": (np.float32, (rows, FIELDS, N))}, _meta(action))
    base = np.random.default_rng(0).standard_normal(BLOCK // 4, dtype=np.float32)
    with open(path, "wb") as f:
        f.write(head)
        left, i = rows * row, 0
        while left:
            block = (base + np.float32(i % 97) * 1e-3).tobytes()[: min(BLOCK, left)]
            f.write(block)
            left, i = left - len(block), i + 1
    return rows


def rewrite_action(path: str, rows: int, action: str) -> None:
    """Change the file's action in place (same header length: ``c8`` → ``sn``)."""
    head, _ = sio.header_bytes({"z": (np.float32, (rows, FIELDS, N))}, _meta(action))
    with open(path, "r+b") as f:
        assert f.read(len(head))[:8] == head[:8], "header length changed"
        f.seek(0)
        f.write(head)


def _meta(action: str) -> dict:
    return {"format": "invlatent/1", "action": action, "history": "[]"}


def drop_cache(path: str) -> None:
    """Evict the file's pages from the page cache, so the next pass reads the disk."""
    with open(path, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def disk_read(path: str) -> float:
    """Seconds to read the file sequentially in 16 MB reads."""
    drop_cache(path)
    buf = bytearray(16 << 20)
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - t


def numpy_max(path: str) -> float:
    """Seconds for the reference: read z in 64 MB chunks, max over the group axis."""
    drop_cache(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header = sio.read_header(f, size)
    start = header.data_offset
    row = FIELDS * N * 4
    rows = max(1, BLOCK // row)
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        while chunk := f.read(rows * row):
            np.frombuffer(chunk, np.float32).reshape(-1, FIELDS, N).max(axis=2)
    return time.perf_counter() - t


def run_child(cmd: list[str], to_null: bool = False) -> tuple[float, float]:
    """Wall seconds and peak RSS in bytes of one command."""
    launch = [sys.executable, "-c", LAUNCH, "-" if to_null else "file", *cmd]
    res = subprocess.run(launch, capture_output=True, text=True, env=ENV)
    wall, peak, status = res.stdout.split()
    if status != "0":
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr}")
    return float(wall), float(peak)


def project(path: str, method: str, out: str | None) -> dict:
    """Wall time, peak RSS and GB/s of one `invlatent project` (page cache dropped first)."""
    drop_cache(path)
    cmd = [sys.executable, "-m", "invlatent", "project", "-m", method, path]
    wall, peak = run_child(cmd + (["-o", out] if out else []), to_null=out is None)
    if out:
        os.remove(out)
    gb = os.path.getsize(path) / 1e9
    return {"seconds": wall, "peak_rss_mb": peak / 2**20, "gb_per_s": gb / wall}


def files_part(size_gb: float, folder: str) -> dict:
    path = os.path.join(folder, "big_c8.st")
    t = time.perf_counter()
    rows = make_file(path, size_gb)
    made = time.perf_counter() - t
    gb = os.path.getsize(path) / 1e9
    try:
        disk, ref = disk_read(path), numpy_max(path)
        res = {
            "file_gb": gb,
            "rows": rows,
            "write_seconds": made,
            "disk_read_gb_per_s": gb / disk,
            "numpy_max_seconds": ref,
            "numpy_max_gb_per_s": gb / ref,
            "pool-max": project(path, "pool-max", os.path.join(folder, "pool.st")),
            "bispectrum (to /dev/null)": project(path, "bispectrum", None),
        }
        res["pool-max"]["ratio_to_numpy"] = res["pool-max"]["seconds"] / ref
        rewrite_action(path, rows, "sn")
        res["sort on sn (to /dev/null)"] = project(path, "sort", None)
    finally:
        os.remove(path)
    return res


def train(tmp: str, procs: int, seed: int, epochs: int) -> dict:
    """One C8 group-CNN training run; samples/s from its epoch times, test accuracy."""
    out = os.path.join(tmp, f"m{procs}_{seed}.pt")
    args = ["train", "gcnn", "--group", "c8", "--data", "mnist", "--epochs", str(epochs),
            "--seed", str(seed), "--batch-size", str(BATCH // procs), "-o", out]  # fmt: skip
    if procs == 1:
        cmd = [sys.executable, "-m", "invlatent", *args]
    else:
        torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
        cmd = [torchrun, "--standalone", f"--nproc-per-node={procs}", "-m", "invlatent", *args]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"training failed: {res.stderr[-2000:]}")
    secs = [float(s) for s in re.findall(r"\(([\d.]+) s\)", res.stderr)]
    config = read_config(out)
    n_train = config["data"]["split_counts"]["train"]
    return {
        "processes": procs,
        "seed": seed,
        "wall_seconds": wall,
        "epoch_seconds": secs,
        "samples_per_s": epochs * n_train / sum(secs),
        "test_accuracy": config["test_accuracy"],
    }


def ddp_part(epochs: int, seeds: int, tmp: str) -> dict:
    """Seeds 0..seeds-1 with one process and with two, interleaved (the same machine load)."""
    runs = [train(tmp, p, s, epochs) for s in range(seeds) for p in (1, 2)]
    singles = [r for r in runs if r["processes"] == 1]
    doubles = [r for r in runs if r["processes"] == 2]
    accs = [r["test_accuracy"] for r in singles]
    mean = lambda rs, k: float(np.mean([r[k] for r in rs]))  # noqa: E731
    return {
        "epochs": epochs,
        "one_process": singles,
        "two_processes": doubles,
        "speedup": mean(doubles, "samples_per_s") / mean(singles, "samples_per_s"),
        "single_accuracy_range": [min(accs), max(accs)],
        "two_process_accuracy_mean": mean(doubles, "test_accuracy"),
        "single_accuracy_mean": mean(singles, "test_accuracy"),
        "two_process_mean_within_spread": min(accs) <= mean(doubles, "test_accuracy") <= max(accs),
        "load_average_1min": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gb", type=float, default=30.0)
    ap.add_argument("--dir", default=os.path.join("out", "scale"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--skip-files", action="store_true")
    ap.add_argument("--skip-ddp", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    free = shutil.disk_usage(a.dir).free / 1e9
    if not a.skip_files and free < 1.2 * a.size_gb + 1:
        raise SystemExit(f"{a.dir}: {free:.0f} GB free, need {1.2 * a.size_gb + 1:.0f} GB")
    name = "scale" if a.size_gb >= 24 else "scale_small"
    result = {"size_gb": a.size_gb}
    previous = os.path.join("bench", "results", f"{name}.json")
    if a.skip_files and os.path.exists(previous):
        with open(previous) as f:
            result = {k: v for k, v in json.load(f).items() if k in ("size_gb", "files")}
    if not a.skip_files:
        result["files"] = files_part(a.size_gb, a.dir)
        _print_files(result["files"])
        save(name, result)
    if not a.skip_ddp:
        result["ddp"] = ddp_part(a.epochs, a.seeds, a.dir)
        _print_ddp(result["ddp"])
    print(f"wrote {save(name, result)}", flush=True)


def _print_files(r: dict) -> None:
    print(
        f"c8 file {r['file_gb']:.1f} GB, {r['rows']:,} rows (written in {r['write_seconds']:.0f} s)"
    )
    print(f"  disk read            {r['disk_read_gb_per_s']:6.2f} GB/s")
    ref = f"{r['numpy_max_gb_per_s']:6.2f} GB/s  {r['numpy_max_seconds']:7.1f} s"
    print(f"  numpy chunked max    {ref}  (reference)")
    for name in ("pool-max", "bispectrum (to /dev/null)", "sort on sn (to /dev/null)"):
        m = r[name]
        ratio = f"  {m['ratio_to_numpy']:.2f}x reference" if "ratio_to_numpy" in m else ""
        print(f"  {name:<26} {m['gb_per_s']:6.2f} GB/s  {m['seconds']:7.1f} s  "
              f"peak {m['peak_rss_mb']:6.0f} MB{ratio}")  # fmt: skip


def _print_ddp(r: dict) -> None:
    print(f"C8 group CNN, rotated MNIST, {r['epochs']} epochs")
    for run in [*r["one_process"], *r["two_processes"]]:
        print(f"  {run['processes']} process(es) seed {run['seed']}: {run['samples_per_s']:7.0f} "
              f"samples/s  test accuracy {run['test_accuracy']:.4f}")  # fmt: skip
    lo, hi = r["single_accuracy_range"]
    print(f"  speedup {r['speedup']:.2f}x (load average {r['load_average_1min']:.1f} on "
          f"{os.cpu_count()} cores); 1-process accuracy {r['single_accuracy_mean']:.4f} "
          f"({lo:.4f}..{hi:.4f}), 2 processes {r['two_process_accuracy_mean']:.4f}: within "
          f"the spread: {r['two_process_mean_within_spread']}")  # fmt: skip


if __name__ == "__main__":
    main()
