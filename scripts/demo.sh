#!/usr/bin/env bash
# The main job on the shipped data: raw equivariant latents vs their invariant projections.
set -euo pipefail
out=${DEMO_OUT:-out/demo}
mkdir -p "$out"
echo "== the shipped sample latents" >&2
invlatent inspect sample_latents/*.st
echo "== import: wrap a plain .npz as a c8 latent file and read it back" >&2
python - "$out" <<'PY'
import sys
import numpy as np
from invlatent.synthetic import make_synthetic
lf = make_synthetic("c8", n_samples=200, seed=1)
np.savez(f"{sys.argv[1]}/foreign.npz", z=lf.z, labels=lf.labels)
PY
invlatent import "$out/foreign.npz" --group c8 -o "$out/foreign.st"
invlatent inspect "$out/foreign.st"
echo "demo outputs are in $out" >&2
