#!/usr/bin/env bash
# How l2r_cli/weights/l2r_synth64.pt is made (docs/weights.md, "Bundled L2R weights"): the L2R
# path of `l2r reconstruct --model auto|l2r`, standing on the bundled proxy. About 45 minutes on
# 2 CPU cores. Steps whose outputs exist are skipped.
#   1. 3,000 `l2r synth` faces (seed 1) through `l2r degrade` to 64 px GT and 8 px inputs (8x);
#   2. a StyleGAN2 prior trained on them for 8 minutes (`l2r train-prior`, as PRESET=quick);
#   3. the ARN on the bundled proxy (600 steps of 16), the GRN (300) and mutual learning (600)
#      with examples/configs/l2r_synth_sup.toml (supervised depth in the view);
#   4. `l2r export-weights` of the mutual run: one self-contained float16 file.
# Usage: bash examples/l2r_weights.sh [OUT [DST]]   (from the repository root, after make install)
set -euo pipefail
OUT=${1:-runs/l2r_weights}
DST=${2:-$OUT/l2r_synth64.pt}
L2R=${L2R:-.venv/bin/l2r}
CFG=examples/configs/l2r_synth_sup.toml
mkdir -p "$OUT"
have() { [ -f "$1/checkpoints/last.pt" ]; }
[ -f "$OUT/data/manifest.json" ] || $L2R synth "$OUT/data" --n 3000 --seed 1 \
    --split 0.98,0.02,0 --overwrite
[ -f "$OUT/deg/manifest.json" ] || $L2R degrade "$OUT/data/synface" "$OUT/deg" --gt-size 64 \
    --lq-size 8 --variants 2 --crop none
if [ ! -f "$OUT/prior/prior.pt" ]; then
    timeout -s INT 480 $L2R --seed 0 train-prior --data "$OUT/deg" --out "$OUT/prior" --size 64 \
        --max-channels 32 --style-dim 64 --n-mlp 2 --batch-size 16 --r1-gamma 1 --workers 0 \
        --ckpt-every 250 --epochs 100 || true
fi
COMMON=(--data "$OUT/deg" --batch-size 16 --epochs 100 --workers 0 --ckpt-every 100)
have "$OUT/arn" || $L2R --seed 0 train-arn "${COMMON[@]}" --proxy bundled \
    --prior "$OUT/prior/prior.pt" --output-size 64 --nf 32 --zdim 128 --max-steps 600 \
    --out "$OUT/arn"
have "$OUT/grn" || $L2R --seed 0 train-grn "${COMMON[@]}" --nf 32 --zdim 128 --max-steps 300 \
    --arn "$OUT/arn" --out "$OUT/grn" --config "$CFG"
have "$OUT/mutual" || $L2R --seed 0 train-mutual "${COMMON[@]}" --max-steps 600 \
    --grn "$OUT/grn" --out "$OUT/mutual" --config "$CFG"
$L2R export-weights "$OUT/mutual" "$DST"
