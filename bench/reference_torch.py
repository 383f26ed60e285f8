"""The torch reference of bench_engine.py: what a user would write by hand (issue 24 §3).

Memory-maps a latent file's safetensors data, reduces it chunk by chunk with one torch call
(``max``/``mean``: over the group axis; ``sort``: torch.sort over the node axis by the first
channel, nodes gathered whole) and saves the result with safetensors. The map is numpy's
read-only shared one: ``safetensors.safe_open`` maps the file privately, which Linux refuses
for a file larger than RAM under its default overcommit rule.

    python bench/reference_torch.py max IN.st OUT.st
"""

import json
import sys
import warnings

import numpy as np
import torch
from safetensors.torch import save_file

warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
op, src, dest = sys.argv[1:4]
with open(src, "rb") as f:
    n = int.from_bytes(f.read(8), "little")
    info = json.loads(f.read(n))["z"]
z = np.memmap(src, np.float32, "r", 8 + n + info["data_offsets"][0], tuple(info["shape"]))
chunk = max(1, (64 << 20) // (4 * int(np.prod(z.shape[1:]))))
parts = []
for start in range(0, len(z), chunk):
    x = torch.from_numpy(z[start : start + chunk])
    if op == "max":
        parts.append(x.amax(dim=-1))
    elif op == "mean":
        parts.append(x.mean(dim=-1))
    else:
        order = torch.sort(x[:, :, 0], dim=1).indices
        parts.append(torch.take_along_dim(x, order[:, :, None], dim=1).flatten(1))
save_file({"z": torch.cat(parts)}, dest)
