#!/usr/bin/env bash
# The main job on a bundled default (`make demo`): reconstruct the 3D face in a public-domain
# photo (NASA's portrait of Eileen Collins, shipped with scikit-image as astronaut.png) with
# the bundled weights, then render novel views, relighting and a turntable.
# About 15 seconds on 2 CPU cores. Output: demo_out/ (OUT=...).
set -euo pipefail
OUT=${OUT:-demo_out}
mkdir -p "$OUT"
python - "$OUT/astronaut.png" <<'PY'
import sys
from PIL import Image
from skimage import data
Image.fromarray(data.astronaut()).save(sys.argv[1])
PY
l2r reconstruct "$OUT/astronaut.png" --out "$OUT" --mesh "$OUT/astronaut.glb"
l2r render-views "$OUT/astronaut/face0" --yaw -45:45:7 --light predicted --light -0.7,0.3 \
    --grid "$OUT/astronaut_views.png" --turntable "$OUT/astronaut_turntable.gif"
echo "mesh: $OUT/astronaut.glb (and $OUT/astronaut/face0/mesh.{ply,obj,glb})"
echo "maps: $OUT/astronaut/face0/   views: $OUT/astronaut_views.png   turntable: $OUT/astronaut_turntable.gif"
