"""A plain CNN of matched size: the baseline made (approximately) invariant by augmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from invlatent.pipelines.images.gcnn import _head


class CNN(nn.Module):
    """Conv → batch norm → ReLU blocks (optional 2×2 pooling), global average pooling, linear head.

    ``blocks`` lists ``[channels, kernel, pool_after]``. Named layers: ``block1``… (each block
    averaged over the plane, ``(B, C)``), ``features`` (the last block: the penultimate layer,
    the default latent) and ``logits``. Every layer has the trivial action.
    """

    def __init__(self, in_channels: int, n_classes: int, blocks: list, hidden: int = 0) -> None:
        super().__init__()
        self.blocks_spec = [list(b) for b in blocks]
        convs, norms, c = [], [], in_channels
        for width, kernel, _ in self.blocks_spec:
            convs.append(nn.Conv2d(c, width, kernel, padding=kernel // 2))
            norms.append(nn.BatchNorm2d(width))
            c = width
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        self.head = _head(c, hidden, n_classes)

    @property
    def layer_names(self) -> list[str]:
        return [f"block{i + 1}" for i in range(len(self.convs))] + ["features", "logits"]

    @property
    def default_layer(self) -> str:
        return "features"

    def layer_action(self, layer: str) -> str:
        return "trivial"

    def encode(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The output of a named layer for images ``x`` ``(B, C, H, W)``."""
        stop = int(layer[5:]) if layer.startswith("block") else len(self.convs)
        h = x
        for i in range(stop):
            h = torch.relu(self.norms[i](self.convs[i](h)))
            if self.blocks_spec[i][2] and i + 1 < stop:
                h = F.max_pool2d(h, 2)
        z = h.mean(dim=(-2, -1))
        return self.head(z) if layer == "logits" else z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x, "logits")
