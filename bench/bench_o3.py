"""O(3) irreps: speed, memory and invariance of every projection, ratios in one run.

1. ``sn*o3:16x0e+8x1o+4x2e``, ROWS × 9 nodes, masked (3..9 real nodes): every method end to end
   (``invlatent project FILE -m METHOD -o OUT``): wall time, rows/s, ratio to ``norm``, peak RSS
   of the command over the input file's size. Targets: none slower than 20× norm, bispectrum
   under 60 s, peak at most 3× the input.
2. Invariance error of every method (float32, Haar-random rotations with inversions, and node
   permutations) on 2,000 rows of ``sn*o3`` and of ``o3`` (target for exact methods: 1e-5).
3. Quotient distances: milliseconds per pair for ``o3`` and ``sn*o3``, and which kind.
4. ``invlatent project --help`` start time, and whether torch got imported.
5. Bispectrum completeness: the rank of its Jacobian at a generic z against D − 3 (locally
   injective on orbits when equal), for the irreps docs/o3.md lists, under o3 and so3; and the
   invariance error of ``canonical`` on exactly collinear rows of ``so3:2x1o`` (a degenerate
   frame that stays invariant because the rows are symmetric).

Run: ``nice -n 10 .venv/bin/python bench/bench_o3.py [ROWS]`` (default 130,000; writes
bench/results/o3.json).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
from _results import save
from bench_project import bench_startup, run_child

from invlatent import groups
from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile
from invlatent.groups import quotient_o3
from invlatent.groups.action import Action
from invlatent.projections import methods_for, project_array
from invlatent.projections._o3 import bispectrum_features

NODES = "sn*o3:16x0e+8x1o+4x2e"
VECTORS = "o3:16x0e+8x1o+4x2e"


def make_file(rng, rows: int, folder: str) -> tuple[str, int]:
    """A masked sn*o3 latent file of ``rows`` × 9 nodes; its path and size."""
    z = rng.standard_normal((rows, 9, 60), dtype=np.float32)
    mask = np.arange(9)[None, :] < rng.integers(3, 10, rows)[:, None]
    path = os.path.join(folder, "nodes.st")
    latentfile.write(LatentFile(z=z, action=Action.parse(NODES), mask=mask), path)
    return path, os.path.getsize(path)


def bench_commands(path: str, size: int, rows: int, folder: str) -> dict:
    """Every sn*o3 method end to end: seconds, rows/s, ratio to norm, peak RSS / input."""
    out = {}
    for m in methods_for(NODES):
        cmd = [sys.executable, "-m", "invlatent", "project", path, "-m", m, "-o"]
        wall, peak = run_child([*cmd, os.path.join(folder, "out.st")])
        out[m] = {"seconds": wall, "rows_per_s": rows / wall, "peak_over_input": peak / size}
    for r in out.values():
        r["ratio_to_norm"] = r["seconds"] / out["norm"]["seconds"]
    return out


def invariance(group: str, rng, rows: int = 2000) -> dict:
    """max_row ||π(g·z) − π(z)|| / mean ||π(z)|| per method, float32 input."""
    action = Action.parse(group)
    shape = (rows, 9, 60) if action.nodes else (rows, 60)
    z = rng.standard_normal(shape, dtype=np.float32)
    mask = (np.arange(9)[None, :] < rng.integers(3, 10, rows)[:, None]) if action.nodes else None
    gz, gm = groups.act(action, z, groups.sample(action, rows, rng, 9), mask)
    gz = gz.astype(np.float32)
    out = {}
    for m in methods_for(group):
        n = 64 if m == "random-max" else rows  # random-max: a search over SO(3) per template
        t = time.perf_counter()
        p = project_array(action, z[:n], None if mask is None else mask[:n], method=m)
        sec = time.perf_counter() - t
        pg = project_array(action, gz[:n], None if gm is None else gm[:n], method=m)
        err = np.linalg.norm(pg - p, axis=1).max() / np.linalg.norm(p, axis=1).mean()
        out[m] = {"invariance_error": float(err), "rows": n, "ms_per_row": 1e3 * sec / n}
    return out


def quotient_cost(rng, pairs: int = 300) -> dict:
    """Milliseconds per pair of the quotient distance, and whether it is exact."""
    out = {}
    for group in (VECTORS, NODES, "o3:4x0e+4x1o+2x1e"):
        action = Action.parse(group)
        shape = (pairs, 9, action.irreps.dim) if action.nodes else (pairs, action.irreps.dim)
        z1, z2 = rng.standard_normal((2, *shape))
        t = time.perf_counter()
        quotient_o3.align(action, z1, z2)
        ms = 1e3 * (time.perf_counter() - t) / pairs
        out[group] = {"ms_per_pair": ms, "method": quotient_o3.method(action)}
    return out


COMPLETENESS = ["16x0e+8x1o+4x2e", "2x0e+2x1o+2x2e", "8x1o+4x2e+2x3o", "2x1o+2x2e+2x3o",
                "2x1e+2x2e", "3x1o", "2x2e", "1x1o+1x2e", "2x1o+2x3e", "2x1o+2x2o"]  # fmt: skip


def jacobian_rank(action: Action, z: np.ndarray, eps: float = 1e-6) -> int:
    """Numerical rank of the bispectrum's Jacobian at z (central differences, float64)."""
    cols = [
        bispectrum_features(action, z + eps * e) - bispectrum_features(action, z - eps * e)
        for e in np.eye(len(z))
    ]
    s = np.linalg.svd(np.stack(cols, axis=1) / (2 * eps), compute_uv=False)
    return int((s > 1e-6 * s[0]).sum())


