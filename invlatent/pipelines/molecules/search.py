"""Encoder-consistent decoding: of the decoder's likeliest graphs for a latent, keep the one that
the encoder maps back onto it.

One decoder pass gets most molecules right; the rest are mostly one to three wrong entries (atom
types or bond orders) that the decoder itself rates above the truth, so no better search of the
decoder alone finds them. The encoder is a second, independent opinion: a posterior latent ``z``
of a graph ``G`` is likeliest under ``q(z | G)`` of that very graph. So the ``k`` likeliest graphs
that change at most three of the decoder's least certain entries (plus the valence-constrained
graph) are enumerated, those that break a valence or fall apart are dropped, each is re-encoded,
and the one with the largest ``log q(z | G) + log p(G | z)`` is kept.

Everything is per node or per pair, so the choice is permutation equivariant like the decoder:
a relabelled (e.g. sorted) latent decodes to the same molecule.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

from invlatent.pipelines.molecules.defaults import SEARCH_CANDIDATES as CANDIDATES
from invlatent.pipelines.molecules.graphs import MAX_VALENCE

ALTERNATIVES = 12  # least certain (entry, value) changes that candidates combine
MAX_CHANGES = 3  # changes per candidate
_NEVER = 1e9  # cost of an impossible change (padding, or the value already chosen)


@lru_cache
def _subsets(alternatives: int, max_changes: int) -> np.ndarray:
    """All subsets of ``alternatives`` items with at most ``max_changes`` members, as a mask."""
    subsets = [c for r in range(max_changes + 1) for c in combinations(range(alternatives), r)]
    out = np.zeros((len(subsets), alternatives), bool)
    for s, members in enumerate(subsets):
        out[s, list(members)] = True
    return out


def candidate_graphs(
    node_logp: np.ndarray, pair_logp: np.ndarray, mask: np.ndarray, k: int = CANDIDATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` likeliest graphs (types (B, k, n), upper-pair orders (B, k, P), log p (B, k))
    that change at most ``MAX_CHANGES`` of the ``ALTERNATIVES`` cheapest entries of the argmax.

    ``node_logp`` (B, n, T) and ``pair_logp`` (B, P, 4) are the decoder's log-probabilities,
    pairs in ``np.triu_indices(n, 1)`` order. Padding and pairs with padding never change; rows
    run from likeliest to least likely, and ``-inf`` log p marks fewer than ``k`` candidates.
    """
    n = node_logp.shape[1]
    pairs_real = _pair_mask(mask)
    cost, var, value = _change_costs(node_logp, pair_logp, mask, pairs_real)
    top = np.argsort(cost, axis=1, kind="stable")[:, : min(ALTERNATIVES, cost.shape[1])]
    var, value = var[top], value[top]
    chosen, found = _cheapest_subsets(np.take_along_axis(cost, top, 1), var, k)
    flat = np.concatenate([node_logp.argmax(-1), pair_logp.argmax(-1)], axis=1)
    flat = np.repeat(flat[:, None], chosen.shape[1], axis=1)  # (B, k, n + P) entry values
    rows, cands, members = np.nonzero(chosen)
    flat[rows, cands, var[rows, members]] = value[rows, members]
    types, orders = flat[..., :n], flat[..., n:] * pairs_real[:, None]
    logp = graph_logp(node_logp, pair_logp, mask, types, orders)
    return types, orders, np.where(found, logp, -np.inf)


def _cheapest_subsets(cost: np.ndarray, var: np.ndarray, k: int):
    """The ``k`` cheapest sets of changes (B, k, L), at most ``MAX_CHANGES`` and one per entry,
    and whether each exists (B, k); ``cost`` and ``var`` (B, L) give each change's price and entry.
    """
    subsets = _subsets(cost.shape[1], MAX_CHANGES)
    total = np.minimum(cost, _NEVER) @ subsets.T.astype(float)
    s = subsets.astype(np.int32)
    same = (var[:, :, None] == var[:, None, :]).astype(np.int32)
    clash = np.einsum("sl,blm,sm->bs", s, same, s) > s.sum(1)  # two changes of one entry
    total[clash | (total >= _NEVER)] = np.inf
    pick = np.argsort(total, axis=1, kind="stable")[:, :k]
    found = np.isfinite(np.take_along_axis(total, pick, 1))
    return subsets[pick] & found[..., None], found


def _pair_mask(mask: np.ndarray) -> np.ndarray:
    iu, ju = np.triu_indices(mask.shape[1], 1)
    return mask[:, iu] & mask[:, ju]


