"""A C_N / D_N group CNN classifier whose latent layers are regular fields ``(B, F, G)``, or
the same fields on the pixel grid ``(B, F, G, H, W)`` (the ``-map`` layers)."""

from __future__ import annotations

import torch
from torch import nn

from invlatent.groups.action import Action
from invlatent.pipelines.images.gconv import (
    FieldNorm,
    GroupConv,
    LiftingConv,
    group_max,
    spatial_max_pool,
    spatial_mean,
)


class GCNN(nn.Module):
    """Lifting conv, group convs (norm + ReLU, optional 2×2 pooling), then group pooling → linear.

    ``blocks`` lists ``[fields, kernel, pool_after]``; ``basis`` is the filter basis of
    ``gconv`` (``harmonic`` or ``pixel``). Named layers: ``block1``… (each block's
    output averaged over the plane, regular fields ``(B, F, G)``), ``block1-map``… (the same
    output before averaging, ``(B, F, G, H, W)``, action ``cN:grid``/``dN:grid``),
    ``invariant`` (the max over the group, ``(B, F)``) and ``logits``. The default latent is the
    last block. A map is taken before the block's own pooling; the poolings before it halve
    even sizes only (``default_blocks``), so a square input gives square maps that quarter
    turns permute exactly.
    """

    def __init__(
        self,
        group: str,
        in_channels: int,
        n_classes: int,
        blocks: list,
        hidden: int = 0,
        basis: str = "harmonic",
    ) -> None:
        super().__init__()
        self.action = Action.parse(group)
        if not self.action.finite or self.action.grid:
            raise ValueError(f"a group CNN needs a cN or dN group, got {group!r}")
        self.blocks_spec = [list(b) for b in blocks]
        convs, norms, fields = [], [], None
        for width, kernel, _ in self.blocks_spec:
            conv = (
                LiftingConv(self.action, in_channels, width, kernel, basis)
                if fields is None
                else GroupConv(self.action, fields, width, kernel, basis)
            )
            convs.append(conv)
            norms.append(FieldNorm(width))
            fields = width
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        self.head = _head(fields, hidden, n_classes)

    @property
    def layer_names(self) -> list[str]:
        blocks = [f"block{i + 1}" for i in range(len(self.convs))]
        return [*blocks, *(f"{b}-map" for b in blocks), "invariant", "logits"]

    @property
    def default_layer(self) -> str:
        return f"block{len(self.convs)}"

    def layer_action(self, layer: str) -> str:
        """The group action on a named layer's output."""
        if layer.endswith("-map"):
            return f"{self.action}:grid"
        return str(self.action) if layer.startswith("block") else "trivial"

    def encode(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The output of a named layer for images ``x`` ``(B, C, H, W)``."""
        block = layer.removesuffix("-map")
        stop = int(block[5:]) if block.startswith("block") else len(self.convs)
        h = x
        for i in range(stop):
            h = torch.relu(self.norms[i](self.convs[i](h)))
            if self.blocks_spec[i][2] and i + 1 < stop:
                h = spatial_max_pool(h)
        if layer.endswith("-map"):
            return h
        z = spatial_mean(h)
        if layer.startswith("block"):
            return z
        inv = group_max(z)
        return inv if layer == "invariant" else self.head(inv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x, "logits")


def _head(features: int, hidden: int, n_classes: int) -> nn.Module:
    """Linear classifier on invariant features, with one hidden layer when ``hidden`` > 0."""
    if hidden <= 0:
        return nn.Linear(features, n_classes)
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
