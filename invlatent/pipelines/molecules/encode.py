"""Encode molecules (QM9 or a SMILES/CSV file) into a node-level latent file (action ``sn``).

Honest protocol: with ``permute="random"`` each molecule's nodes are listed in a random order
(seeded, recorded in ``g`` with ``g_kind`` perm: new node i is RDKit's atom ``g[b, i]``), so
raw latents do not inherit RDKit's SMILES order.
"""

from __future__ import annotations

import json
import os

import numpy as np

from invlatent import ranks
from invlatent.errors import InvlatentError, check_at_least
from invlatent.format.latentfile import LatentFile, make_step, sha256_of_file
from invlatent.groups.action import Action
from invlatent.reporting import say

LAYERS = ("mean", "sample")


def encode_checkpoint(
    model: str,
    data: str,
    *,
    permute: str = "none",
    layer: str | None = None,
    split: str = "all",
    limit: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    smiles_col: str | None = None,
) -> LatentFile:
    """Latents z (B, 9, d) with mask, targets, ids and split of ``data`` under a graph VAE."""
    layer = layer or "mean"
    _check_options(permute, layer, batch_size, device)
    from invlatent.pipelines.molecules.decode import load_model, posterior
    from invlatent.pipelines.molecules.train import load_graphs

    vae, _ = load_model(model)
    table, graphs = load_graphs(data, limit, split, smiles_col)
    if graphs.rejected:
        _say_skipped(data, table, graphs)
    g = None
    if permute == "random":
        g = np.argsort(np.random.default_rng(seed).random(graphs.mask.shape), axis=1)
        graphs = graphs.permuted(g)
    share = ranks.from_env().share(len(graphs))  # under torchrun: this rank's rows
    graphs, g = graphs.take(np.arange(len(graphs))[share]), None if g is None else g[share]
    z = posterior(vae, graphs, sample=layer == "sample", seed=seed, batch_size=batch_size)
    return _latent_file(
        z,
        graphs,
        table,
        g,
        model,
        data,
        dict(
            permute=permute, layer=layer, split=split, limit=limit, data=data, smiles_col=smiles_col
        ),
        seed,
    )


def _say_skipped(data: str, table, graphs) -> None:
    """Name the input rows that have no latent: the other rows keep their order, ``ids`` say
    which input row each latent is."""
    gone = np.setdiff1d(np.arange(len(table.smiles)), graphs.kept)
    rows = ", ".join(str(int(i)) for i in table.ids[gone[:10]]) + (", …" if len(gone) > 10 else "")
    say(
        f"invlatent: {data}: skipped {len(gone)} molecules {dict(graphs.rejected)} at input rows "
        f"{rows}; the latents keep the input order of the rest (ids give each one's row)"
    )


def _check_options(permute, layer, batch_size, device) -> None:
    """Refuse arguments that have no meaning for a graph VAE."""
    if permute not in ("none", "random"):
        raise InvlatentError(f"permute must be none or random, got {permute!r}")
    if layer not in LAYERS:
        raise InvlatentError(f"layer for a graph VAE must be mean or sample, got {layer!r}")
    check_at_least(batch_size=(batch_size, 1))
    if device != "cpu":
        raise InvlatentError(f"device {device}: the graph VAE encodes on cpu only")


def _latent_file(z, graphs, table, g, model, data, options, seed) -> LatentFile:
    kept = graphs.kept
    meta = {
        "split_names": json.dumps(["train", "val", "test"]),
        "rejected": json.dumps(dict(graphs.rejected), sort_keys=True),
        "node_order": "random (g)" if g is not None else "RDKit SMILES order",
    }
    if table.targets is not None:
        meta["target_units"] = json.dumps(list(table.target_units))
    step = make_step(
        "encode", options, inputs=[(os.path.basename(model), sha256_of_file(model))], seed=seed
    )
    return LatentFile(
        z=z,
        action=Action.parse("sn"),
        mask=graphs.mask.copy(),
        targets=None if table.targets is None else np.ascontiguousarray(table.targets[kept]),
        target_names=list(table.target_names),
        g=None if g is None else g.astype(np.int64),
        g_kind=None if g is None else "perm",
        ids=table.ids[kept].astype(np.int64),
        extra={"split": table.split[kept].astype(np.uint8)},
        history=[step],
        meta=meta,
    )
