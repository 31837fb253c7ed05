#!/usr/bin/env bash
# The paper's Tables 2, 3, 4 and 7 from nothing, in one script (issue 7), written to
# docs/RESULTS.md by examples/analysis/results_small.py from the benchmarks' JSON files.
#
#   1. data: `l2r synth` faces (train seed 1, test seed 2), `l2r degrade` to GT + 8x smaller
#      degraded inputs (the paper: 256 px GT, 32 px inputs);
#   2. the StyleGAN2 prior (`l2r train-prior` on the training GT, for PRIOR_MIN minutes), the
#      proxy on original images ("Unsup3D") and the proxy retrained on the degraded inputs;
#   3. the ARN on the original-image proxy, with the frozen prior and its Table 2/3 ablations
#      (no prior, no multi-style code, no spatial guidance, no prior decoder);
#   4. a GRN on each ARN, and on the full ARN w/o restored image and w/o displacement map;
#   5. mutual learning from each GRN, and from the full GRN w/o cross-view loss (alpha 0);
#   6. `l2r benchmark bfm | texture | identity` on the degraded test inputs, and on the original
#      ones for the 'origin' rows;
#   7. RESULTS (default docs/RESULTS.md; OUT/RESULTS.md for smoke) from the JSON files.
# Steps whose outputs exist are skipped, so an interrupted run continues when started again.
#
# PRESET=quick  about 70 minutes on 2 CPU cores: every stage and ablation, few steps
# PRESET=cpu    the budgets of docs/MEASUREMENTS.md's runs (several hours on 2 CPU cores)
# PRESET=smoke  minutes: every step with a handful of samples and steps (tests the plumbing)
#
#   PRESET=quick OUT=/tmp/repro bash examples/reproduce_small.sh
set -euo pipefail
PRESET=${PRESET:-quick}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=${OUT:-runs/reproduce_$PRESET}
case "$PRESET" in
  smoke) N_TRAIN=120 N_TEST=24 HQ_STEPS=20 PRIOR_MIN=1 LQ_STEPS=10 ARN_STEPS=6 GRN_STEPS=4
         MUTUAL_STEPS=4 ID_LIMIT=6 PRIOR_ARGS="--eval-images 0"
         RESULTS=${RESULTS:-$OUT/RESULTS.md} ;;
  quick) N_TRAIN=3000 N_TEST=200 HQ_STEPS=1500 PRIOR_MIN=8 LQ_STEPS=500 ARN_STEPS=300
         GRN_STEPS=100 MUTUAL_STEPS=60 ID_LIMIT=30 PRIOR_ARGS= ;;
  cpu)   N_TRAIN=10000 N_TEST=500 HQ_STEPS=7800 PRIOR_MIN=45 LQ_STEPS=1250 ARN_STEPS=800
         GRN_STEPS=300 MUTUAL_STEPS=200 ID_LIMIT=100 PRIOR_ARGS= ;;
  *) echo "PRESET must be smoke, quick or cpu, got '$PRESET'" >&2; exit 2 ;;
esac
RESULTS=${RESULTS:-$REPO/docs/RESULTS.md}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG="$OUT/commands.log"
TIMING="$OUT/timing.txt"
[ -f "$TIMING" ] || date -u +"started %F %T UTC (PRESET=$PRESET)" > "$TIMING"
stamp() { date -u +"$1 done %T" >> "$TIMING"; }
# run CMD...: log the command line, then run it
run() { printf '%q ' "$@" | sed 's/ $//' >> "$LOG"; echo >> "$LOG"; "$@"; }
have() { [ -f "$1/checkpoints/last.pt" ]; }
D="$OUT/data"

# 1. data
[ -f "$D/train/manifest.json" ] || run l2r synth "$D/train" --n "$N_TRAIN" --seed 1 \
    --splits 0.98,0.02,0 --overwrite
[ -f "$D/test/manifest.json" ] || run l2r synth "$D/test" --n "$N_TEST" --seed 2 \
    --splits 0,0,1 --overwrite
for s in train test; do
    [ -f "$OUT/deg_$s/manifest.json" ] || run l2r degrade "$D/$s/synface" "$OUT/deg_$s" \
        --gt-size 64 --lq-size 8 --variants 2 --crop none
done
stamp data

# 2. the prior (SIGINT after PRIOR_MIN minutes, then it exports prior.pt) and the two proxies
if [ ! -f "$OUT/prior/prior.pt" ]; then
    # shellcheck disable=SC2086  # PRIOR_ARGS is a list of words
    run timeout -s INT "$((PRIOR_MIN * 60))" l2r --seed 0 train-prior --data "$OUT/deg_train" \
        --out "$OUT/prior" --size 64 --max-channels 32 --style-dim 64 --n-mlp 2 \
        --batch-size 16 --r1-gamma 1 --num-workers 0 --ckpt-every 250 --epochs 100 \
        ${PRIOR_ARGS} || true
fi
[ -f "$OUT/prior/prior.pt" ] || { echo "no prior at $OUT/prior/prior.pt" >&2; exit 1; }
have "$OUT/proxy_hq" || run l2r --seed 0 train-proxy --data "$D/train" --out "$OUT/proxy_hq" \
    --config "$HERE/configs/proxy_synth_v5.toml" --nf 16 --zdim 128 --batch-size 16 \
    --epochs 1000 --num-workers 0 --ckpt-every 250 --max-steps "$HQ_STEPS"
have "$OUT/proxy_lq" || run l2r --seed 0 train-proxy --data "$OUT/deg_train" \
    --out "$OUT/proxy_lq" --input lq --config "$HERE/configs/proxy_synth_v2.toml" --nf 16 \
    --zdim 128 --batch-size 16 --epochs 100 --num-workers 0 --max-steps "$LQ_STEPS"
