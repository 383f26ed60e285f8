"""Re-make the files in sample_latents/: one small orbit-labelled latent file per action kind."""

from __future__ import annotations

import os
import sys

from invlatent.format.latentfile import write
from invlatent.format.synthetic import make_synthetic

SAMPLES = {
    "c8.st": dict(action="c8", fields=8),
    "d4.st": dict(action="d4", fields=8),
    "so2.st": dict(action="so2:0,0,1,1,1,1,2,2,3", noise=0.05),
    "sn.st": dict(action="sn", n_nodes=9, node_dim=4, noise=0.05),
    "trivial.st": dict(action="trivial", fields=8, noise=1.0),
    "o3.st": dict(action="o3:2x0e+4x1o+2x2e", noise=0.05),
    "sn_o3.st": dict(action="sn*o3:1x0e+2x1o+1x2e", n_nodes=5, noise=0.05),
}


def main(folder: str) -> None:
    """Write every sample file into ``folder`` (seeded, so the bytes are reproducible)."""
    os.makedirs(folder, exist_ok=True)
    for name, spec in SAMPLES.items():
        spec = dict(spec)
        write(
            make_synthetic(spec.pop("action"), n_samples=400, seed=0, **spec),
            os.path.join(folder, name),
        )
        print(f"wrote {os.path.join(folder, name)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sample_latents")
