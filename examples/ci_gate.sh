#!/usr/bin/env bash
# A CI gate on an equivariant encoder's latents: encode (optional), project, check, probe.
# Fails the job (exit 1) when the projection is not invariant within MAX_ERROR, or when its
# probe score is not significantly better than the raw latents', or when the lower end of its
# 95 % interval falls below MIN_SCORE; exit 2 on bad input. See docs/ci.md.
#
#   examples/ci_gate.sh LATENTS.st            # gate a latent file you already have
#   examples/ci_gate.sh MODEL.pt DATA         # encode DATA with MODEL first (ENCODE_FLAGS)
#
# Settings (environment): INVLATENT (the command, default invlatent), OUT (folder, ci-out),
# METHOD (projection, power), MAX_ERROR (1e-4), MIN_SCORE (0.9), SEED (0),
# ENCODE_FLAGS (--rotate random; molecules: --permute random).
set -euo pipefail

INVLATENT=${INVLATENT:-invlatent}
OUT=${OUT:-ci-out}
METHOD=${METHOD:-power}
MAX_ERROR=${MAX_ERROR:-1e-4}
MIN_SCORE=${MIN_SCORE:-0.9}
SEED=${SEED:-0}
ENCODE_FLAGS=${ENCODE_FLAGS:---rotate random}

mkdir -p "$OUT"
if [ "$#" -eq 2 ]; then
    # shellcheck disable=SC2086  # ENCODE_FLAGS holds several words on purpose
    $INVLATENT encode "$1" "$2" $ENCODE_FLAGS --seed "$SEED" -o "$OUT/z.st"
    Z="$OUT/z.st"
elif [ "$#" -eq 1 ]; then
    Z="$1"
else
    echo "usage: $0 LATENTS.st | MODEL DATA" >&2
    exit 2
fi

$INVLATENT project --method "$METHOD" --seed "$SEED" "$Z" -o "$OUT/inv.st"
$INVLATENT check "$Z" -m "$METHOD" --max-error "$MAX_ERROR" --seed "$SEED" --json \
    > "$OUT/check.json"
$INVLATENT probe "$Z" "$OUT/inv.st" --seed "$SEED" -o "$OUT/probe.json" \
    --expect "$OUT/inv.st > $Z" --expect "$OUT/inv.st >= $MIN_SCORE"
echo "ci_gate: $METHOD is invariant within $MAX_ERROR and beats the raw latents" >&2
