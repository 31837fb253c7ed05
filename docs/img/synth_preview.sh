#!/usr/bin/env bash
# Regenerates the sheets shown in docs/synth.md from the repo root:
#   bash docs/img/synth_preview.sh
# docs/img/synth_preview.png is version 2 (the default), docs/img/synth_preview_v1.png version 1.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
l2r synth "$tmp/synth" --n 8 --seed 0 --preview docs/img/synth_preview.png
l2r synth "$tmp/synth_v1" --n 8 --seed 0 --version 1 --preview docs/img/synth_preview_v1.png
