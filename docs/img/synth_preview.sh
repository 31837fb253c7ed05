#!/usr/bin/env bash
# Regenerates docs/img/synth_preview.png (the sheet shown in docs/synth.md) from the repo root:
#   bash docs/img/synth_preview.sh
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
l2r synth "$tmp/synth" --n 8 --seed 0 --preview docs/img/synth_preview.png
