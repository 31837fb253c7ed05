#!/usr/bin/env bash
# docs/photos_benchmark.md: `l2r benchmark photos` with the bundled weights on real photos the
# model never saw: the test images of face_recognition 1.3.0 and insightface 2.1 (from their
# source archives on PyPI) plus scikit-image's astronaut, as examples/real_photos.sh gathers
# them, less 32bit.png (the same photo as obama2.jpg, saved as a 32-bit PNG: a duplicate
# face would count twice). They are not part of l2r. Needs network access to PyPI once.
# Usage: bash examples/photos_benchmark.sh [OUT]   (from the repository root, after make install)
set -euo pipefail
OUT=${1:-photos_benchmark}
PY=${PY:-.venv/bin/python}
L2R=${L2R:-.venv/bin/l2r}
mkdir -p "$OUT/src" "$OUT/photos"
$PY -m pip download -q --no-deps --no-binary :all: face_recognition==1.3.0 insightface==2.1 -d "$OUT/src"
tar xzf "$OUT/src/face_recognition-1.3.0.tar.gz" -C "$OUT/src" --wildcards '*/tests/test_images/*'
tar xzf "$OUT/src/insightface-2.1.tar.gz" -C "$OUT/src" --wildcards '*/data/images/*'
cp "$OUT"/src/face_recognition-1.3.0/tests/test_images/*.jpg "$OUT/photos/"
cp "$OUT"/src/insightface-2.1/insightface/data/images/{t1.jpg,Tom_Hanks_54745.png,mask_white.jpg,mask_blue.jpg} "$OUT/photos/"
$PY - "$OUT/photos/astronaut.png" <<'PY'
import sys
from PIL import Image
from skimage import data
Image.fromarray(data.astronaut()).save(sys.argv[1])
PY
# No .pts files here: dlib finds the 68 landmarks (the two masked faces are not found and are
# skipped with a note). Put iBUG .pts files beside photos to use annotated landmarks instead.
$L2R --device cpu benchmark photos "$OUT/photos" --json "$OUT/photos.json" --report "$OUT/report"
