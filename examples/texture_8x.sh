#!/usr/bin/env bash
# Issue 4's texture table at 8x degradation (docs/MEASUREMENTS.md, "Texture SSIM at 8x"): l2r synth
# faces, 64 px ground truth from 8 px inputs; a StyleGAN2 prior trained by `l2r train-prior` on
# the training split's GT images; the proxy on the degraded inputs; the ARN with the frozen
# prior and the no-prior ablation (same architecture, generator trained from scratch);
# `l2r benchmark texture` on the test split.
#
# CPU budget as run for docs/MEASUREMENTS.md (2 cores, one job per core): prior 45 min, proxy 1,250
# steps, each ARN 1,200 steps. Steps and times are variables; a GPU takes the same commands.
#   DATA=data OUT=runs/texture_8x bash examples/texture_8x.sh
# (docs/MEASUREMENTS.md ran it with DATA=$DATA OUT=$RUNS/i4, the folders named at its top.)
set -euo pipefail
DATA=${DATA:-data}                  # holds train/ and test/ from `l2r synth` (docs/MEASUREMENTS.md)
OUT=${OUT:-runs/texture_8x}
PRIOR_MIN=${PRIOR_MIN:-45}          # wall-clock minutes of prior training (SIGINT, then export)
PROXY_STEPS=${PROXY_STEPS:-1250}
ARN_STEPS=${ARN_STEPS:-1200}
# PRIOR_ARGS: extra train-prior options (e.g. "--eval-images 0" for tiny data)
mkdir -p "$OUT"

# 1. 64 px GT + two 8 px degraded variants per face (train/val from the train set, test apart).
[ -f "$OUT/deg_train/manifest.json" ] || l2r degrade "$DATA/train/synface" "$OUT/deg_train" \
    --gt-size 64 --lq-size 8 --variants 2 --crop none
[ -f "$OUT/deg_test/manifest.json" ] || l2r degrade "$DATA/test/synface" "$OUT/deg_test" \
    --gt-size 64 --lq-size 8 --variants 2 --crop none

# 2. The prior: StyleGAN2 at 64 px, widths capped at 32, on the GT images, for PRIOR_MIN minutes.
if [ ! -f "$OUT/prior/prior.pt" ]; then
    timeout -s INT "$((PRIOR_MIN * 60))" l2r --seed 0 train-prior --data "$OUT/deg_train" \
        --out "$OUT/prior" --size 64 --max-channels 32 --style-dim 64 --n-mlp 2 \
        --batch-size 16 --r1-gamma 1 --workers 0 --ckpt-every 250 --epochs 100 \
        ${PRIOR_ARGS:-} || true
fi

# 3. The proxy on the degraded inputs (8 px upsampled to 64).
[ -f "$OUT/proxy_lq/checkpoints/last.pt" ] || l2r --seed 0 train-proxy --data "$OUT/deg_train" \
    --out "$OUT/proxy_lq" --input lq --config examples/configs/proxy_synth_v2.toml \
    --nf 16 --zdim 128 --batch-size 16 --epochs 100 --workers 0 --max-steps "$PROXY_STEPS"

# 4. The ARN with the frozen prior, and without it (the generator trained from scratch).
ARN=(--data "$OUT/deg_train" --proxy "$OUT/proxy_lq" --prior "$OUT/prior/prior.pt"
     --output-size 64 --nf 32 --zdim 128 --batch-size 16 --epochs 100 --workers 0
     --max-steps "$ARN_STEPS")
[ -f "$OUT/arn/checkpoints/last.pt" ] || l2r --seed 0 train-arn "${ARN[@]}" --out "$OUT/arn"
[ -f "$OUT/arn_noprior/checkpoints/last.pt" ] || l2r --seed 0 train-arn "${ARN[@]}" \
    --out "$OUT/arn_noprior" --no-use-prior

# 5. Texture SSIM on the test faces (an 'arn' checkpoint also rates its proxy alone).
l2r benchmark texture --data "$OUT/deg_test" --input lq --ckpt "$OUT/arn" --ckpt "$OUT/arn_noprior" \
    --json "$OUT/texture.json"
