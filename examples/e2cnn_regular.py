"""Recipe: an e2cnn network's regular fields as ``cN`` latents (escnn works the same way).

A steerable CNN on ``Rot2dOnR2(N)`` gives regular fields: ``F`` fields of ``N`` channels each,
one channel per rotation, laid out field-major (channel ``f·N + k``). Pooled over the plane they
are ``z [B, F, N]`` with invlatent's ``cN`` action (a rotation by ``k·360°/N`` shifts every
field's channels cyclically), so the encoder is declared with ``--group cN``. e2cnn's
``GroupPooling`` (the max over each field's channels) is invlatent's ``pool-max`` on that file.

    python examples/e2cnn_regular.py e2cnn.pt
    invlatent encode e2cnn.pt digits --torchscript --group c4 --rotate c4 > z.st
    invlatent check z.st                          # invariance of each projection on real data
    invlatent project --method pool-max z.st > pooled.st   # = e2cnn's GroupPooling
    invlatent probe --task linear z.st pooled.st

Needs ``pip install e2cnn`` (pure Python; with ``torch==2.13.0`` pinned beside it). escnn, its
successor, cannot be installed offline here (lie_learn fetches data, py3nj needs Fortran); with
escnn the same code runs with ``escnn.gspaces.rot2dOnR2(N)`` and ``escnn.nn``.
"""

from __future__ import annotations

import sys

import torch
from e2cnn import gspaces
from e2cnn import nn as enn

N = 4  # quarter turns: exact on a pixel grid


def steerable_cnn(n: int = N, fields: int = 6, seed: int = 0) -> enn.SequentialModule:
    """Two rotation-equivariant convolutions from a grey image to ``fields`` regular fields."""
    torch.manual_seed(seed)
    r2 = gspaces.Rot2dOnR2(n)
    image = enn.FieldType(r2, [r2.trivial_repr])
    regular = enn.FieldType(r2, fields * [r2.regular_repr])
    return enn.SequentialModule(
        enn.R2Conv(image, regular, 5, padding=2),
        enn.ReLU(regular),
        enn.PointwiseMaxPool(regular, 2),
        enn.R2Conv(regular, regular, 5, padding=2),
        enn.ReLU(regular),
    ).eval()


class RegularEncoder(torch.nn.Module):
    """Images ``[B, 1, H, W]`` → regular fields pooled over the plane ``[B, F, N]``."""

    def __init__(self, net: enn.SequentialModule, n: int = N) -> None:
        super().__init__()
        self.net = net.export()  # plain torch modules: TorchScript-able
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x).mean(dim=(2, 3))  # [B, F·N]: field-major channels
        return y.reshape(y.shape[0], -1, self.n)


def save(path: str, n: int = N, seed: int = 0) -> enn.SequentialModule:
    """Save the encoder as TorchScript; return the e2cnn network (for its GroupPooling)."""
    net = steerable_cnn(n, seed=seed)
    torch.jit.script(RegularEncoder(net, n)).save(path)
    return net


if __name__ == "__main__":
    save(sys.argv[1] if len(sys.argv) > 1 else "e2cnn.pt")
