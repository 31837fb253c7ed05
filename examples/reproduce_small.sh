#!/usr/bin/env bash
# Issue 7: the paper's tables at small scale, from nothing, in one script.
#   1. data: `l2r synth` faces (train seed 1, test seed 2) and `l2r degrade` 64 px GT + 8 px
#      inputs;
#   2. the proxy on original images (the paper's CelebA-pretrained proxy);
#   3. examples/texture_8x.sh: StyleGAN2 prior, proxy on degraded inputs, ARN and its no-prior
#      ablation;
#   4. examples/geometry_8x.sh: ARN on the original-image proxy, GRN, mutual learning and the
#      ablations of Table 2;
#   5. every benchmark with --json, and $OUT/RESULTS_small.md written from the JSON by
#      examples/analysis/results_small.py (tables in the layout of Tables 2, 4 and 7).
#
# PRESET=cpu    the configuration of docs/RESULTS.md on 2 CPU cores (several hours in all)
# PRESET=quick  about 50 minutes on 2 CPU cores: every stage, short (orderings, not numbers)
# PRESET=smoke  minutes: every step runs with a handful of samples and steps (tests the plumbing)
# PRESET=paper  (not written yet: real photos, official StyleGAN2 weights and a GPU; issue 7)
#
#   PRESET=smoke OUT=/tmp/repro bash examples/reproduce_small.sh
set -euo pipefail
PRESET=${PRESET:-cpu}
OUT=${OUT:-runs/reproduce_small}
case "$PRESET" in
  smoke) N_TRAIN=120 N_TEST=24 HQ_STEPS=20 PRIOR_MIN=1 PROXY_STEPS=10 ARN_STEPS=6
         GRN_STEPS=4 MUTUAL_STEPS=4 ID_LIMIT=8 PRIOR_ARGS="--eval-images 0" ;;
  quick) N_TRAIN=3000 N_TEST=200 HQ_STEPS=1500 PRIOR_MIN=8 PROXY_STEPS=500 ARN_STEPS=300
         GRN_STEPS=100 MUTUAL_STEPS=60 ID_LIMIT=50 PRIOR_ARGS= ;;
  cpu)   N_TRAIN=10000 N_TEST=500 HQ_STEPS=7800 PRIOR_MIN=45 PROXY_STEPS=1250 ARN_STEPS=800
         GRN_STEPS=300 MUTUAL_STEPS=200 ID_LIMIT=100 PRIOR_ARGS= ;;
  *) echo "PRESET must be smoke, quick or cpu (paper scale is not written yet)" >&2; exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
date -u +"started %F %T UTC (PRESET=$PRESET)" > "$OUT/timing.txt"

# 1. data
[ -f "$OUT/data/train/manifest.json" ] || l2r synth "$OUT/data/train" --n "$N_TRAIN" --seed 1 \
    --splits 0.98,0.02,0 --overwrite
[ -f "$OUT/data/test/manifest.json" ] || l2r synth "$OUT/data/test" --n "$N_TEST" --seed 2 \
    --splits 0,0,1 --overwrite

# 2. proxy on original images (T6's recipe, docs/RESULTS.md footnote 8)
[ -f "$OUT/proxy_hq/checkpoints/last.pt" ] || l2r --seed 0 train-proxy --data "$OUT/data/train" \
    --out "$OUT/proxy_hq" --config "$HERE/configs/proxy_synth_v5.toml" --nf 16 --zdim 128 \
    --batch-size 16 --epochs 1000 --num-workers 0 --ckpt-every 250 --max-steps "$HQ_STEPS"
date -u +"proxy_hq done %T" >> "$OUT/timing.txt"

# 3. and 4.
DATA="$OUT/data" OUT="$OUT" PRIOR_MIN="$PRIOR_MIN" PRIOR_ARGS="$PRIOR_ARGS" \
    PROXY_STEPS="$PROXY_STEPS" ARN_STEPS="$ARN_STEPS" bash "$HERE/texture_8x.sh"
date -u +"texture_8x done %T" >> "$OUT/timing.txt"
OUT="$OUT" RUNS="$OUT/geometry" PROXY="$OUT/proxy_hq" ARN_STEPS="$ARN_STEPS" \
    GRN_STEPS="$GRN_STEPS" MUTUAL_STEPS="$MUTUAL_STEPS" bash "$HERE/geometry_8x.sh"
date -u +"geometry_8x done %T" >> "$OUT/timing.txt"

# 5. the remaining benchmarks
l2r benchmark bfm --data "$OUT/data/test" --baseline "$OUT/proxy_hq" \
    --json "$OUT/bfm_original.json" --report "$OUT/report_original"
G="$OUT/geometry"
l2r benchmark texture --data "$OUT/deg_test" --ckpt "$OUT/proxy_lq" --ckpt "$G/arn" \
    --ckpt "$G/grn" --ckpt "$G/mutual" --json "$OUT/texture_l2r.json"
l2r benchmark identity --data "$OUT/deg_test" "$OUT/proxy_lq" "$OUT/proxy_hq" "$G/grn" \
    "$G/mutual" --limit "$ID_LIMIT" --json "$OUT/identity.json"
date -u +"benchmarks done %T" >> "$OUT/timing.txt"
python "$HERE/analysis/results_small.py" "$OUT" > "$OUT/RESULTS_small.md"
echo "wrote $OUT/RESULTS_small.md"
