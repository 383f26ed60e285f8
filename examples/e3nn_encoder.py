"""Recipe: your own e3nn network as a 3-D encoder for invlatent (TorchScript).

invlatent calls a 3-D encoder once per structure with ``positions`` float32 ``[n, 3]`` (Å) and
atomic ``numbers`` int64 ``[n]``; it returns node features ``[n, D]`` whose columns are the
irreps you declare with ``--group "sn*o3:IRREPS"``, in your model's own order (here
``4x0e+2x1o+1x2e+2x0e``: unsorted and with ``0e`` twice, as MACE and NequIP lay theirs out).
This one is a small untrained message-passing layer (e3nn spherical harmonics of the edges, a
Gaussian radial basis and MLP, a tensor product, a linear map); put your trained model in its place.

    python examples/e3nn_encoder.py e3nn.pt
    invlatent check e3nn.pt frames.extxyz --torchscript --group "sn*o3:4x0e+2x1o+1x2e+2x0e"
    invlatent encode e3nn.pt frames.extxyz --torchscript --group "sn*o3:4x0e+2x1o+1x2e+2x0e" \\
        --rotate o3 --permute random > z.st
    invlatent project --method norm-sum z.st > p.st
    invlatent probe --task ridge --target energy z.st p.st
"""

from __future__ import annotations

import sys

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet
from e3nn.util.jit import compile_mode

IRREPS = "4x0e+2x1o+1x2e+2x0e"


@compile_mode("script")
class E3nnEncoder(torch.nn.Module):
    """One equivariant message-passing layer: (positions [n, 3], numbers [n]) → [n, D]."""

    def __init__(self, irreps_out: str = IRREPS, r_cut: float = 5.0, n_basis: int = 8) -> None:
        super().__init__()
        self.r_cut, self.n_basis = r_cut, n_basis
        self.embed = torch.nn.Embedding(119, 8)
        sh = o3.Irreps.spherical_harmonics(2)
        hidden = o3.Irreps("8x0e+4x1o+2x2e")
        self.sh = o3.SphericalHarmonics(sh, normalize=True, normalization="component")
        self.tp = o3.FullyConnectedTensorProduct("8x0e", sh, hidden, shared_weights=False)
        silu = torch.nn.functional.silu
        self.radial = FullyConnectedNet([n_basis, 16, self.tp.weight_numel], silu)
        self.out = o3.Linear(hidden, o3.Irreps(irreps_out))

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        vec = positions[:, None, :] - positions[None, :, :]  # [n, n, 3]: from atom j to atom i
        dist = torch.linalg.vector_norm(vec, dim=-1)
        dst, src = ((dist > 0) & (dist < self.r_cut)).nonzero().unbind(1)
        d = dist[dst, src][:, None]
        centres = torch.linspace(0.0, self.r_cut, self.n_basis)
        cutoff = 0.5 * (torch.cos(torch.pi * d / self.r_cut) + 1.0)  # smooth to zero at r_cut
        basis = torch.exp(-((d - centres) ** 2) * (self.n_basis / self.r_cut) ** 2) * cutoff
        messages = self.tp(self.embed(numbers)[src], self.sh(vec[dst, src]), self.radial(basis))
        nodes = torch.zeros(len(numbers), messages.shape[1], dtype=messages.dtype)
        return self.out(nodes.index_add(0, dst, messages))


def save(path: str, irreps: str = IRREPS, seed: int = 0) -> None:
    """Build the encoder with seeded weights and save it as TorchScript."""
    from e3nn.util.jit import script

    torch.manual_seed(seed)
    script(E3nnEncoder(irreps).eval()).save(path)


if __name__ == "__main__":
    save(sys.argv[1] if len(sys.argv) > 1 else "e3nn.pt")
