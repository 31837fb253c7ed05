#!/usr/bin/env bash
# The paper's Tables 2, 3, 4 and 7 (and 5, 6 with their data) in one script (issue 7), written
# as Markdown by examples/analysis/results_small.py from the benchmarks' JSON files.
#
#   1. data: `l2r synth` faces (train seed 1, test seed 2) through `l2r degrade` to GT + 8x
#      smaller degraded inputs; PRESET=paper: your CelebA, CelebAMask-HQ/FFHQ and BFM folders;
#   2. the StyleGAN2 prior (`l2r train-prior` on the training GT for PRIOR_MIN minutes; paper:
#      the official weights you give), the proxy on original images ("Unsup3D") and the proxy
#      retrained on the degraded inputs;
#   3. the ARN on the original-image proxy, with the frozen prior and its Table 2/3 ablations
#      (no prior, no multi-style code, no spatial guidance, no prior decoder);
#   4. a GRN on each ARN, and on the full ARN w/o restored image and w/o displacement map;
#   5. mutual learning from each GRN, and from the full GRN w/o cross-view loss (alpha 0);
#   6. `l2r benchmark bfm | texture | identity` on the degraded test inputs, and on the original
#      ones for the 'origin' rows (paper: also 3dfaw and photoface when given);
#   7. RESULTS (quick/cpu: docs/RESULTS.md; smoke/paper: OUT/RESULTS.md) from the JSON files.
# Steps whose outputs exist are skipped, so an interrupted run continues when started again.
#
# PRESET=quick  about 70 minutes on 2 CPU cores: every stage and ablation, few steps
# PRESET=cpu    the budgets of docs/MEASUREMENTS.md's runs (several hours on 2 CPU cores)
# PRESET=smoke  minutes: every step with a handful of samples and steps (tests the plumbing)
# PRESET=paper  the paper's configuration (sec. 5; GPU): 64 px proxy on CelebA (160k/20k/20k,
#               batch 64, 30 epochs), 256 px GT and 32 px inputs from CelebAMask-HQ + FFHQ
#               (40k/10k/10k), the official StyleGAN2 FFHQ weights, ARN 30 / GRN 30 / mutual
#               20 epochs at batch 16; BFM, 3DFAW and Photoface test sets. It needs
#                 CELEBA=DIR   CelebA images (CELEBA_CROP="bbox list_bbox_celeba.txt" to crop
#                              each face around its box; default: centre square)
#                 HQ=DIR       CelebAMask-HQ and FFHQ images (one folder, searched recursively)
#                 PRIOR=FILE   official StyleGAN2 weights in rosinality's layout
#                 BFM=DIR      Unsup3D's synface data (test/image, test/depth)
#               and takes VGG=FILE (VGG16 state_dict for the proxy's perceptual loss),
#               FAW3D=DIR, PHOTOFACE=DIR [PHOTOFACE_LIST=FILE], EMBEDDER=FILE (e.g. ArcFace).
#               STEP_CAP=N adds --max-steps N to every training (a plumbing check).
#
#   PRESET=quick OUT=runs/repro bash examples/reproduce_small.sh
#   PRESET=paper OUT=runs/paper CELEBA=~/celeba/img_celeba HQ=~/hq PRIOR=~/sg2-ffhq-1024.pt \
#       BFM=~/unsup3d/synface FAW3D=~/3dfaw PHOTOFACE=~/PhotofaceDB \
#       bash examples/reproduce_small.sh
set -euo pipefail
PRESET=${PRESET:-quick}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=${OUT:-runs/reproduce_$PRESET}
JOBS=2          # trainings side by side, one thread each (CPU presets)
case "$PRESET" in
  smoke) N_TRAIN=120 N_TEST=24 HQ_STEPS=20 PRIOR_MIN=1 LQ_STEPS=10 ARN_STEPS=6 GRN_STEPS=4
         MUTUAL_STEPS=4 ID_LIMIT=6 PRIOR_ARGS="--eval-images 0"
         RESULTS=${RESULTS:-$OUT/RESULTS.md} ;;
  quick) N_TRAIN=3000 N_TEST=200 HQ_STEPS=1500 PRIOR_MIN=8 LQ_STEPS=500 ARN_STEPS=300
         GRN_STEPS=100 MUTUAL_STEPS=60 ID_LIMIT=30 PRIOR_ARGS= ;;
  cpu)   N_TRAIN=10000 N_TEST=500 HQ_STEPS=7800 PRIOR_MIN=45 LQ_STEPS=1250 ARN_STEPS=800
         GRN_STEPS=300 MUTUAL_STEPS=200 ID_LIMIT=100 PRIOR_ARGS= ;;
  paper) for v in CELEBA HQ PRIOR BFM; do
             [ -n "${!v:-}" ] || { echo "PRESET=paper needs $v (see the head of $0)" >&2; exit 2; }
         done
         for v in CELEBA HQ BFM ${FAW3D:+FAW3D} ${PHOTOFACE:+PHOTOFACE}; do
             [ -d "${!v}" ] || { echo "$v: no such folder: ${!v}" >&2; exit 2; }
         done
         for v in PRIOR ${VGG:+VGG} ${EMBEDDER:+EMBEDDER} ${PHOTOFACE_LIST:+PHOTOFACE_LIST}; do
             [ -f "${!v}" ] || { echo "$v: no such file: ${!v}" >&2; exit 2; }
         done
         ID_LIMIT=0 JOBS=1 RESULTS=${RESULTS:-$OUT/RESULTS.md} ;;
  *) echo "PRESET must be smoke, quick, cpu or paper, got '$PRESET'" >&2; exit 2 ;;