stamp "prior and proxies"

# 3.-5. ARN -> GRN -> mutual chains, two single-threaded jobs at a time
export OMP_NUM_THREADS=1
R="$OUT/l2r"
mkdir -p "$R"
COMMON=(--data "$OUT/deg_train" --batch-size 16 --epochs 100 --num-workers 0 --ckpt-every 100)
ARN=(train-arn "${COMMON[@]}" --proxy "$OUT/proxy_hq" --prior "$OUT/prior/prior.pt"
     --output-size 64 --nf 32 --zdim 128 --max-steps "$ARN_STEPS")
GRN=(train-grn "${COMMON[@]}" --nf 32 --zdim 128 --max-steps "$GRN_STEPS")
MUT=(train-mutual "${COMMON[@]}" --max-steps "$MUTUAL_STEPS")
# pair "CMD A" "CMD B": run two command lines side by side (either may be empty); fails after
# both ended if either failed
pair() {
    local pids=() c failed=0
    for c in "$@"; do
        [ -n "$c" ] || continue
        printf '%s\n' "$c" >> "$LOG"
        bash -c "$c" & pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c" || failed=1; done
    return "$failed"
}
# job NAME CMD...: the command line as one string, or nothing when NAME's run is finished
job() { local n=$1; shift; have "$R/$n" || printf '%q ' l2r --seed 0 "$@" --out "$R/$n"; }
pair "$(job arn "${ARN[@]}")" "$(job arn_noprior "${ARN[@]}" --no-use-prior)"
pair "$(job arn_nomulti "${ARN[@]}" --no-multi-style)" \
     "$(job arn_noguide "${ARN[@]}" --no-spatial-guidance)"
pair "$(job arn_nodecoder "${ARN[@]}" --no-prior-decoder)" \
     "$(job grn "${GRN[@]}" --arn "$R/arn")"
pair "$(job grn_noimg "${GRN[@]}" --arn "$R/arn" --no-use-restored)" \
     "$(job grn_nodisp "${GRN[@]}" --arn "$R/arn" --no-displacement)"
pair "$(job grn_noprior "${GRN[@]}" --arn "$R/arn_noprior")" \
     "$(job grn_nomulti "${GRN[@]}" --arn "$R/arn_nomulti")"
pair "$(job grn_noguide "${GRN[@]}" --arn "$R/arn_noguide")" \
     "$(job grn_nodecoder "${GRN[@]}" --arn "$R/arn_nodecoder")"
stamp "ARN and GRN"
pair "$(job mutual "${MUT[@]}" --grn "$R/grn")" \
     "$(job mutual_nocross "${MUT[@]}" --grn "$R/grn" --alpha 0)"
for p in "noimg nodisp" "noprior nomulti" "noguide nodecoder"; do
    set -- $p
    pair "$(job "mutual_$1" "${MUT[@]}" --grn "$R/grn_$1")" \
         "$(job "mutual_$2" "${MUT[@]}" --grn "$R/grn_$2")"
done
for n in arn arn_noprior arn_nomulti arn_noguide arn_nodecoder grn grn_noimg grn_nodisp \
         grn_noprior grn_nomulti grn_noguide grn_nodecoder mutual mutual_nocross mutual_noimg \
         mutual_nodisp mutual_noprior mutual_nomulti mutual_noguide mutual_nodecoder; do
    have "$R/$n" || { echo "training $n failed: no $R/$n/checkpoints/last.pt" >&2; exit 1; }
done
stamp mutual

# 6. benchmarks (each JSON file is written once; delete it to measure again)
export OMP_NUM_THREADS=2
ABL=("$R/mutual_noprior" "$R/mutual_nomulti" "$R/mutual_noguide" "$R/mutual_nodecoder"
     "$R/mutual_noimg" "$R/mutual_nodisp" "$R/mutual_nocross")
B="$OUT/bench"
mkdir -p "$B"
[ -f "$B/bfm_lq.json" ] || run l2r benchmark bfm --data "$OUT/deg_test" --input lq --baseline \
    --compare "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "$R/grn" "${ABL[@]}" \
    --json "$B/bfm_lq.json" --report "$B/report_bfm_lq"
[ -f "$B/bfm_origin.json" ] || run l2r benchmark bfm --data "$OUT/deg_test" --input image \
    "$OUT/proxy_hq" "$R/mutual" --json "$B/bfm_origin.json"
[ -f "$B/texture_lq.json" ] || run l2r benchmark texture --data "$OUT/deg_test" --input lq \
    "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "${ABL[@]}" --json "$B/texture_lq.json"
[ -f "$B/texture_origin.json" ] || run l2r benchmark texture --data "$OUT/deg_test" \
    --input image "$OUT/proxy_hq" --json "$B/texture_origin.json"
[ -f "$B/identity_lq.json" ] || run l2r benchmark identity --data "$OUT/deg_test" --input lq \
    "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "${ABL[@]}" --limit "$ID_LIMIT" \
    --json "$B/identity_lq.json"
[ -f "$B/identity_origin.json" ] || run l2r benchmark identity --data "$OUT/deg_test" \
    --input image "$OUT/proxy_hq" --limit "$ID_LIMIT" --json "$B/identity_origin.json"
stamp benchmarks

# 7. the tables
mkdir -p "$(dirname "$RESULTS")"
python "$HERE/analysis/results_small.py" "$OUT" --preset "$PRESET" > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo "wrote $RESULTS"
