"""Training the graph VAE: seeded batches, KL warm-up, progress on stderr, a checkpoint."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from invlatent import ranks
from invlatent.errors import InvlatentError
from invlatent.pipelines.molecules.defaults import TRAIN_DEFAULTS
from invlatent.pipelines.molecules.graphs import ATOM_TYPES, MAX_NODES, Graphs, smiles_to_graphs
from invlatent.pipelines.qm9 import load_table
from invlatent.pipelines.training import Clock, Ema, cosine, seeded
from invlatent.reporting import say

LR_WARM_FLOOR = (0.02, 0.02)  # the cosine schedule's warm-up share and final factor


def load_graphs(data: str, limit: int | None, split: str = "all", smiles_col: str | None = None):
    """The molecule table (``split``, then ``limit`` rows) and its graphs (rejections counted)."""
    table = load_table(data, limit, smiles_col, split)
    if not table.smiles:
        raise InvlatentError(f"{data}: the {split} split is empty")
    graphs = smiles_to_graphs(table.smiles)
    if len(graphs) == 0:
        raise InvlatentError(
            f"{data}: no molecule could be turned into a graph ({dict(graphs.rejected)})"
        )
    return table, graphs


def vae_loss(model, types, adj, mask, perms, beta: float, generator=None):
    """Per-molecule mean of (node CE + bond CE + beta·KL), and the three parts.

    The bond CE is the minimum over the relabellings ``perms`` (B, K, n) of the target.
    """
    import torch
    from torch.nn import functional as F

    node_logits, edge_logits, mu, logvar = model(types, adj, mask, generator)
    upper = torch.triu(torch.ones(MAX_NODES, MAX_NODES, dtype=torch.bool), 1)
    pairs = (mask[:, :, None] & mask[:, None, :] & upper).unsqueeze(1)
    node = F.cross_entropy(node_logits[mask], types[mask], reduction="sum")
    b, k, n = perms.shape
    rows = adj.unsqueeze(1).expand(b, k, n, n).gather(2, perms[..., None].expand(b, k, n, n))
    targets = rows.gather(3, perms[:, :, None, :].expand(b, k, n, n))
    logp = F.log_softmax(edge_logits, -1).unsqueeze(1).expand(b, k, n, n, edge_logits.shape[-1])
    nll = -(logp.gather(-1, targets[..., None]).squeeze(-1) * pairs).sum((2, 3))
    edge = nll.min(1).values.sum()
    kl = 0.5 * ((mu**2 + logvar.exp() - 1 - logvar) * mask.unsqueeze(-1)).sum()
    b = types.shape[0]
    return (node + edge + beta * kl) / b, (node.item() / b, edge.item() / b, kl.item() / b)


def train_graph_vae(
    data: str,
    *,
    seed: int = 0,
    log: Callable[[str], None] = say,
    arch: dict | None = None,
    **options,
) -> tuple[dict, dict]:
    """Train on the train split of ``data``; returns (numpy state dict, checkpoint config)."""
    import torch

    from invlatent.pipelines.molecules.model import GraphVAE, model_config

    opts = {**TRAIN_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    ctx = ranks.init("cpu")
    log = log if ctx.is_main else _quiet
    torch.set_num_threads(int(opts["threads"]))
    with seeded(seed):
        table, graphs = load_graphs(data, opts["limit"], smiles_col=opts["smiles_col"])
        graphs.perms = _relabellings(table, graphs, opts["sym_perms"])
        split = table.split[graphs.kept]
        train = graphs.take(np.flatnonzero(split == 0))
        val = graphs.take(np.flatnonzero(split == 1))
        if len(train) == 0:
            raise InvlatentError(f"{data}: the train split is empty (use more molecules)")
        log(
            f"graph-vae: {len(train)} train / {len(val)} val molecules; "
            f"rejected {dict(graphs.rejected)}"
        )
        model = GraphVAE(model_config(**(arch or {})))
        history = _fit(model, train, val, opts, seed, log, ctx)
        state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        config = _config(model, table, graphs, train, opts, seed, history)
        return state, config


def _fit(model, train: Graphs, val: Graphs, opts: dict, seed: int, log, ctx) -> list[dict]:
    """The optimisation loop (cosine learning rate, KL warm-up, weight EMA); one record per epoch.

    ``model`` ends with the EMA weights, which are also the ones validated each epoch. Under
    torchrun (``ctx.active``) each rank takes its DistributedSampler share of every epoch and DDP
    averages the gradients; rank 0 validates.
    """
    import torch

    net = ctx.wrap(model)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    rows = -(-len(train) // ctx.world)  # per rank (DistributedSampler pads the last share)
    per_epoch = -(-rows // opts["batch_size"])
    optim = torch.optim.AdamW(model.parameters(), lr=opts["lr"], weight_decay=1e-5, foreach=True)
    clock = Clock(per_epoch * opts["epochs"], opts.get("max_minutes"))
    ema = Ema(model, opts["ema"])
    monitor = val.take(np.random.default_rng(seed + 1).permutation(len(val))[:2000])
    tensors = _to_torch(train)
    history = []
    for epoch in range(opts["epochs"]):
        model.train()
        sums = np.zeros(4)
        order = (
            ctx.epoch_indices(len(train), seed, epoch)
            if ctx.active
            else rng.permutation(len(train))
        )
        for idx in np.array_split(order, per_epoch):
            beta = opts["beta"] * min(1.0, clock.step / max(1, opts["warmup"] * per_epoch))
            for group in optim.param_groups:
                group["lr"] = opts["lr"] * cosine(clock.fraction(), *LR_WARM_FLOOR)
            with ranks.collective("training step"):
                loss, parts = vae_loss(net, *(t[idx] for t in tensors), beta, gen)
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optim.step()
            ema.update(model, clock.step)
            clock.step += 1
            sums += np.array([loss.item(), *parts]) * len(idx)
        seen = len(order)
        validate = monitor if ctx.is_main else monitor.take(np.arange(0))
        history.append(_record(ema.model, validate, sums / seen, epoch, beta, clock))
        log(_progress(history[-1], opts["epochs"]))
        if any(ctx.gather(clock.fraction() >= 1.0)):
            break
    model.load_state_dict(ema.model.state_dict())
    return history


def _quiet(message: str) -> None:
    """The log of ranks other than 0 under torchrun: nothing."""


def _record(model, val: Graphs, means: np.ndarray, epoch: int, beta: float, clock) -> dict:
    rec = dict(zip(("loss", "node_ce", "edge_ce", "kl"), means.round(4).tolist(), strict=True))
    rec.update(epoch=epoch + 1, beta=beta, seconds=round(clock.elapsed(), 1))
    rec.update(reconstruction_accuracy(model, val))
    return rec


def _progress(rec: dict, epochs: int) -> str:
    return (
        f"epoch {rec['epoch']}/{epochs}  loss {rec['loss']:.3f}  node {rec['node_ce']:.3f}  "
        f"bond {rec['edge_ce']:.3f}  kl {rec['kl']:.2f}  val exact (mean/sample) "
        f"{rec.get('val_exact_mean', np.nan):.3f}/{rec.get('val_exact_sample', np.nan):.3f}"
        f"  {rec['seconds']:.0f}s"
    )


def _to_torch(g: Graphs):
    import torch

    arrays = (g.types, g.adj, g.mask, g.perms)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _relabellings(table, graphs: Graphs, cap: int) -> np.ndarray:
    """Target relabellings per graph: within symmetry classes (cap ≥ 2) or only the identity."""
    from invlatent.pipelines.molecules.symmetry import class_permutations

    if cap < 2:
        return np.broadcast_to(np.arange(MAX_NODES), (len(graphs), 1, MAX_NODES)).copy()
    return class_permutations([table.smiles[i] for i in graphs.kept], cap)


def reconstruction_accuracy(model, graphs: Graphs, limit: int = 2000, seed: int = 0) -> dict:
    """Exact reconstruction rate (same canonical SMILES) from the posterior mean and a sample."""
    from invlatent.pipelines.molecules.decode import decode_logits, posterior
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    if len(graphs) == 0:
        return {}
    g = graphs.take(np.arange(min(limit, len(graphs))))
    truth = np.array(graphs_to_smiles(g), dtype=object)
    out = {}
    for name, sample in (("mean", False), ("sample", True)):
        z = posterior(model, g, sample=sample, seed=seed)
        smiles = np.array(graphs_to_smiles(decode_logits(model, z, g.mask)), dtype=object)
        out[f"val_exact_{name}"] = float((smiles == truth).mean())
    return out


def _config(model, table, graphs: Graphs, train: Graphs, opts, seed, history) -> dict:
    counts = np.bincount(train.mask.sum(1), minlength=MAX_NODES + 1)
    return {
        "family": "molecules",
        "architecture": "graph-vae",
        "model": model.cfg,
        "latent_dim": model.cfg["latent_dim"],
        "preprocessing": {
            "atom_types": [f"{s}{c:+d}" if c else s for s, c in ATOM_TYPES],
            "max_nodes": MAX_NODES,
            "kekulised": True,
            "hydrogens": "implicit",
        },
        "data": {
            "source": table.source,
            "molecules": len(table.smiles),
            "graphs": len(graphs),
            "rejected": dict(graphs.rejected),
            "train": len(train),
        },
        "node_count_freq": (counts / counts.sum()).tolist(),
        "train": {**opts, "seed": seed},
        "history": history,
    }
