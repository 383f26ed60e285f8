"""What MACE users throw away, measured: MACE's invariant-only mean descriptors against
invlatent's invariants of the full equivariant descriptors, on held-out QM9 molecules in random
O(3) poses and atom orders.

Three steps, in two environments (mace-torch pins e3nn 0.4.4; pin torch==2.13.0 in both):

    python3 -m venv /tmp/mace && /tmp/mace/bin/pip install torch==2.13.0 mace-torch
    .venv/bin/python examples/mace_descriptors.py data out/mace      # QM9 subset -> extxyz
    /tmp/mace/bin/python examples/mace_descriptors.py train out/mace 16   # MACE on u0, minutes
    .venv/bin/python examples/mace_descriptors.py evaluate out/mace  # probes, 3 pose seeds

``data`` writes a seeded stratified QM9 sample (``--limit``): its train-split molecules for
training MACE, its val+test molecules (never seen in training) for the probes. ``train``
fits a small MACE to U0 (E0s from a least-squares fit on element counts), then saves it through
``examples/mace_encoder.py`` (TorchScript, ``node_feats`` of every interaction) with its irreps
string read from the model. ``evaluate`` encodes the held-out molecules three times (seeds
0, 1, 2: a Haar-random O(3) element and a random atom order per molecule), builds

- (a) MACE's invariant-only descriptors, mean-pooled per structure (the ``0e`` columns of
  ``node_feats``, as ``get_descriptors(invariants_only=True)`` and ``eval_configs
  --descriptor_aggregation_method mean`` give them),
- (b) invlatent's invariants of the full descriptors: ``norm``, ``power``, ``norm-sum``,
  ``bispectrum`` (per-node invariants, nodes sorted: one fixed-shape vector per molecule),
- two controls: (a') the ``0e`` columns with the nodes sorted (invlatent's ``sn`` ``sort``)
  instead of averaged, (b') the ``0e`` columns beside the norms of the ``l > 0`` channels,
  averaged over atoms (what a MACE user could add without invlatent),

and probes each with ridge and kNN (5-fold CV, R² per target), reporting the mean over the
three seeds with the probe's 95 % interval of seed 0 and the spread over seeds, as a Markdown
table and JSON (``out/mace/results.json``).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

TARGETS = ("u0", "mu", "alpha", "homo", "lumo", "gap", "r2", "cv")
METHODS = ("norm", "power", "norm-sum", "bispectrum")
ELEMENTS = (1, 6, 7, 8, 9)


def data(out: str, limit: int = 3000) -> None:
    """A stratified QM9 sample as two extxyz files: MACE's training set and the probe set."""
    import ase.io
    from ase import Atoms

    from invlatent.pipelines.mol3d.data import load_geometries

    geo = load_geometries("qm9", limit=limit)
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train", geo.split == 0), ("heldout", geo.split != 0)):
        frames = []
        for r in np.flatnonzero(rows):
            m = geo.mask[r]
            atoms = Atoms(numbers=geo.species[r, m], positions=geo.pos[r, m])
            atoms.info.update({k: float(geo.targets[r, j]) for j, k in enumerate(geo.target_names)})
            atoms.info["qm9_id"] = int(geo.ids[r])
            frames.append(atoms)
        ase.io.write(os.path.join(out, f"{name}.extxyz"), frames, format="extxyz")
        print(f"{name}: {len(frames)} molecules", file=sys.stderr)


def _batch(frames, index: dict, r_max: float):
    """MACE's input dict for a list of ASE frames (all ordered pairs within r_max, no cell)."""
    import torch

    pos, attrs, edges, batch, ptr, start = [], [], [], [], [0], 0
    for g, atoms in enumerate(frames):
        p = torch.tensor(atoms.positions, dtype=torch.float32)
        d = torch.linalg.vector_norm(p[None] - p[:, None], dim=-1)
        edges.append(((d > 0) & (d < r_max)).nonzero().t() + start)
        onehot = torch.zeros(len(atoms), len(index))
        onehot[torch.arange(len(atoms)), [index[z] for z in atoms.numbers]] = 1.0
        pos.append(p)
        attrs.append(onehot)
        batch.append(torch.full((len(atoms),), g, dtype=torch.long))
        start += len(atoms)
        ptr.append(start)
    edge_index = torch.cat(edges, 1)
    return {
        "positions": torch.cat(pos),
        "node_attrs": torch.cat(attrs),
        "edge_index": edge_index,
        "shifts": torch.zeros(edge_index.shape[1], 3),
        "unit_shifts": torch.zeros(edge_index.shape[1], 3),
        "cell": torch.zeros(3 * len(frames), 3),
        "batch": torch.cat(batch),
        "ptr": torch.tensor(ptr),
    }


