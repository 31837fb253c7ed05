#!/usr/bin/env bash
# Makes docs/img/astronaut_turntable.png (the README's picture): `make demo`'s outputs, then the
# same face with `--texture photo`; per row the aligned input crop and 8 turntable frames
# (top: the model's albedo, bottom: the photo texture). Run from the repository root.
set -euo pipefail
make demo
.venv/bin/l2r reconstruct demo_out/astronaut.png --texture photo --out demo_out/photo_texture \
    --format glb
.venv/bin/l2r render-views demo_out/photo_texture/astronaut/face0 --texture photo \
    --turntable demo_out/astronaut_turntable_photo.gif
.venv/bin/python - <<'PY'
import numpy as np
from PIL import Image

def row(crop_png, gif_path):
    crop = Image.open(crop_png).convert("RGB").resize((160, 160), Image.BICUBIC)
    gif = Image.open(gif_path)
    frames = []
    for k in range(0, gif.n_frames, gif.n_frames // 8):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB").resize((160, 160), Image.BICUBIC)))
    return np.concatenate([np.asarray(crop)] + frames[:8], axis=1)

top = row("demo_out/astronaut/face0/input.png", "demo_out/astronaut_turntable.gif")
bottom = row("demo_out/photo_texture/astronaut/face0/input.png",
             "demo_out/astronaut_turntable_photo.gif")
Image.fromarray(np.concatenate([top, bottom], axis=0)).save(
    "docs/img/astronaut_turntable.png", optimize=True)
PY
