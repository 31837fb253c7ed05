"""Paired per-face differences between two models of one `l2r benchmark photos --json` file
(docs/reconstruct.md, "Small faces: the L2R path"): yaw and pitch error and landmark-depth r of
OTHER minus REF on the same faces, with the standard error of the mean difference.

    python examples/analysis/photos_paired.py PHOTOS.json REF OTHER   (model names of the JSON)
"""

import json
import sys

import numpy as np

path, ref, other = sys.argv[1:4]
rows = {r["name"]: r["faces"] for r in json.loads(open(path).read())["results"]}
for name in (ref, other):
    if name not in rows:
        sys.exit(f"{path}: no model '{name}' (it has {', '.join(rows)})")
for key in ("model_yaw_err", "model_pitch_err", "model_depth_r"):
    a = np.array([f[key] for f in rows[ref]])
    b = np.array([f[key] for f in rows[other]])
    d = b - a
    se = d.std(ddof=1) / np.sqrt(len(d))
    print(f"{key[6:]}: {ref} {a.mean():.2f} -> {other} {b.mean():.2f} "
          f"({d.mean():+.2f} +- {se:.2f}, n {len(d)})")  # fmt: skip
