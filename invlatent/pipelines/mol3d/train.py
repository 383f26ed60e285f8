"""Training a 3-D network on geometries: standardised targets, seeded batches, a cosine schedule
that can follow a time budget, validation MAE per epoch, test MAE at the end, a checkpoint.

Under ``torchrun`` each process trains on its DistributedSampler share of every epoch, DDP averages
the gradients, the time budget is measured as the slowest rank's, and rank 0 alone validates and
logs (see :mod:`invlatent.ranks`); one process runs exactly the plain loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from invlatent import ranks
from invlatent.errors import InvlatentError
from invlatent.pipelines.mol3d.data import load_geometries
from invlatent.pipelines.mol3d.defaults import (
    ARCHITECTURES,
    EXTENSIVE,
    MODEL_DEFAULTS,
    TRAIN_DEFAULTS,
)
from invlatent.pipelines.mol3d.geometries import QM9_SPECIES, Geometries
from invlatent.pipelines.mol3d.poses import random_rotations
from invlatent.pipelines.training import Clock, Ema, cosine, seeded
from invlatent.reporting import say

LR_WARM_FLOOR = (0.03, 0.01)  # the cosine schedule's warm-up share and final factor


def train_mol3d(
    data: str,
    *,
    arch: str = "e3nn",
    seed: int = 0,
    log: Callable[[str], None] = say,
    model_opts: dict | None = None,
    **options,
) -> tuple[dict, dict]:
    """Train on the train split of ``data``; returns (numpy state dict, checkpoint config)."""
    import torch

    from invlatent.pipelines.mol3d.models import build_model

    if arch not in ARCHITECTURES:
        raise InvlatentError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    opts = {**TRAIN_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    opts["augment"] = arch == "plain" if opts["augment"] is None else bool(opts["augment"])
    ctx = ranks.init("cpu")
    log = log if ctx.is_main else _quiet
    torch.set_num_threads(int(opts["threads"]))
    with seeded(seed):
        geo = load_geometries(data, opts["limit"])
        names = _target_names(geo, opts["targets"], data)
        train, val, test = (geo.part(s) for s in ("train", "val", "test"))
        if len(train) == 0:
            raise InvlatentError(f"{data}: the train split is empty (use more molecules)")
        log(
            f"mol3d {arch}: {len(train)} train / {len(val)} val / {len(test)} test molecules, "
            f"targets {','.join(names)}; unreadable rows {dict(geo.rejected)}"
        )
        cfg = _model_config(arch, train, _species(geo), names, model_opts or {})
        norm = fit_standardisation(train, names, cfg["species"])
        net = build_model(cfg)
        history = _fit(net, train, val, norm, opts, seed, log, ctx)
        test_mae = mae(net, test, norm) if len(test) and ctx.is_main else {}
        if test_mae:
            log("test MAE  " + _mae_text(test_mae, geo, names))
        state = {k: v.detach().cpu().contiguous().numpy() for k, v in net.state_dict().items()}
        splits = {"train": len(train), "val": len(val), "test": len(test)}
        config = _checkpoint_config(net, geo, names, norm, splits, opts, seed, history, test_mae)
        if ctx.active:
            config["train"]["processes"] = ctx.world
        return state, config


def _quiet(message: str) -> None:
    """The log of ranks other than 0 under torchrun: nothing."""


def _checkpoint_config(net, geo, names, norm, splits, opts, seed, history, test_mae) -> dict:
    """Everything needed to rebuild the model and to know how it was made."""
    return {
        "family": "mol3d",
        "architecture": net.cfg["arch"],
        "model": net.cfg,
        "standardise": norm,
        "data": {
            "source": geo.source,
            "molecules": len(geo),
            "unreadable": dict(geo.rejected),
            **splits,
        },
        "target_units": [geo.target_units[geo.target_names.index(n)] for n in names],
        "train": {**opts, "seed": seed},
        "history": history,
        "test_mae": test_mae,
        "parameters": int(sum(p.numel() for p in net.parameters())),
    }


def _target_names(geo: Geometries, spec: str, data: str) -> list[str]:
    names = [t.strip() for t in spec.split(",") if t.strip()]
    if geo.targets is None or not names:
        raise InvlatentError(f"{data}: no targets to train on (targets in the data: none)")
    missing = [n for n in names if n not in geo.target_names]
    if missing:
        raise InvlatentError(
            f"targets {','.join(missing)}: not in {data} (has {','.join(geo.target_names)})"
        )
    return names


def _species(geo: Geometries) -> list[int]:
    """Elements the model embeds: all of QM9's for qm9, else those in any split of the data."""
    found = {int(z) for z in np.unique(geo.species[geo.mask])}
    return sorted(found | (set(QM9_SPECIES) if geo.source == "qm9" else set()))


