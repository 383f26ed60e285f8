"""Recipe: a plain PyTorch CNN (no symmetry built in) lifted to ``cN``/``dN`` by invlatent.

``encode --lift c4`` runs the encoder on every rotation of each image and stacks the outputs:
``z [B, D, 4]`` with the regular ``c4`` action, exactly equivariant for quarter turns (and the
mirror for ``dN``); other angles are bilinear and their measured error goes into the file.

    python examples/plain_cnn_lift.py cnn.pt
    invlatent check cnn.pt digits --torchscript --lift c4      # error per element (0 here)
    invlatent encode cnn.pt digits --torchscript --lift c4 --rotate c4 > z.st
    invlatent project --method power z.st > p.st               # or pool-mean, bispectrum
    invlatent probe --task linear z.st p.st

Put your trained CNN in place of ``TinyCNN``: any module taking images ``[B, C, H, W]`` in
[0, 1] and returning features ``[B, ...]`` (flattened to ``[B, D]``).
"""

from __future__ import annotations

import sys

import torch


class TinyCNN(torch.nn.Module):
    """Two convolutions and a global average: images ``[B, 1, H, W]`` → features ``[B, 16]``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, padding=1, stride=2),
            torch.nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


def save(path: str, seed: int = 0) -> None:
    """Save the (untrained, seeded) CNN as TorchScript."""
    torch.manual_seed(seed)
    torch.jit.script(TinyCNN().eval()).save(path)


if __name__ == "__main__":
    save(sys.argv[1] if len(sys.argv) > 1 else "cnn.pt")
