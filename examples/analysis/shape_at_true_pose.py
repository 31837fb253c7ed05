"""Separate shape error from pose error: re-render a proxy's predicted canonical depth at the
TRUE view (and with its relief scaled) and score it like `l2r benchmark bfm` (docs/MEASUREMENTS.md).

    python examples/analysis/shape_at_true_pose.py CKPT DATA

`l2r benchmark bfm --diagnose` now reports its first split for every checkpoint ("SIDE shape
only", and "SIDE pose only" the other way round); this script adds the relief rescalings.
"""

import sys

import torch

from l2r_cli.data.dataset import L2RDataset
from l2r_cli.metrics import bfm_mask, mad, side
from l2r_cli.predictor import load_predictor
from l2r_cli.render import normals_from_depth
from l2r_cli.render.camera import intrinsics

p = load_predictor(sys.argv[1], torch.device("cpu"))
F_ = ("image", "depth", "canon_depth", "canon_mask", "view")
ds = L2RDataset(sys.argv[2], "test", fields=F_)
b = {k: torch.stack([ds[i][k] for i in range(200)]) for k in F_}
out = p.predict(b["image"] * 2 - 1)
R = p.model.renderer
K = intrinsics(64)
gtn = normals_from_depth(b["depth"], K)
cd = out["canon_depth"]


def score(name, cdepth, view):
    w = R.warp_depth(cdepth, view)
    mask = bfm_mask(b["depth"], w.mask)
    s = side(w.depth, b["depth"], mask)
    a = mad(R.normals(w.depth), gtn, mask)
    print(f"{name}: SIDE {s.mean() * 100:.3f} MAD {a.mean():.2f}")


score("pred depth, pred view", cd, out["view"])
tv = b["view"].clone()
score("pred depth, true view", cd, tv)
pv = out["view"].clone()
pv[:, :2] = b["view"][:, :2]
score("pred depth, true pitch/yaw, pred rest", cd, pv)
m = cd.mean((1, 2), keepdim=True)
for r in (0.8, 0.7, 0.6):
    score(f"pred depth relief x{r}, true view", m + (cd - m) * r, tv)
    v2 = out["view"].clone()
    v2[:, :2] /= r
    score(f"pred depth relief x{r}, pred view / {r}", m + (cd - m) * r, v2)