def _model_config(
    arch: str, train: Geometries, species: list[int], names: list[str], overrides: dict
) -> dict:
    cfg = {**MODEL_DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    cfg.update(
        arch=arch,
        species=species,
        targets=names,
        intensive=[n not in EXTENSIVE for n in names],
    )
    cfg["avg_neighbors"] = average_neighbours(train, cfg["r_cut"])
    return cfg


def average_neighbours(geo: Geometries, r_cut: float, sample: int = 2000) -> float:
    """Mean number of atoms within ``r_cut`` of an atom (messages are scaled by its root)."""
    pos, mask = geo.pos[:sample].astype(np.float64), geo.mask[:sample]
    d = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
    pairs = ((d < r_cut) & mask[:, :, None] & mask[:, None, :]).sum() - mask.sum()
    return round(float(max(pairs / max(mask.sum(), 1), 1.0)), 3)


def _counts(geo: Geometries, species: list[int]) -> np.ndarray:
    """(B, S + 1): atoms of each species per molecule and a constant column."""
    cols = [((geo.species == z) & geo.mask).sum(1) for z in species]
    return np.stack([*cols, np.ones(len(geo))], axis=1).astype(np.float64)


def fit_standardisation(train: Geometries, names: list[str], species: list[int]) -> dict:
    """Per target a linear fit (element counts for extensive targets, a mean otherwise) and the
    standard deviation of what it leaves: the network learns that standardised remainder."""
    x = _counts(train, species)
    coef, std = [], []
    for name in names:
        y = train.targets[:, train.target_names.index(name)].astype(np.float64)
        c = np.zeros(x.shape[1])
        if name in EXTENSIVE:
            c = np.linalg.lstsq(x, y, rcond=None)[0]
        else:
            c[-1] = y.mean()
        coef.append(c.tolist())
        std.append(float(max(np.std(y - x @ c), 1e-12)))
    return {"names": names, "species": species, "coef": coef, "std": std}


def standardised(geo: Geometries, norm: dict) -> np.ndarray:
    """(B, k) float32 targets in the network's units."""
    base = _counts(geo, norm["species"]) @ np.array(norm["coef"]).T
    y = geo.targets[:, [geo.target_names.index(n) for n in norm["names"]]].astype(np.float64)
    return ((y - base) / np.array(norm["std"])).astype(np.float32)


def predictions(net, geo: Geometries, norm: dict, batch_size: int = 256) -> np.ndarray:
    """(B, k) predictions in the targets' own units."""
    from invlatent.pipelines.mol3d.models import run

    pred = run(net, geo.pos, geo.species, geo.mask, ["pred"], batch_size)["pred"]
    base = _counts(geo, norm["species"]) @ np.array(norm["coef"]).T
    return pred.astype(np.float64) * np.array(norm["std"]) + base


def mae(net, geo: Geometries, norm: dict) -> dict[str, float]:
    """Mean absolute error per target, in the targets' units."""
    truth = geo.targets[:, [geo.target_names.index(n) for n in norm["names"]]]
    err = np.abs(predictions(net, geo, norm) - truth).mean(0)
    return {n: float(e) for n, e in zip(norm["names"], err, strict=True)}


def _mae_text(m: dict, geo: Geometries, names: list[str]) -> str:
    units = {n: geo.target_units[geo.target_names.index(n)] for n in names}
    parts = []
    for n, v in m.items():
        extra = f" ({v * 27211.386:.1f} meV)" if units[n] == "Ha" else ""
        parts.append(f"{n} {v:.5g} {units[n]}{extra}".rstrip())
    return "  ".join(parts)


def _fit(net, train: Geometries, val: Geometries, norm: dict, opts: dict, seed: int, log, ctx=None):
    """The optimisation loop; ``net`` ends with the EMA weights, the ones validated.

    Validation MAE (EMA weights, ``monitor`` seeded val molecules) is measured and logged at every
    eighth of the schedule and at the end: with a time budget an epoch over QM9 can outlast it.
    Under torchrun (``ctx.active``) a rank steps through its share of each epoch (``batch_size``
    molecules per process and step), rotations are drawn per rank, and rank 0 validates.
    """
    import torch

    ctx = ctx or ranks.Context()
    ddp = ctx.wrap(net)
    rng = np.random.default_rng([seed, ctx.rank] if ctx.active else seed)
    y = torch.from_numpy(standardised(train, norm))
    rows = -(-len(train) // ctx.world)  # per rank (DistributedSampler pads the last share)
    per_epoch = -(-rows // opts["batch_size"])
    optim = torch.optim.AdamW(net.parameters(), lr=opts["lr"], weight_decay=0.0)
    clock = Clock(per_epoch * opts["epochs"], opts["max_minutes"], ctx)
    ema = Ema(net, opts["ema"])
    pick = np.random.default_rng(seed + 1).permutation(len(val))[: opts["monitor"]]
    monitor = val.take(np.sort(pick) if ctx.is_main else np.arange(0))
    history, losses, mark, epoch = [], [], 1, 0
    while clock.fraction() < 1.0:
        order = (
            ctx.epoch_indices(len(train), seed, epoch)
            if ctx.active
            else rng.permutation(len(train))
        )
        epoch += 1
        for idx in np.array_split(order, per_epoch):
            with ranks.collective("training step"):
                losses.append(_step(ddp, net, optim, train, idx, y, opts, rng, clock))
            ema.update(net, clock.step)
            clock.step += 1
            clock.agree()
            done = clock.fraction() >= 1.0
            if done or clock.fraction() >= mark / 8:
                if ctx.is_main:
                    rec = _record(ema.model, monitor, norm, losses, clock, per_epoch, opts)
                    history.append(rec)
                    log(_progress(history[-1], opts["epochs"], monitor))
                losses, mark = [], int(clock.fraction() * 8) + 1  # after validating
            if done:
                break
    net.load_state_dict(ema.model.state_dict())
    return history


def _record(ema, monitor, norm, losses, clock, per_epoch: int, opts: dict) -> dict:
    return {
        "epoch": round(clock.step / per_epoch, 3),
        "steps": clock.step,
        "molecules_seen": clock.step * opts["batch_size"] * clock.world,
        "loss": round(float(np.mean(losses)), 5),
        "seconds": round(clock.elapsed(), 1),
        "val_mae": mae(ema, monitor, norm) if len(monitor) else {},
    }


def _step(ddp, net, optim, train: Geometries, idx, y, opts: dict, rng, clock) -> float:
    """One optimisation step, forward through ``ddp`` (``net`` itself, or its DDP wrapper)."""
    import torch

    for group in optim.param_groups:
        group["lr"] = opts["lr"] * cosine(clock.fraction(), *LR_WARM_FLOOR)
    pos = train.pos[idx]
    if opts["augment"]:
        rot = random_rotations(rng, len(idx))
        pos = np.einsum("bnj,bij->bni", pos.astype(np.float64), rot).astype(np.float32)
    out = ddp(
        torch.from_numpy(pos),
        torch.from_numpy(train.species[idx]),
        torch.from_numpy(train.mask[idx]),
    )
    loss = torch.nn.functional.mse_loss(out["pred"], y[idx])
    optim.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
    optim.step()
    return float(loss.item())


def _progress(rec: dict, epochs: int, monitor: Geometries) -> str:
    val = "  ".join(f"{k} {v:.4g}" for k, v in rec["val_mae"].items())
    return (
        f"epoch {rec['epoch']:.2f}/{epochs}  steps {rec['steps']}  loss {rec['loss']:.4f}  "
        f"val MAE ({len(monitor)} mol.) {val}  {rec['seconds']:.0f}s"
    )