esac
RESULTS=${RESULTS:-$REPO/docs/RESULTS.md}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG="$OUT/commands.log"
TIMING="$OUT/timing.txt"
# the commit that trains (RESULTS' header names it; a resumed run adds its own)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain -- l2r_cli examples 2>/dev/null)" ]; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
if [ -f "$TIMING" ]; then
    date -u +"resumed %F %T UTC at commit $COMMIT (parts already done are skipped)" >> "$TIMING"
else
    date -u +"started %F %T UTC (PRESET=$PRESET) at commit $COMMIT" > "$TIMING"
fi
WORK=0
# stamp LABEL: note when a part ended, if it ran anything (or was never noted)
stamp() {
    if [ "$WORK" = 1 ] || ! grep -q "^$1 done" "$TIMING"; then
        date -u +"$1 done %T" >> "$TIMING"
    fi
    WORK=0
}
# quote ARGS...: the arguments as one shell line (plain words as they are)
quote() {
    local a line=
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then line+="$a "; else line+="$(printf '%q' "$a") "; fi
    done
    printf '%s' "${line% }"
}
# run CMD...: log the command line, then run it
run() { WORK=1; quote "$@" >> "$LOG"; echo >> "$LOG"; "$@"; }
have() { [ -f "$1/checkpoints/last.pt" ]; }
made() { [ -f "$1/manifest.json" ]; }
D="$OUT/data"

# 1. data, and each stage's budget
if [ "$PRESET" != paper ]; then
    made "$D/train" || run l2r synth "$D/train" --n "$N_TRAIN" --seed 1 \
        --split 0.98,0.02,0 --overwrite
    made "$D/test" || run l2r synth "$D/test" --n "$N_TEST" --seed 2 --split 0,0,1 --overwrite
    for s in train test; do
        made "$OUT/deg_$s" || run l2r degrade "$D/$s/synface" "$OUT/deg_$s" \
            --gt-size 64 --lq-size 8 --variants 2 --crop none
    done
    PROXY_DATA="$D/train" PROXY_LQ_DATA="$OUT/deg_train" TRAIN="$OUT/deg_train"
    TEST="$OUT/deg_test" BFM_TEST="$OUT/deg_test"
    # the template baseline: the training faces' mean canonical depth in each test face's
    # true view (the synth test set stores the views of the degraded copy's faces)
    BASELINES=(--baseline constant --baseline template --template "$D/train" --views "$D/test")
    HQ_ARGS=(--config "$HERE/configs/proxy_synth_v6.toml" --nf 16 --zdim 128 --batch-size 16
             --epochs 1000 --workers 0 --ckpt-every 250 --max-steps "$HQ_STEPS")
    LQ_ARGS=(--config "$HERE/configs/proxy_synth_v2_wide.toml" --nf 16 --zdim 128 --batch-size 16
             --epochs 100 --workers 0 --max-steps "$LQ_STEPS")
    COMMON=(--batch-size 16 --epochs 100 --workers 0 --ckpt-every 100)
    ARN_ARGS=(--output-size 64 --nf 32 --zdim 128 --max-steps "$ARN_STEPS")
    GRN_ARGS=(--nf 32 --zdim 128 --max-steps "$GRN_STEPS")
    MUT_ARGS=(--max-steps "$MUTUAL_STEPS")
