#!/usr/bin/env bash
# Issue 5's geometry table at 8x degradation (docs/RESULTS.md, "Geometry at 8x"): on top of
# examples/texture_8x.sh's data, proxy and ARN (run that first, same OUT), train the GRN with the
# ARN frozen, then mutual learning with the cross-view adversarial loss, plus the Table 2
# ablations (rows 7-9), and score every stage with `l2r benchmark bfm --compare` on the degraded
# test inputs.
#
# CPU budget as run for RESULTS.md (2 cores, two jobs at a time, one thread each): every GRN
# GRN_STEPS steps, every mutual run MUTUAL_STEPS steps. Steps are variables; a GPU takes the
# same commands with the paper's 30 + 20 epochs (drop --max-steps).
#   OUT=/work/i4 ARN=/work/i4/arn2 bash examples/geometry_8x.sh
set -euo pipefail
OUT=${OUT:-runs/texture_8x}
ARN=${ARN:-$OUT/arn}                   # the ARN with the frozen prior (texture_8x.sh step 4)
GRN_STEPS=${GRN_STEPS:-600}
MUTUAL_STEPS=${MUTUAL_STEPS:-300}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
COMMON=(--data "$OUT/deg_train" --batch-size 16 --epochs 100 --num-workers 0 --ckpt-every 100)
GRN=(train-grn "${COMMON[@]}" --arn "$ARN" --nf 32 --zdim 128 --max-steps "$GRN_STEPS")
MUT=(train-mutual "${COMMON[@]}" --max-steps "$MUTUAL_STEPS")
done_run() { [ -f "$1/checkpoints/last.pt" ] && [ "$(l2r info "$1" --json 2>/dev/null \
    | python -c 'import json,sys; print(json.load(sys.stdin).get("step", 0))')" -ge "$2" ]; }

# 1. GRN: full, w/o restored image (row 7), w/o displacement map (row 8); two at a time.
done_run "$OUT/grn" "$GRN_STEPS" || l2r --seed 0 "${GRN[@]}" --out "$OUT/grn" &
done_run "$OUT/grn_noimg" "$GRN_STEPS" || l2r --seed 0 "${GRN[@]}" --out "$OUT/grn_noimg" \
    --no-use-restored &
wait
done_run "$OUT/grn_nodisp" "$GRN_STEPS" || l2r --seed 0 "${GRN[@]}" --out "$OUT/grn_nodisp" \
    --no-displacement &
# 2. Mutual learning from each GRN; w/o cross-view loss (row 9) = alpha 0 from the full GRN.
done_run "$OUT/mutual" "$MUTUAL_STEPS" || l2r --seed 0 "${MUT[@]}" --grn "$OUT/grn" \
    --out "$OUT/mutual" &
wait
done_run "$OUT/mutual_nocross" "$MUTUAL_STEPS" || l2r --seed 0 "${MUT[@]}" --grn "$OUT/grn" \
    --out "$OUT/mutual_nocross" --alpha 0 &
done_run "$OUT/mutual_noimg" "$MUTUAL_STEPS" || l2r --seed 0 "${MUT[@]}" --grn "$OUT/grn_noimg" \
    --out "$OUT/mutual_noimg" &
wait
done_run "$OUT/mutual_nodisp" "$MUTUAL_STEPS" || l2r --seed 0 "${MUT[@]}" \
    --grn "$OUT/grn_nodisp" --out "$OUT/mutual_nodisp"

# 3. The table: proxy on the same degraded inputs, then every stage and ablation.
OMP_NUM_THREADS=2 l2r benchmark bfm --data "$OUT/deg_test" --input lq --baseline --compare \
    "$OUT/proxy_lq" "$ARN" "$OUT/grn" "$OUT/mutual" "$OUT/mutual_noimg" "$OUT/mutual_nodisp" \
    "$OUT/mutual_nocross" --json "$OUT/geometry.json"
