#!/usr/bin/env bash
# The main job on the shipped data: raw equivariant latents vs their invariant projections.
# Every step is an ordinary invlatent command; results land in $DEMO_OUT (default out/demo).
set -euo pipefail
out=${DEMO_OUT:-out/demo}
mkdir -p "$out"
say() { printf '\n== %s\n' "$*" >&2; }

say "the shipped sample latents (one file per group action)"
invlatent inspect sample_latents/*.st

say "C8 regular fields: project to invariants (each a pipe stage that reads a file and writes one)"
for m in pool-mean pool-max power bispectrum canonical; do
  invlatent project --method "$m" sample_latents/c8.st -o "$out/c8_$m.st"
done
invlatent project --method random-max --dim 64 --seed 0 sample_latents/c8.st > "$out/c8_random-max.st"

say "measured guarantees: invariance error and retention of quotient distances"
invlatent check --pairs 500 --seed 0 sample_latents/c8.st

say "linear probe: raw latents vs invariant projections (5-fold, seeded)"
invlatent probe --task linear --seed 0 sample_latents/c8.st "$out"/c8_*.st -o "$out/probe_c8.json"

say "node sets (sn): sorting is an isometric cross section for d = 1, a lossless one for d > 1"
invlatent project --method sort sample_latents/sn.st -o "$out/sn_sort.st"
for m in colsort sortembed sum; do invlatent project --method "$m" sample_latents/sn.st -o "$out/sn_$m.st"; done
invlatent probe --task linear --seed 0 sample_latents/sn.st "$out"/sn_*.st -o "$out/probe_sn.json"

say "pictures: PCA of raw vs invariant latents, with orbits"
invlatent viz --method pca --orbits 3 --seed 0 sample_latents/c8.st "$out/c8_power.st" -o "$out/c8_pca.png"

say "done: outputs are in $out"