else
    # shellcheck disable=SC2086  # CELEBA_CROP is "center" or "bbox FILE"
    made "$OUT/celeba" || run l2r degrade "$CELEBA" "$OUT/celeba" --gt-size 64 --lq-size 8 \
        --variants 1 --split 0.8,0.1,0.1 --crop ${CELEBA_CROP:-center}
    made "$OUT/hq" || run l2r degrade "$HQ" "$OUT/hq" --gt-size 256 --lq-size 32 --variants 4 \
        --split 4,1,1
    made "$OUT/bfm" || run l2r degrade "$BFM" "$OUT/bfm" --layout synface --gt-size 256 \
        --lq-size 32 --variants 1 --crop center --crop-scale 0.6640625
    PROXY_DATA="$OUT/celeba" PROXY_LQ_DATA="$OUT/celeba" TRAIN="$OUT/hq" TEST="$OUT/hq"
    BFM_TEST="$OUT/bfm"
    BASELINES=(--baseline constant)  # Unsup3D's BFM set stores no views to pose a template
    CAP=(${STEP_CAP:+--max-steps "$STEP_CAP"})
    HQ_ARGS=(--epochs 30 --batch-size 64 ${VGG:+--vgg-weights "$VGG"} "${CAP[@]}")
    LQ_ARGS=("${HQ_ARGS[@]}")
    COMMON=(--batch-size 16 --ckpt-every 2000)
    ARN_ARGS=(--epochs 30 "${CAP[@]}")
    GRN_ARGS=(--epochs 30 "${CAP[@]}")
    MUT_ARGS=(--epochs 20 "${CAP[@]}")
fi
stamp data

# 2. the prior (SIGINT after PRIOR_MIN minutes, then it exports prior.pt) and the two proxies
if [ "$PRESET" = paper ]; then
    PRIOR_PT=$PRIOR
else
    PRIOR_PT="$OUT/prior/prior.pt"
    if [ ! -f "$PRIOR_PT" ]; then
        # shellcheck disable=SC2086  # PRIOR_ARGS is a list of words
        run timeout -s INT "$((PRIOR_MIN * 60))" l2r --seed 0 train-prior --data "$TRAIN" \
            --out "$OUT/prior" --size 64 --max-channels 32 --style-dim 64 --n-mlp 2 \
            --batch-size 16 --r1-gamma 1 --workers 0 --ckpt-every 250 --epochs 100 \
            ${PRIOR_ARGS} || true
    fi
    [ -f "$PRIOR_PT" ] || { echo "no prior at $PRIOR_PT" >&2; exit 1; }
fi
have "$OUT/proxy_hq" || run l2r --seed 0 train-proxy --data "$PROXY_DATA" \
    --out "$OUT/proxy_hq" "${HQ_ARGS[@]}"
have "$OUT/proxy_lq" || run l2r --seed 0 train-proxy --data "$PROXY_LQ_DATA" \
    --out "$OUT/proxy_lq" --input lq "${LQ_ARGS[@]}"
stamp "prior and proxies"

