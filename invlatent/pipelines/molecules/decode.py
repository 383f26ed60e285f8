"""Latents → graphs → SMILES: the decoder on raw (``sn``) or sorted latents, with valence checks
or an encoder-consistent search (``search``).

Decoding is a relabelling-safe operation: the decoder is permutation equivariant, so decoding
``P·z`` gives the graph of ``z`` with its nodes relabelled by ``P`` — the same molecule. A
latent sorted node-wise (``invlatent project --method sort``) is such a relabelling, so it
decodes to the same SMILES as the raw latent.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.pipelines.molecules.defaults import SEARCH_CANDIDATES
from invlatent.pipelines.molecules.graphs import MAX_NODES, MAX_VALENCE, Graphs

DECODE_MODES = ("search", "valence", "argmax")


def load_model(path: str):
    """Rebuild a trained graph VAE from its checkpoint (safetensors + JSON config)."""
    import torch

    from invlatent.format.checkpoint import load_checkpoint
    from invlatent.pipelines.molecules.model import GraphVAE

    state, config = load_checkpoint(path)
    if config.get("family") != "molecules":
        raise InvlatentError(f"{path}: not a molecule model (family {config.get('family')!r})")
    model = GraphVAE(config["model"])
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    model.eval()
    return model, config


def posterior(
    model, graphs: Graphs, *, sample: bool, seed: int = 0, batch_size: int = 1024
) -> np.ndarray:
    """Posterior means (or seeded samples) of every graph, float32 (B, n, d), zero on padding."""
    import torch

    from invlatent.pipelines.molecules.model import reparameterise

    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for s in range(0, len(graphs), batch_size):
            t, a, m = (
                torch.from_numpy(x[s : s + batch_size])
                for x in (graphs.types, graphs.adj, graphs.mask)
            )
            mu, logvar = model.encoder(t, a, m)
            out.append((reparameterise(mu, logvar, m, gen) if sample else mu).numpy())
    return np.concatenate(out).astype(np.float32)


def decode_logits(
    model,
    z: np.ndarray,
    mask: np.ndarray,
    mode: str = "argmax",
    batch_size: int = 1024,
    candidates: int = SEARCH_CANDIDATES,
) -> Graphs:
    """Decode latents (B, n, d) with mask (B, n) into graphs: argmax, valence-constrained, or
    the candidate the encoder maps back closest (``search``, ``candidates`` graphs per latent)."""
    import torch

    from invlatent.pipelines.molecules.search import consistent_graphs

    if mode not in DECODE_MODES:
        raise InvlatentError(f"decode mode must be one of {', '.join(DECODE_MODES)}, got {mode!r}")
    if candidates < 1:
        raise InvlatentError(f"candidates must be at least 1, got {candidates}")
    types, adj = [], []
    with torch.no_grad():
        for s in range(0, len(z), batch_size):
            zt = torch.from_numpy(np.array(z[s : s + batch_size], dtype=np.float32))
            mt = torch.from_numpy(np.array(mask[s : s + batch_size], dtype=bool))
            zt = zt * mt.unsqueeze(-1)
            node_logits, edge_logits = model.decoder(zt, mt)
            m = mt.numpy()
            t = np.where(m, node_logits.argmax(-1).numpy(), 0)
            e = torch.log_softmax(edge_logits, -1).numpy()
            a = argmax_bonds(e, m) if mode == "argmax" else valence_bonds(t, e, m)
            if mode == "search":
                node_logp = torch.log_softmax(node_logits, -1).numpy()
                t, a = consistent_graphs(model, zt.numpy(), m, node_logp, e, (t, a), candidates)
            types.append(t)
            adj.append(a)
    return Graphs(
        np.concatenate(types),
        np.concatenate(adj),
        np.asarray(mask, bool).copy(),
        np.arange(len(z), dtype=np.int64),
    )


def argmax_bonds(logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Most likely bond order per pair, symmetrised from the upper triangle, zero on padding."""
    a = np.triu(logp.argmax(-1), 1)
    a = a + a.transpose(0, 2, 1)
    return a * (mask[:, :, None] & mask[:, None, :])


