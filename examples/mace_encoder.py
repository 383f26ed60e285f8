"""Recipe: a MACE model's full ``node_feats`` as a 3-D encoder for invlatent (run in MACE's
own environment: ``mace-torch`` pins ``e3nn==0.4.4``).

``MaceEncoder`` builds the input dict a MACE model takes from ``(positions [n, 3], numbers
[n])`` — one-hot ``node_attrs`` over the model's ``atomic_numbers``, every ordered pair within
``r_max`` as ``edge_index`` (sender, receiver), zero shifts, one graph — runs the model and
returns ``node_feats [n, D]``: every interaction's features, concatenated in MACE's order. Its
irreps (``irreps_of(model)``, e.g. ``16x0e+16x1o+16x0e`` for ``hidden_irreps=16x0e+16x1o`` and
2 interactions: the last keeps only scalars) are the ``--group`` string, unsorted as MACE lays
them out. ``get_descriptors(invariants_only=True)`` would keep only the ``0e`` columns.

    python3 -m venv /tmp/mace && /tmp/mace/bin/pip install torch==2.13.0 mace-torch
    /tmp/mace/bin/python examples/mace_encoder.py my.model mace.pt    # prints the --group
    invlatent check  mace.pt frames.extxyz --torchscript --group "sn*o3:16x0e+16x1o+16x0e"
    invlatent encode mace.pt frames.extxyz --torchscript --group "sn*o3:16x0e+16x1o+16x0e" \\
        --rotate o3 --permute random > z.st

Without a model file, ``python examples/mace_encoder.py - mace.pt`` wraps a small untrained MACE.
"""

from __future__ import annotations

import sys

import torch

# e3nn 0.4.4 (mace-torch's pin) loads its own constants.pt, which holds slices: torch >= 2.6
# loads weights-only by default and refuses them unless allowed
torch.serialization.add_safe_globals([slice])


class MaceEncoder(torch.nn.Module):
    """``(positions [n, 3], numbers [n]) -> node_feats [n, D]`` around a MACE model."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.r_max = float(model.r_max.item())
        table = torch.full((119,), -1, dtype=torch.long)
        table[model.atomic_numbers] = torch.arange(len(model.atomic_numbers))
        self.register_buffer("index", table)
        self.n_elements = len(model.atomic_numbers)

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        n = positions.shape[0]
        dist = torch.linalg.vector_norm(positions[None, :, :] - positions[:, None, :], dim=-1)
        edge_index = ((dist > 0) & (dist < self.r_max)).nonzero().t().contiguous()
        attrs = torch.nn.functional.one_hot(self.index[numbers], self.n_elements)
        data = {
            "positions": positions.to(torch.float32),
            "node_attrs": attrs.to(torch.float32),
            "edge_index": edge_index,
            "shifts": torch.zeros(edge_index.shape[1], 3),
            "unit_shifts": torch.zeros(edge_index.shape[1], 3),
            "cell": torch.zeros(3, 3),
            "batch": torch.zeros(n, dtype=torch.long),
            "ptr": torch.tensor([0, n], dtype=torch.long),
        }
        out = self.model(data, compute_force=False)
        feats = out["node_feats"]
        assert feats is not None
        return feats


def irreps_of(model: torch.nn.Module) -> str:
    """The irreps of ``node_feats``: each product block's output, in MACE's order."""
    from e3nn import o3

    return "+".join(str(o3.Irreps(p.linear.irreps_out)) for p in model.products)


def small_mace(
    hidden: str = "16x0e+16x1o", elements=(1, 6, 7, 8, 9), r_max: float = 5.0, seed: int = 0
) -> torch.nn.Module:
    """A small MACE (2 interactions, l <= 2 harmonics, correlation 3) with seeded weights."""
    import numpy as np
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    return modules.MACE(
        r_max=r_max,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticInteractionBlock"],
        num_interactions=2,
        num_elements=len(elements),
        hidden_irreps=o3.Irreps(hidden),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(elements)),
        avg_num_neighbors=8.0,
        atomic_numbers=list(elements),
        correlation=3,
        gate=torch.nn.functional.silu,
    )


def save(model: torch.nn.Module, path: str) -> str:
    """Script the wrapped model (float32) with e3nn's compiler, save it, return its --group."""
    from e3nn.util import jit

    model = model.float().eval()
    group = f"sn*o3:{irreps_of(model)}"  # read before compiling
    inner = jit.compile(model)  # MACE's own modules, as MACE compiles them
    torch.jit.script(MaceEncoder(inner)).save(path)
    return group


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else "-"
    net = (
        small_mace()
        if source == "-"
        else torch.load(source, map_location="cpu", weights_only=False)
    )
    print(f'--group "{save(net, sys.argv[2] if len(sys.argv) > 2 else "mace.pt")}"')