def completeness(rng) -> dict:
    """Per group: the bispectrum's Jacobian rank at a generic z and the D − 3 it reaches when
    locally injective on orbits; and canonical on collinear so3:2x1o rows."""
    out = {}
    for kind in ("o3", "so3"):
        for text in COMPLETENESS:
            action = Action.parse(f"{kind}:{text}")
            rank = jacobian_rank(action, rng.standard_normal(action.irreps.dim))
            out[str(action)] = {"rank": rank, "d_minus_3": action.irreps.dim - 3}
    v = rng.standard_normal((10, 3))
    collinear = np.concatenate([v, 2 * v], axis=1).astype(np.float32)
    out["collinear_so3_2x1o_canonical"] = invariance_error("so3:2x1o", collinear, "canonical", rng)
    return out


def invariance_error(group: str, z: np.ndarray, method: str, rng) -> float:
    """max_row ||π(g·z) − π(z)|| / mean ||π(z)|| for one Haar-random g per row."""
    gz = groups.act(group, z, groups.sample(group, len(z), rng))[0].astype(np.float32)
    p, pg = (project_array(group, x, method=method) for x in (z, gz))
    return float(np.linalg.norm(pg - p, axis=1).max() / np.linalg.norm(p, axis=1).mean())


def report(result: dict) -> None:
    """Print the tables."""
    rows, mib = result["rows"], result["input_file_bytes"] / 2**20
    print(f"{NODES}, {rows} × 9 nodes masked, input {mib:.0f} MiB, `invlatent project` end to end:")
    print(f"{'method':<12} {'seconds':>8} {'rows/s':>9} {'× norm':>7} {'peak/input':>10}")
    for m, r in result["commands"].items():
        print(
            f"{m:<12} {r['seconds']:8.1f} {r['rows_per_s']:9.0f} {r['ratio_to_norm']:7.2f} "
            f"{r['peak_over_input']:10.2f}"
        )
    for group, table in result["invariance"].items():
        print(f"\ninvariance, {group} (float32, Haar rotations + inversions):")
        for m, r in table.items():
            print(
                f"{m:<12} {r['invariance_error']:10.2e}  ({r['rows']} rows, "
                f"{r['ms_per_row']:.3f} ms/row)"
            )
    print("\nquotient distances:")
    for group, r in result["quotient"].items():
        print(f"{group:<26} {r['ms_per_pair']:8.2f} ms/pair  {r['method']}")
    print("\nbispectrum Jacobian rank at a generic z (D − 3: locally injective on orbits):")
    comp = dict(result["completeness"])
    collinear = comp.pop("collinear_so3_2x1o_canonical")
    for group, r in comp.items():
        print(f"{group:<26} {r['rank']:4d} of {r['d_minus_3']:3d}")
    print(f"canonical on 10 collinear so3:2x1o rows: invariance error {collinear:.1e}")
    st = result["startup"]
    print(
        f"\nproject --help: {st['project_help_s']:.3f} s (python -c pass {st['python_s']:.3f} s), "
        f"torch imported: {st['torch_imported']}"
    )


def main() -> None:
    """Run everything, print the tables and write bench/results/o3.json."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 130_000
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir="out" if os.path.isdir("out") else None) as folder:
        path, size = make_file(rng, rows, folder)
        commands = bench_commands(path, size, rows, folder)
    result = {
        "rows": rows,
        "input_file_bytes": size,
        "commands": commands,
        "invariance": {g: invariance(g, rng) for g in (NODES, VECTORS)},
        "quotient": quotient_cost(rng),
        "completeness": completeness(rng),
        "startup": bench_startup(),
    }
    report(result)
    save("o3" if rows == 130_000 else f"o3_{rows}", result)


if __name__ == "__main__":
    main()