def valence_bonds(types: np.ndarray, logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Greedy bonds within valences, likeliest first; then join fragments by likeliest bonds."""
    out = np.zeros(logp.shape[:3], np.int64)
    iu, ju = np.triu_indices(MAX_NODES, 1)
    for b in range(len(types)):
        room = np.where(mask[b], MAX_VALENCE[types[b]], 0)
        lp = logp[b, iu, ju]  # (pairs, 4)
        best = lp[:, 1:].argmax(-1) + 1
        gain = lp[np.arange(len(iu)), best] - lp[:, 0]
        for p in np.argsort(-gain, kind="stable"):
            if gain[p] <= 0:
                break
            _add_bond(out[b], room, iu[p], ju[p], _fitting_order(lp[p], room, iu[p], ju[p]))
        _join_fragments(out[b], room, lp, iu, ju, mask[b])
    return out


def _add_bond(adj: np.ndarray, room: np.ndarray, i: int, j: int, order: int) -> None:
    if order:
        adj[i, j] = adj[j, i] = order
        room[i] -= order
        room[j] -= order


def _join_fragments(adj, room, lp, iu, ju, mask) -> None:
    """While the graph has several fragments, add the likeliest single bond between two of them."""
    single_gain = lp[:, 1] - lp[:, 0]
    while True:
        comp = components(adj, mask)
        ok = (comp[iu] != comp[ju]) & mask[iu] & mask[ju] & (room[iu] > 0) & (room[ju] > 0)
        if comp.max() < 1 or not ok.any():
            return
        p = int(np.flatnonzero(ok)[np.argmax(single_gain[ok])])
        _add_bond(adj, room, iu[p], ju[p], 1)


def components(adj: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Connected-component label per node (padding: -1); labels count from 0."""
    comp = np.where(mask, np.arange(len(mask)), -1)
    linked = (adj > 0) & mask[:, None] & mask[None, :]
    for _ in range(len(mask)):
        nxt = np.where(mask, np.where(linked, comp[None, :], comp[:, None]).max(1), -1)
        nxt = np.maximum(nxt, comp)
        if (nxt == comp).all():
            break
        comp = nxt
    labels = np.unique(comp[mask], return_inverse=True)[1]
    out = np.full(len(mask), -1)
    out[mask] = labels
    return out


def _fitting_order(lp: np.ndarray, room: np.ndarray, i: int, j: int) -> int:
    """The likeliest bond order that fits both atoms' room and beats no bond (0 when none does)."""
    room = int(min(room[i], room[j]))
    if room <= 0:
        return 0
    allowed = lp[1 : room + 1]
    k = int(allowed.argmax()) + 1
    return k if lp[k] > lp[0] else 0


def node_latents(lf) -> tuple[np.ndarray, np.ndarray]:
    """(z (B, n, d), mask (B, n)) from a raw ``sn`` file or a ``project --method sort`` file.

    A sorted file holds z as (B, n·d) with real nodes first; ``perm`` (B, n) gives n and
    ``n_nodes`` (B,) the number of real nodes (all real when absent).
    """
    if lf.action == Action("sn"):
        mask = np.ones(lf.z.shape[:2], bool) if lf.mask is None else np.asarray(lf.mask, bool)
        return np.asarray(lf.z, np.float32), mask
    last = lf.history[-1] if lf.history else {}
    method = (last.get("options") or {}).get("method")
    if last.get("command") != "project" or method != "sort" or "perm" not in lf.extra:
        raise InvlatentError(
            f"cannot decode latents with action {lf.action} made by "
            f"{last.get('command', 'nothing')} {method or ''}: expected raw node latents "
            "(action sn) or the output of `invlatent project --method sort`"
        )
    b, n = lf.extra["perm"].shape
    if lf.z.ndim == 3:
        z = np.asarray(lf.z, np.float32)
    elif lf.z.ndim == 2 and lf.z.shape[1] % n == 0:
        z = np.asarray(lf.z, np.float32).reshape(b, n, lf.z.shape[1] // n)
    else:
        raise InvlatentError(f"sorted z has shape {list(lf.z.shape)}, not (B, {n}·d)")
    count = lf.extra.get("n_nodes")
    count = np.full(b, n) if count is None else np.asarray(count)
    return z, np.arange(n)[None, :] < count[:, None]


def check_latent_dim(z: np.ndarray, config: dict, source: str) -> None:
    """Refuse latents whose node count or width does not match the model."""
    n, d = config["model"]["max_nodes"], config["model"]["latent_dim"]
    if z.shape[1:] != (n, d):
        raise InvlatentError(
            f"{source}: latents of shape {list(z.shape[1:])} per molecule, but the model "
            f"decodes [{n}, {d}]"
        )


def sample_prior(config: dict, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` latents from the prior N(0, I), with node counts drawn as in the training set."""
    rng = np.random.default_rng(seed)
    n, d = config["model"]["max_nodes"], config["model"]["latent_dim"]
    freq = np.asarray(config["node_count_freq"], dtype=np.float64)
    sizes = rng.choice(len(freq), size=count, p=freq / freq.sum())
    mask = np.arange(n)[None, :] < sizes[:, None]
    z = rng.standard_normal((count, n, d)).astype(np.float32) * mask[:, :, None]
    return z, mask


def decode_to_smiles(
    model_path: str,
    latents: str | None,
    *,
    prior: int | None,
    mode: str,
    seed: int,
    candidates: int = SEARCH_CANDIDATES,
) -> tuple[list[str], dict]:
    """Lines ``SMILES<TAB>id`` (``INVALID`` for invalid graphs) and a validity summary."""
    from invlatent.format.shards import read_input
    from invlatent.pipelines.molecules.graphs import graphs_to_smiles

    model, config = load_model(model_path)
    if prior is not None:
        z, mask = sample_prior(config, prior, seed)
        ids, source = np.arange(prior), f"{prior} prior samples"
    else:
        lf = read_input(latents)
        z, mask = node_latents(lf)
        ids = np.arange(len(z)) if lf.ids is None else np.asarray(lf.ids)
        source = latents
    check_latent_dim(z, config, source)
    smiles = graphs_to_smiles(decode_logits(model, z, mask, mode, candidates=candidates))
    lines = [f"{s or 'INVALID'}\t{i}" for s, i in zip(smiles, ids, strict=True)]
    summary = validity_summary(smiles, source)
    summary.update(mode=mode, candidates=candidates if mode == "search" else None)
    return lines, summary


def validity_summary(smiles: list[str | None], source: str = "") -> dict:
    """Counts and rates of valid (sanitisable, connected) and unique valid molecules."""
    valid = [s for s in smiles if s]
    n = max(1, len(smiles))
    return {
        "source": source,
        "decoded": len(smiles),
        "valid": len(valid),
        "validity": len(valid) / n,
        "unique": len(set(valid)),
        "uniqueness": len(set(valid)) / max(1, len(valid)),
    }


def write_smiles(lines: list[str], dest: str | None) -> None:
    """SMILES lines to a file (atomically) or stdout."""
    import sys

    from invlatent.format.latentfile import write_atomic

    text = "".join(line + "\n" for line in lines).encode()
    if dest in (None, "-"):
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        write_atomic([text], dest)
