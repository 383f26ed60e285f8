"""Speed and memory of `invlatent project`, as ratios to baselines measured in the same run.

1. sn sort on QM9-sized latents (130,000 × 29 × 8 float32, random node counts 10..29) against
   one ``np.sort(z, axis=1)`` over the same array; the end-to-end command's wall time and peak
   memory (RSS of the child process) against the input file size.
2. Every c8 method on 100,000 × 32 fields: throughput and the ratio to pool-max.
3. ``invlatent project --help`` start time against bare Python, and whether torch got imported.

Run: ``flock /tmp/invlatent-heavy.lock .venv/bin/python bench/bench_project.py``
(writes bench/results/project.json).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _results import best, run_child, save

from invlatent.format import latentfile
from invlatent.format.latentfile import LatentFile
from invlatent.groups.action import Action
from invlatent.projections import methods_for, project_array

QM9 = (130_000, 29, 8)
C8 = (100_000, 32, 8)


def bench_sort(rng, folder: str) -> dict:
    """sn sort vs one np.sort, in process, then the command end to end."""
    z = rng.standard_normal(QM9, dtype=np.float32)
    mask = np.arange(QM9[1])[None, :] < rng.integers(10, QM9[1] + 1, QM9[0])[:, None]
    t_np = best(lambda: np.sort(z, axis=1))
    t_sort = best(lambda: project_array("sn", z, mask, method="sort"))
    t_plain = best(lambda: project_array("sn", z, method="sort"))
    src = os.path.join(folder, "qm9.st")
    latentfile.write(LatentFile(z=z, action=Action.parse("sn"), mask=mask), src)
    size = os.path.getsize(src)
    exe = [sys.executable, "-m", "invlatent", "project", src, "-m", "sort"]
    walls, peaks = zip(
        *(run_child([*exe, "-o", os.path.join(folder, "out.st")]) for _ in range(3)), strict=True
    )
    return {
        "shape": list(QM9),
        "np_sort_s": t_np,
        "sort_masked_s": t_sort,
        "sort_unmasked_s": t_plain,
        "ratio_masked_to_np_sort": t_sort / t_np,
        "ratio_unmasked_to_np_sort": t_plain / t_np,
        "command_wall_s": min(walls),
        "input_file_bytes": size,
        "command_peak_rss_bytes": min(peaks),
        "peak_rss_over_input": min(peaks) / size,
    }


def bench_c8(rng, folder: str) -> dict:
    """Every c8 method: seconds, rows per second, ratio to pool-max; peak RSS of the command."""
    z = rng.standard_normal(C8, dtype=np.float32)
    rows = {m: best(lambda m=m: project_array("c8", z, method=m)) for m in methods_for("c8")}
    src = os.path.join(folder, "c8.st")
    latentfile.write(LatentFile(z=z, action=Action.parse("c8")), src)
    size = os.path.getsize(src)
    out = {}
    for m, sec in rows.items():
        _, peak = run_child(
            [
                sys.executable,
                "-m",
                "invlatent",
                "project",
                src,
                "-m",
                m,
                "-o",
                os.path.join(folder, "o.st"),
            ]
        )
        out[m] = {
            "seconds": sec,
            "rows_per_s": C8[0] / sec,
            "ratio_to_pool_max": sec / rows["pool-max"],
            "command_peak_rss_over_input": peak / size,
        }
    return {"shape": list(C8), "input_file_bytes": size, "methods": out}


def bench_startup() -> dict:
    """`invlatent project --help` against bare Python; torch must not be imported."""

    def median(cmd):
        times = []
        for _ in range(7):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    base = median([sys.executable, "-c", "pass"])
    helps = median([sys.executable, "-m", "invlatent", "project", "--help"])
    probe = (
        "import sys, runpy; sys.argv = ['invlatent', 'project', '--help']\n"
        "try: runpy.run_module('invlatent', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print('torch' in sys.modules)"
    )
    torch = (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    return {
        "python_s": base,
        "project_help_s": helps,
        "ratio": helps / base,
        "torch_imported": torch == "True",
    }


def report(result: dict) -> None:
    """Print the measured figures as tables."""
    s = result["sort_qm9"]
    print(
        f"sn sort on {QM9}: np.sort {s['np_sort_s']:.3f} s, sort {s['sort_masked_s']:.3f} s "
        f"masked ({s['ratio_masked_to_np_sort']:.2f}×), {s['sort_unmasked_s']:.3f} s unmasked "
        f"({s['ratio_unmasked_to_np_sort']:.2f}×)"
    )
    mib, size = s["command_peak_rss_bytes"] / 2**20, s["input_file_bytes"] / 2**20
    print(
        f"  command: {s['command_wall_s']:.2f} s wall, peak RSS {mib:.0f} MiB "
        f"= {s['peak_rss_over_input']:.2f}× the {size:.0f} MiB input"
    )
    print(f"\nc8 on {C8}:")
    print(f"{'method':<14} {'seconds':>8} {'rows/s':>10} {'× pool-max':>10} {'peak/input':>10}")
    for m, r in result["c8"]["methods"].items():
        print(
            f"{m:<14} {r['seconds']:8.3f} {r['rows_per_s']:10.0f} {r['ratio_to_pool_max']:10.2f} "
            f"{r['command_peak_rss_over_input']:10.2f}"
        )
    st = result["startup"]
    print(
        f"\nproject --help: {st['project_help_s']:.3f} s (python -c pass {st['python_s']:.3f} s), "
        f"torch imported: {st['torch_imported']}"
    )


def main() -> None:
    """Run everything, print the tables and write bench/results/project.json."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        result = {
            "sort_qm9": bench_sort(rng, folder),
            "c8": bench_c8(rng, folder),
            "startup": bench_startup(),
        }
    report(result)
    save("project", result)


if __name__ == "__main__":
    main()
