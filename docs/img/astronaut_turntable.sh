#!/usr/bin/env bash
# Makes docs/img/astronaut_turntable.png (the README's picture): `make demo`'s outputs, then the
# aligned input crop and 8 frames of the turntable side by side. Run from the repository root.
set -euo pipefail
make demo
.venv/bin/python - <<'PY'
import numpy as np
from PIL import Image
crop = Image.open("demo_out/astronaut/face0/input.png").convert("RGB").resize((160, 160), Image.BICUBIC)
gif = Image.open("demo_out/astronaut_turntable.gif")
frames = []
for k in range(0, gif.n_frames, gif.n_frames // 8):
    gif.seek(k)
    frames.append(gif.convert("RGB").resize((160, 160), Image.BICUBIC))
row = np.concatenate([np.asarray(crop)] + [np.asarray(f) for f in frames[:8]], axis=1)
Image.fromarray(row).save("docs/img/astronaut_turntable.png", optimize=True)
PY