def train(out: str, minutes: float = 8.0, batch_size: int = 16, seed: int = 0) -> None:
    """Fit a small MACE to U0 for ``minutes`` of wall time; save the encoder and its irreps."""
    import ase.io
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mace_encoder

    torch.set_num_threads(1)
    frames = ase.io.read(os.path.join(out, "train.extxyz"), index=":")
    energy = np.array([a.info["u0"] for a in frames])
    counts = np.array([[np.sum(a.numbers == z) for z in ELEMENTS] for a in frames], float)
    e0, *_ = np.linalg.lstsq(counts, energy, rcond=None)
    scale = float(np.std(energy - counts @ e0))
    model = mace_encoder.small_mace(elements=ELEMENTS, seed=seed)
    model.atomic_energies_fn.atomic_energies.copy_(torch.tensor(e0 / scale).reshape_as(
        model.atomic_energies_fn.atomic_energies))  # fmt: skip
    model = model.float()
    index = {z: i for i, z in enumerate(ELEMENTS)}
    target = torch.tensor(energy / scale, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(seed)
    t0, step, log = time.time(), 0, []
    while time.time() - t0 < 60 * minutes:
        order = rng.permutation(len(frames))
        for i in range(0, len(order) - batch_size + 1, batch_size):
            rows = order[i : i + batch_size]
            pred = model(_batch([frames[r] for r in rows], index, 5.0), training=True,
                         compute_force=False)["energy"]  # fmt: skip
            loss = torch.mean((pred - target[rows]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 50 == 0:
                mae = float(torch.mean(torch.abs(pred - target[rows]))) * scale
                log.append({"step": step, "seconds": round(time.time() - t0), "mae_ha": mae})
                print(f"step {step} {time.time() - t0:.0f} s batch MAE {mae * 1000:.1f} mHa",
                      file=sys.stderr)  # fmt: skip
            if time.time() - t0 > 60 * minutes:
                break
    group = mace_encoder.save(model, os.path.join(out, "mace.pt"))
    info = {"group": group, "steps": step, "batch_size": batch_size, "minutes": minutes,
            "train_molecules": len(frames), "log": log}  # fmt: skip
    with open(os.path.join(out, "train.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f'--group "{group}"', file=sys.stderr)


def _features(lf) -> dict:
    """(a) MACE's invariant-only mean descriptors, (b) invlatent's projections of ``lf``, and two
    controls that separate pooling from the l > 0 channels: (a') the same ``0e`` columns with
    the nodes sorted instead of averaged, (b') the ``0e`` columns and the norms of every
    ``l > 0`` channel, averaged over atoms."""
    import invlatent
    from invlatent.groups.irreps import Irreps

    irreps = Irreps(str(lf.action).split(":", 1)[1])
    b, n, _ = lf.z.shape
    scalars, norms = [], []
    for mul, deg, parity, cols in irreps.blocks():
        block = lf.z[..., cols].reshape(b, n, mul, 2 * deg + 1)
        if deg == 0 and parity == 1:
            scalars.append(block[..., 0])
        else:
            norms.append(np.linalg.norm(block, axis=-1))
    m = lf.mask[..., None]
    node0e = np.concatenate(scalars, -1)
    feats = {
        "MACE invariants, mean (a)": (node0e * m).sum(1) / m.sum(1),
        "MACE invariants, nodes sorted (a')": invlatent.project(node0e, "sn", "sort", mask=lf.mask),
        "0e + l>0 norms, mean (b')": (np.concatenate([node0e, *norms], -1) * m).sum(1) / m.sum(1),
    }
    for method in METHODS:
        feats[f"{method} (b)"] = invlatent.project(lf.z, lf.action, method, mask=lf.mask)
    return feats


def evaluate(out: str, seeds=(0, 1, 2)) -> None:
    """Probe (a) and (b) with ridge and kNN on the held-out molecules in random poses."""
    import warnings

    from invlatent.analysis.probe import run_probe
    from invlatent.format.latentfile import LatentFile
    from invlatent.groups.action import Action
    from invlatent.pipelines.mol3d.encode import encode_foreign

    warnings.filterwarnings("ignore", message="An ill-conditioned matrix")  # ridge on few rows
    with open(os.path.join(out, "train.json")) as f:
        group = json.load(f)["group"]
    results: dict = {}
    for seed in seeds:
        lf = encode_foreign(os.path.join(out, "mace.pt"), os.path.join(out, "heldout.extxyz"),
                            group=group, rotate="o3", permute="random", seed=seed)  # fmt: skip
        cols = [lf.target_names.index(t) for t in TARGETS]
        for name, x in _features(lf).items():
            feat = LatentFile(z=np.ascontiguousarray(x, np.float32), action=Action.parse("trivial"),
                              targets=lf.targets[:, cols], target_names=list(TARGETS))  # fmt: skip
            for task, opts in (("ridge", {}), ("knn", {"metric": "euclidean"})):
                rep = run_probe([feat], task=task, target=list(TARGETS), folds=5, seed=seed,
                                **opts)  # fmt: skip
                per = rep["results"][0]["summary"]["targets"]
                for t in TARGETS:
                    cell = results.setdefault(task, {}).setdefault(name, {}).setdefault(t, [])
                    cell.append({"r2": per[t]["r2"]["mean"], "ci95": per[t]["r2"].get("ci95")})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"group": group, "seeds": list(seeds), "results": results}, f, indent=1)
    print(render(results))


def render(results: dict) -> str:
    """Markdown tables: mean R² over seeds, ± half the spread over seeds, [95 % CI of seed 0]."""
    lines = []
    for task, rows in results.items():
        lines += [f"\n{task} R² (mean over seeds ± half the range; [95 % CI, seed 0])\n",
                  "| features | " + " | ".join(TARGETS) + " |",
                  "|---|" + "---|" * len(TARGETS)]  # fmt: skip
        for name, per in rows.items():
            cells = []
            for t in TARGETS:
                r2 = np.array([c["r2"] for c in per[t]])
                lo, hi = per[t][0]["ci95"] or (np.nan, np.nan)
                cells.append(f"{r2.mean():.3f} ± {np.ptp(r2) / 2:.3f} [{lo:.2f}, {hi:.2f}]")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    step, folder = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "out/mace"
    if step == "train" and len(sys.argv) > 3:
        train(folder, minutes=float(sys.argv[3]))  # train DIR MINUTES
    else:
        {"data": data, "train": train, "evaluate": evaluate}[step](folder)
