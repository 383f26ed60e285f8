"""The torch reference of bench_engine.py: what a user would write by hand (issue 24 §3).

Memory-maps a latent file's safetensors data, reduces it chunk by chunk with one torch call
(``max``/``mean``: over the group axis; ``sort``: torch.sort over the node axis by the first
channel, nodes gathered whole) and saves the result with safetensors.

    python bench/reference_torch.py max IN.st OUT.st
"""

import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

op, src, dest = sys.argv[1:4]
with safe_open(src, framework="pt") as f:
    z = f.get_slice("z")
    rows = z.get_shape()[0]
    chunk = max(1, (64 << 20) // (4 * int(torch.tensor(z.get_shape()[1:]).prod())))
    parts = []
    for start in range(0, rows, chunk):
        x = z[start : start + chunk]
        if op == "max":
            parts.append(x.amax(dim=-1))
        elif op == "mean":
            parts.append(x.mean(dim=-1))
        else:
            order = torch.sort(x[:, :, 0], dim=1).indices
            parts.append(torch.take_along_dim(x, order[:, :, None], dim=1).flatten(1))
save_file({"z": torch.cat(parts)}, dest)
