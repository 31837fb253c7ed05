#!/usr/bin/env bash
# Issue 5's geometry table at 8x degradation (docs/MEASUREMENTS.md, "Geometry at 8x"). On top of
# examples/texture_8x.sh's data, prior and lq-trained proxy (run that first, same OUT): as in
# the paper, the pipeline stands on a proxy pretrained on original-quality images (PROXY, e.g.
# a 45-minute `train-proxy` run on the l2r synth training set, docs/MEASUREMENTS.md T6); the ARN is
# trained on it with the frozen prior, then the GRN with the ARN frozen, then mutual learning
# with the cross-view adversarial loss, plus the Table 2 ablations (rows 7-9). Every stage is
# scored by `l2r benchmark bfm --compare` on the degraded test inputs, next to the proxy trained
# on the degraded inputs themselves (OUT/proxy_lq) and PROXY alone.
#
# CPU budget as run for docs/MEASUREMENTS.md (2 cores): the ARN on two threads, then two jobs at a time
# on one thread each. Steps are variables; on a GPU drop the caps and use the paper's 30 ARN,
# 30 GRN and 20 mutual epochs.
#   OUT=runs/texture_8x RUNS=runs/geometry_8x PROXY=runs/T6 bash examples/geometry_8x.sh
# (docs/MEASUREMENTS.md ran it with OUT=$RUNS/i4 RUNS=$RUNS/i5 PROXY=$RUNS/T6
# PRIOR=$RUNS/i4/prior_s2.pt, the folders named at its top.)
set -euo pipefail
OUT=${OUT:-runs/texture_8x}            # deg_train/, deg_test/, proxy_lq/ from texture_8x.sh
RUNS=${RUNS:-$OUT/geometry}
PROXY=${PROXY:?set PROXY to a proxy trained on original-quality images}
PRIOR=${PRIOR:-$OUT/prior/prior.pt}
ARN_STEPS=${ARN_STEPS:-800}
GRN_STEPS=${GRN_STEPS:-300}
MUTUAL_STEPS=${MUTUAL_STEPS:-200}
mkdir -p "$RUNS"
COMMON=(--data "$OUT/deg_train" --batch-size 16 --epochs 100 --workers 0 --ckpt-every 100)
GRN=(train-grn "${COMMON[@]}" --arn "$RUNS/arn" --nf 32 --zdim 128 --max-steps "$GRN_STEPS")
MUT=(train-mutual "${COMMON[@]}" --max-steps "$MUTUAL_STEPS")
have() { [ -f "$1/checkpoints/last.pt" ]; }

# 1. The ARN on PROXY, with the frozen prior (as texture_8x.sh step 4), on two threads.
have "$RUNS/arn" || OMP_NUM_THREADS=2 l2r --seed 0 train-arn "${COMMON[@]}" --proxy "$PROXY" \
    --prior "$PRIOR" --output-size 64 --nf 32 --zdim 128 --max-steps "$ARN_STEPS" --out "$RUNS/arn"

export OMP_NUM_THREADS=1
# 2. GRN: full, w/o restored image (row 7), w/o displacement map (row 8); two at a time.
(have "$RUNS/grn" || l2r --seed 0 "${GRN[@]}" --out "$RUNS/grn") &
(have "$RUNS/grn_noimg" || l2r --seed 0 "${GRN[@]}" --out "$RUNS/grn_noimg" --no-use-restored) &
wait
# 3. Mutual learning from each GRN; w/o cross-view loss (row 9) = alpha 0 from the full GRN.
(have "$RUNS/grn_nodisp" || l2r --seed 0 "${GRN[@]}" --out "$RUNS/grn_nodisp" --no-displacement) &
(have "$RUNS/mutual" || l2r --seed 0 "${MUT[@]}" --grn "$RUNS/grn" --out "$RUNS/mutual") &
wait
(have "$RUNS/mutual_nocross" || l2r --seed 0 "${MUT[@]}" --grn "$RUNS/grn" \
    --out "$RUNS/mutual_nocross" --alpha 0) &
(have "$RUNS/mutual_noimg" || l2r --seed 0 "${MUT[@]}" --grn "$RUNS/grn_noimg" \
    --out "$RUNS/mutual_noimg") &
wait
have "$RUNS/mutual_nodisp" || l2r --seed 0 "${MUT[@]}" --grn "$RUNS/grn_nodisp" \
    --out "$RUNS/mutual_nodisp"

# 4. The table on the degraded test inputs.
OMP_NUM_THREADS=2 l2r benchmark bfm --data "$OUT/deg_test" --input lq --baseline --compare \
    "$OUT/proxy_lq" "$PROXY" "$RUNS/arn" "$RUNS/grn" "$RUNS/mutual" "$RUNS/mutual_noimg" \
    "$RUNS/mutual_nodisp" "$RUNS/mutual_nocross" --json "$RUNS/geometry.json"