# 3.-5. ARN -> GRN -> mutual chains, JOBS at a time (CPU: one thread each)
[ "$JOBS" = 1 ] || export OMP_NUM_THREADS=1
R="$OUT/l2r"
mkdir -p "$R"
COMMON=(--data "$TRAIN" "${COMMON[@]}")
ARN=(train-arn "${COMMON[@]}" --proxy "$OUT/proxy_hq" --prior "$PRIOR_PT" "${ARN_ARGS[@]}")
GRN=(train-grn "${COMMON[@]}" "${GRN_ARGS[@]}")
MUT=(train-mutual "${COMMON[@]}" "${MUT_ARGS[@]}")
# pair "CMD A" "CMD B": run two command lines (either may be empty) side by side, or one after
# the other when JOBS=1; fails after both ended if either failed
pair() {
    local pids=() c failed=0
    for c in "$@"; do
        [ -n "$c" ] || continue
        WORK=1
        printf '%s\n' "$c" >> "$LOG"
        if [ "$JOBS" = 1 ]; then bash -c "$c" || failed=1; else bash -c "$c" & pids+=($!); fi
    done
    for c in "${pids[@]}"; do wait "$c" || failed=1; done
    return "$failed"
}
# job NAME CMD...: the command line as one string, or nothing when NAME's run is finished
job() { local n=$1; shift; have "$R/$n" || quote l2r --seed 0 "$@" --out "$R/$n"; }
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
[ "$JOBS" = 1 ] || export OMP_NUM_THREADS=2
ABL=("$R/mutual_noprior" "$R/mutual_nomulti" "$R/mutual_noguide" "$R/mutual_nodecoder"
     "$R/mutual_noimg" "$R/mutual_nodisp" "$R/mutual_nocross")
EMB=(${EMBEDDER:+--embedder "$EMBEDDER"})
B="$OUT/bench"
mkdir -p "$B"
[ -f "$B/bfm_lq.json" ] || run l2r benchmark bfm --data "$BFM_TEST" --input lq "${BASELINES[@]}" \
    --compare "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "$R/grn" "${ABL[@]}" \
    --json "$B/bfm_lq.json" --report "$B/report_bfm_lq"
[ -f "$B/bfm_origin.json" ] || run l2r benchmark bfm --data "$BFM_TEST" --input image \
    "$OUT/proxy_hq" "$R/mutual" --json "$B/bfm_origin.json"
[ -f "$B/texture_lq.json" ] || run l2r benchmark texture --data "$TEST" --input lq \
    "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "${ABL[@]}" --json "$B/texture_lq.json"
[ -f "$B/texture_origin.json" ] || run l2r benchmark texture --data "$TEST" \
    --input image "$OUT/proxy_hq" --json "$B/texture_origin.json"
[ -f "$B/identity_lq.json" ] || run l2r benchmark identity --data "$TEST" --input lq \
    "$R/mutual" "$OUT/proxy_hq" "$OUT/proxy_lq" "$R/arn" "${ABL[@]}" --limit "$ID_LIMIT" \
    "${EMB[@]}" --json "$B/identity_lq.json"
[ -f "$B/identity_origin.json" ] || run l2r benchmark identity --data "$TEST" \
    --input image "$OUT/proxy_hq" --limit "$ID_LIMIT" "${EMB[@]}" --json "$B/identity_origin.json"
if [ -n "${FAW3D:-}" ] && [ ! -f "$B/3dfaw.json" ]; then
    run l2r benchmark 3dfaw --data "$FAW3D" "$R/mutual" "$OUT/proxy_hq" --compare --json "$B/3dfaw.json"
fi
if [ -n "${PHOTOFACE:-}" ] && [ ! -f "$B/photoface.json" ]; then
    run l2r benchmark photoface --data "$PHOTOFACE" "$R/mutual" "$OUT/proxy_hq" --compare \
        ${PHOTOFACE_LIST:+--list "$PHOTOFACE_LIST"} --json "$B/photoface.json"
fi
stamp benchmarks

# 7. the tables
mkdir -p "$(dirname "$RESULTS")"
python "$HERE/analysis/results_small.py" "$OUT" --preset "$PRESET" > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo "wrote $RESULTS"
