#!/usr/bin/env bash
# docs/MEASUREMENTS.md "Real photos": l2r reconstruct on real photos the bundled model never saw.
# The photos come from two packages' source archives on PyPI (test images of face_recognition
# 1.3.0 and insightface 2.1, including a 112 px aligned face and a group photo) plus
# scikit-image's astronaut; they are not part of l2r. Needs network access to PyPI once.
# Usage: bash examples/real_photos.sh [OUT]   (run from the repository root, after make install)
set -euo pipefail
OUT=${1:-real_photos}
PY=${PY:-.venv/bin/python}
L2R=${L2R:-.venv/bin/l2r}
mkdir -p "$OUT/photos"
bash examples/public_photos.sh "$OUT/src"
cp "$OUT"/src/face_recognition-1.3.0/tests/test_images/*.jpg "$OUT/photos/"
cp "$OUT"/src/face_recognition-1.3.0/tests/test_images/32bit.png "$OUT/photos/"
cp "$OUT"/src/insightface-2.1/insightface/data/images/{t1.jpg,Tom_Hanks_54745.png,mask_white.jpg,mask_blue.jpg} "$OUT/photos/"
cp "$OUT/src/astronaut.png" "$OUT/photos/"
rm -rf "$OUT/out"
$L2R --device cpu reconstruct "$OUT/photos" --out "$OUT/out" || echo "(exit $?: some photos had no face)"
$PY examples/analysis/landmark_check.py "$OUT/out"
