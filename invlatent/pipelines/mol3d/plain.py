"""The augmentation baseline: a message-passing network of about the same size that is NOT
rotation-equivariant (edge vectors enter as raw x, y, z), trained with random rotations.

It keeps translation invariance and atom-order equivariance (relative vectors, summed messages),
so it differs from :class:`invlatent.pipelines.mol3d.model.Mol3dNet` only in how rotations are
handled.
"""

from __future__ import annotations

import math

import torch
from e3nn.math import soft_one_hot_linspace
from torch import nn
from torch.nn import functional as F

from invlatent.pipelines.mol3d.model import cosine_cutoff, edges, pool, species_table


class PlainLayer(nn.Module):
    """Messages MLP(h_src, radial basis, raw edge vector), summed, then a residual node MLP."""

    def __init__(self, width: int, n_basis: int) -> None:
        super().__init__()
        self.message = nn.Sequential(
            nn.Linear(width + n_basis + 3, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.update = nn.Sequential(nn.Linear(2 * width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h, edge_in, src, dst, norm: float):
        msg = self.message(torch.cat([h[src], edge_in], dim=1))
        agg = torch.zeros_like(h).index_add(0, dst, msg) * norm
        return h + self.update(torch.cat([h, agg], dim=1))


class PlainNet(nn.Module):
    """Species embedding, ``layers`` plain message-passing layers, the same per-atom readout."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg["width"]
        self.n_scalars = width
        self.register_buffer("species_table", species_table(cfg["species"]), persistent=False)
        self.embed = nn.Linear(len(cfg["species"]), width, bias=False)
        self.layers = nn.ModuleList(PlainLayer(width, cfg["n_basis"]) for _ in range(cfg["layers"]))
        self.readout = nn.Sequential(
            nn.Linear(width, cfg["readout_hidden"]),
            nn.SiLU(),
            nn.Linear(cfg["readout_hidden"], len(cfg["targets"])),
        )
        self.register_buffer(
            "intensive", torch.tensor([bool(v) for v in cfg["intensive"]]), persistent=False
        )

    def features(self, pos, species, mask):
        """Per-atom features (N, width) of the real atoms and their flat padded positions."""
        r_cut = self.cfg["r_cut"]
        node, src, dst, vec = edges(pos, mask, r_cut)
        onehot = F.one_hot(self.species_table[species.reshape(-1)[node]], len(self.cfg["species"]))
        dist = vec.norm(dim=1)
        radial = soft_one_hot_linspace(dist, 0.0, r_cut, self.cfg["n_basis"], "bessel", True)
        env = cosine_cutoff(dist, r_cut)[:, None]
        edge_in = torch.cat([radial * math.sqrt(self.cfg["n_basis"]), vec / r_cut], dim=1) * env
        h = self.embed(onehot.to(pos.dtype))
        norm = 1.0 / math.sqrt(self.cfg["avg_neighbors"])
        for layer in self.layers:
            h = layer(h, edge_in, src, dst, norm)
        return h, node

    def forward(self, pos, species, mask) -> dict[str, torch.Tensor]:
        """Latents ``nodes`` (B, n, W), ``graph`` (B, W), ``invariant`` (= graph) and ``pred``."""
        h, node = self.features(pos, species, mask)
        return pool(self, h, node, mask)

    def layer_action(self, layer: str) -> str:
        """Only atom order is built in: ``sn`` for nodes, ``trivial`` (not rotation-invariant,
        measured by ``check``) for the pooled layers."""
        return {"nodes": "sn", "graph": "trivial", "invariant": "trivial"}[layer]
