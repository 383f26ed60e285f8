"""Recipe: a deployed NequIP model as a 3-D encoder for invlatent (run in NequIP's environment).

A deployed NequIP model (``nequip-deploy build``) is TorchScript that takes a dict of tensors
with the edges already built; invlatent calls an encoder with ``(positions [n, 3], numbers [n])``.
This wrapper builds the dict (all pairs within the model's ``r_max``, atomic numbers mapped to
the model's type indices), runs the model and returns its per-atom ``node_features``. Script it
and save it, then declare the irreps of ``node_features`` as the model lays them out, e.g.
``--group "sn*o3:32x0e+32x0o+16x1o+16x1e+8x2e+8x2o"`` (read them from the training config or
from ``model.irreps_out["node_features"]`` before deploying; do not sort them).

    python -m venv /tmp/nequip && /tmp/nequip/bin/pip install torch==2.13.0 nequip
    /tmp/nequip/bin/python examples/nequip_encoder.py deployed.pth nequip_encoder.pt
    invlatent check nequip_encoder.pt frames.extxyz --torchscript --group "sn*o3:IRREPS"
    invlatent encode nequip_encoder.pt frames.extxyz --torchscript --group "sn*o3:IRREPS" \\
        --rotate o3 --permute random > z.st

Pin ``torch==2.13.0`` in that environment too (an unpinned torch is a multi-GB CUDA build).
Written against NequIP 0.6's deployed-model interface (keys ``pos``, ``edge_index``,
``atom_types``, ``node_features``); nequip is not installed beside invlatent's pins, so this
script is not run by the test suite (the same path is, with an e3nn model:
``tests/test_mol3d_foreign.py``). Check the key names against your NequIP version.
"""

from __future__ import annotations

import sys

import torch


class NequipEncoder(torch.nn.Module):
    """``(positions [n, 3], numbers [n]) -> node_features [n, D]`` around a deployed model."""

    def __init__(self, model: torch.nn.Module, r_max: float, type_of_number: dict[int, int]):
        super().__init__()
        self.model = model
        self.r_max = r_max
        table = torch.full((119,), -1, dtype=torch.long)
        for z, t in type_of_number.items():
            table[z] = t
        self.register_buffer("types", table)

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        vec = positions[None, :, :] - positions[:, None, :]
        dist = torch.linalg.vector_norm(vec, dim=-1)
        edge_index = ((dist > 0) & (dist < self.r_max)).nonzero().t().contiguous()
        data: dict[str, torch.Tensor] = {
            "pos": positions,
            "edge_index": edge_index,
            "atom_types": self.types[numbers],
        }
        return self.model(data)["node_features"]


def main(deployed: str, out: str) -> None:
    """Wrap a deployed model (its ``r_max`` and ``type_names`` from its metadata) and save it."""
    from ase.data import atomic_numbers
    from nequip.scripts.deploy import load_deployed_model

    model, meta = load_deployed_model(deployed, device="cpu")
    names = meta["type_names"].split()
    types = {atomic_numbers[name]: i for i, name in enumerate(names)}
    torch.jit.script(NequipEncoder(model, float(meta["r_max"]), types)).save(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "nequip_encoder.pt")
