"""A permutation-equivariant graph VAE with node-level latents ``z`` of shape ``(B, n, d)``.

Encoder: bond-typed message passing (one weight per bond order, sums over neighbours) plus a
masked mean over the molecule, residual MLP updates; every operation is per node, a sum over
nodes or a per-pair map, so ``enc(P·G) = P·enc(G)`` exactly. Decoder: random Fourier features of
each node's latent, masked self-attention over nodes, node-type logits per node, symmetric pair
features refined by triangle products over third nodes, and bond logits per pair, so
``dec(P·z) = P·dec(z)·Pᵀ`` exactly where the latents are distinct; nodes with equal latents are
told apart only by their rank, ties broken by position (see docs/molecules.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from invlatent.pipelines.molecules.defaults import MODEL_DEFAULTS
from invlatent.pipelines.molecules.graphs import ATOM_TYPES, BOND_ORDERS, MAX_NODES


def model_config(**overrides) -> dict:
    """The architecture config of a graph VAE (defaults, then ``overrides``)."""
    cfg = {**MODEL_DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    cfg.update(n_types=len(ATOM_TYPES), n_bonds=BOND_ORDERS, max_nodes=MAX_NODES)
    return cfg


class _MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def _masked_mean(h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean of ``h`` (B, n, H) over real nodes, ``m`` (B, n, 1) float."""
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class _MessageLayer(nn.Module):
    """h_i += W·SiLU(U h_i + Σ_t Σ_j A_t[i, j] W_t h_j + V mean_j h_j): exactly equivariant."""

    def __init__(self, hidden: int, n_rel: int) -> None:
        super().__init__()
        self.n_rel = n_rel
        self.norm = nn.LayerNorm(hidden)
        self.rel = nn.Linear(hidden, (n_rel + 1) * hidden)
        self.glob = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, rel: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        b, n, hid = h.shape
        x = self.norm(h)
        hw = self.rel(x).view(b, n, self.n_rel + 1, hid)
        msg = torch.einsum("bijt,bjth->bih", rel, hw[:, :, 1:])
        glob = self.glob(_masked_mean(x, m)).unsqueeze(1)
        return (h + self.out(F.silu(hw[:, :, 0] + msg + glob))) * m


class Encoder(nn.Module):
    """Graph (types, bond orders, mask) → posterior mean and log-variance, each (B, n, d)."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        hid = cfg["hidden"]
        self.embed = nn.Embedding(cfg["n_types"], hid)
        self.layers = nn.ModuleList(
            _MessageLayer(hid, cfg["n_bonds"] - 1) for _ in range(cfg["enc_layers"])
        )
        self.norm = nn.LayerNorm(hid)
        self.head = nn.Linear(hid, 2 * cfg["latent_dim"])
        with torch.no_grad():
            self.head.bias[cfg["latent_dim"] :] = cfg["init_logvar"]

    def forward(self, types, adj, mask):
        dtype = self.embed.weight.dtype
        m = mask.unsqueeze(-1).to(dtype)
        rel = F.one_hot(adj, self.layers[0].n_rel + 1)[..., 1:].to(dtype)
        h = self.embed(types) * m
        for layer in self.layers:
            h = layer(h, rel, m)
        mu, logvar = self.head(self.norm(h)).chunk(2, dim=-1)
        return mu * m, logvar * m


class _AttentionLayer(nn.Module):
    """Pre-norm multi-head self-attention over real nodes, then a node-wise MLP."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.mlp = _MLP(hidden, 2 * hidden, hidden)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, hid = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        att = torch.softmax(logits, dim=-1) @ v
        h = h + self.out(att.transpose(1, 2).reshape(b, n, hid))
        return h + self.mlp(self.norm2(h))


class _PairLayer(nn.Module):
    """P_ij += MLP(LN(P)_ij + mean_k a_ik ⊙ a_jk) over real k: bonds that see third atoms; keeps
    P symmetric and the decoder exactly equivariant."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.tri = nn.Linear(hidden, hidden, bias=False)
        self.mlp = _MLP(hidden, hidden, hidden)

    def forward(self, pair: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm(pair)
        a = self.tri(x) * mask[:, None, :, None].to(x.dtype)
        tri = torch.einsum("bikh,bjkh->bijh", a, a) / mask.sum(1).clamp(min=1)[:, None, None, None]
        return pair + self.mlp(x + tri)


class Decoder(nn.Module):
    """Latents (B, n, d) and mask → node-type logits (B, n, T) and bond logits (B, n, n, 4)."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        hid, d, nf = cfg["hidden"], cfg["latent_dim"], cfg["fourier"]
        self.freqs = nn.Parameter(torch.randn(d, nf) * cfg["fourier_scale"])
        self.embed = _MLP(2 * nf + d, hid, hid)
        self.layers = nn.ModuleList(
            _AttentionLayer(hid, cfg["heads"]) for _ in range(cfg["dec_layers"])
        )
        self.norm = nn.LayerNorm(hid)
        self.rank = nn.Embedding(cfg["max_nodes"], hid) if cfg.get("rank_pe") else None
        self.node_head = nn.Linear(hid, cfg["n_types"])
        self.pair_sum = nn.Linear(hid, hid)
        self.pair_prod = nn.Linear(hid, hid, bias=False)
        self.pair_layers = nn.ModuleList(_PairLayer(hid) for _ in range(cfg.get("edge_layers", 0)))
        edge = [m for _ in range(cfg["edge_mlp"]) for m in (nn.Linear(hid, hid), nn.SiLU())]
        self.edge_head = nn.Sequential(*edge, nn.Linear(hid, cfg["n_bonds"]))

    def forward(self, z, mask):
        angle = 2 * math.pi * z @ self.freqs
        h = self.embed(torch.cat([torch.sin(angle), torch.cos(angle), z], -1))
        if self.rank is not None:
            h = h + self.rank(node_ranks(z, mask)) * mask.unsqueeze(-1).to(h.dtype)
        for layer in self.layers:
            h = layer(h, mask)
        h = self.norm(h)
        s, p = self.pair_sum(h), self.pair_prod(h)
        pair = F.silu(s[:, :, None] + s[:, None, :] + p[:, :, None] * p[:, None, :])
        for layer in self.pair_layers:
            pair = layer(pair, mask)
        return self.node_head(h), self.edge_head(pair)


class GraphVAE(nn.Module):
    """Encoder and decoder together; ``forward`` returns logits, posterior mean and log-variance."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.cfg = dict(cfg)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, types, adj, mask, generator: torch.Generator | None = None):
        mu, logvar = self.encoder(types, adj, mask)
        z = reparameterise(mu, logvar, mask, generator)
        node_logits, edge_logits = self.decoder(z, mask)
        return node_logits, edge_logits, mu, logvar


def node_ranks(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rank of each real node by channel 0 (padding last): equivariant wherever z has no ties."""
    key = torch.where(mask, z[..., 0], torch.full_like(z[..., 0], float("inf")))
    order = torch.argsort(key, dim=1, stable=True)
    return torch.argsort(order, dim=1)


def reparameterise(mu, logvar, mask, generator: torch.Generator | None = None) -> torch.Tensor:
    """A posterior sample ``mu + sigma * eps`` on real nodes (zeros on padding)."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return (mu + torch.exp(0.5 * logvar) * eps) * mask.unsqueeze(-1).to(mu.dtype)