def _change_costs(node_logp, pair_logp, mask, pairs_real):
    """Per molecule, the log-probability lost by each change of one entry away from its argmax
    (B, n·T + P·4), with the entry (``var``) and the new value (``value``) of each column."""
    n, t = node_logp.shape[1:]
    p, o = pair_logp.shape[1:]
    dn = node_logp.max(-1, keepdims=True) - node_logp
    dp = pair_logp.max(-1, keepdims=True) - pair_logp
    dn = np.where(mask[..., None] & (dn > 0), dn, np.inf)
    dp = np.where(pairs_real[..., None] & (dp > 0), dp, np.inf)
    cost = np.concatenate([dn.reshape(len(dn), -1), dp.reshape(len(dp), -1)], 1)
    var = np.concatenate([np.repeat(np.arange(n), t), n + np.repeat(np.arange(p), o)])
    value = np.concatenate([np.tile(np.arange(t), n), np.tile(np.arange(o), p)])
    return cost, var, value


def graph_logp(node_logp, pair_logp, mask, types, orders) -> np.ndarray:
    """Decoder log-probability of graphs (B, k, ·) over real nodes and real pairs: (B, k)."""
    node = np.take_along_axis(node_logp[:, None], types[..., None], -1)[..., 0]
    pair = np.take_along_axis(pair_logp[:, None], orders[..., None], -1)[..., 0]
    real_pairs = _pair_mask(mask)[:, None]
    return (node * mask[:, None]).sum(-1) + (pair * real_pairs).sum(-1)


def orders_to_adj(orders: np.ndarray, n: int) -> np.ndarray:
    """Symmetric adjacency (…, n, n) from upper-pair bond orders (…, P)."""
    iu, ju = np.triu_indices(n, 1)
    adj = np.zeros((*orders.shape[:-1], n, n), np.int64)
    adj[..., iu, ju] = orders
    return adj + np.swapaxes(adj, -1, -2)


def feasible(types: np.ndarray, adj: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Graphs (…, n) / (…, n, n) whose real atoms keep their valences and form one piece."""
    m = np.broadcast_to(mask, types.shape)
    fits = ((adj.sum(-1) <= MAX_VALENCE[types]) | ~m).all(-1)
    reach = (adj > 0) & m[..., :, None] & m[..., None, :]
    reach |= np.eye(types.shape[-1], dtype=bool) & m[..., None]
    for _ in range(int(np.ceil(np.log2(max(2, types.shape[-1]))))):
        reach = np.matmul(reach.astype(np.int32), reach.astype(np.int32)) > 0
    first = np.argmax(m, axis=-1)
    from_first = np.take_along_axis(reach, first[..., None, None], -2)[..., 0, :]
    return fits & ((from_first | ~m).all(-1)) & m.any(-1)


def encoder_logq(model, z: np.ndarray, mask: np.ndarray, types, adj, chunk: int = 4096):
    """``log q(z | G)`` (up to a constant) of latents (B, n, d) under graphs (B, k, ·): (B, k)."""
    import torch

    b, k, n = types.shape
    tt = torch.from_numpy(types.reshape(b * k, n))
    aa = torch.from_numpy(adj.reshape(b * k, n, n))
    mm = torch.from_numpy(np.repeat(mask, k, axis=0))
    mus, logvars = [], []
    with torch.no_grad():
        for s in range(0, b * k, chunk):
            mu, logvar = model.encoder(tt[s : s + chunk], aa[s : s + chunk], mm[s : s + chunk])
            mus.append(mu.numpy())
            logvars.append(logvar.numpy())
    mu = np.concatenate(mus).reshape(b, k, n, -1)
    logvar = np.concatenate(logvars).reshape(b, k, n, -1)
    dens = -0.5 * ((z[:, None] - mu) ** 2 * np.exp(-logvar) + logvar)
    return (dens * mask[:, None, :, None]).sum((-1, -2))


def consistent_graphs(
    model,
    z: np.ndarray,
    mask: np.ndarray,
    node_logp: np.ndarray,
    edge_logp: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    k: int = CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    """Types (B, n) and adjacency (B, n, n) of the candidate that best explains each latent.

    ``base`` (types, adjacency) is the valence-constrained decoding, always a candidate and the
    fallback when no other candidate is feasible.
    """
    n = mask.shape[1]
    iu, ju = np.triu_indices(n, 1)
    pair_logp = edge_logp[:, iu, ju]
    types, orders, logp = candidate_graphs(node_logp, pair_logp, mask, k)
    types = np.concatenate([base[0][:, None], np.where(mask[:, None], types, 0)], 1)
    orders = np.concatenate([base[1][:, None, iu, ju], orders], 1)
    adj = orders_to_adj(orders, n)
    base_logp = graph_logp(node_logp, pair_logp, mask, types[:, :1], orders[:, :1])
    logp = np.concatenate([base_logp, logp], 1)
    ok = feasible(types, adj, mask[:, None]) & np.isfinite(logp)
    ok[:, 0] = True
    score = encoder_logq(model, z, mask, types, adj) + logp
    best = np.where(ok, score, -np.inf).argmax(1)
    rows = np.arange(len(z))
    return types[rows, best], adj[rows, best]
