"""Re-render the TRUE canonical depth at a scaled pose and relief and score it like
`l2r benchmark bfm` (docs/MEASUREMENTS.md, "What limits SIDE").

    python examples/analysis/pose_scale_oracle.py DATA     # DATA: an l2r synth test set
"""

import sys

import torch

from l2r_cli.data.dataset import L2RDataset
from l2r_cli.metrics import bfm_mask, mad, side
from l2r_cli.render import Renderer, normals_from_depth
from l2r_cli.render.camera import intrinsics

F_ = ("depth", "canon_depth", "canon_mask", "view")
ds = L2RDataset(sys.argv[1], "test", fields=F_)
b = {k: torch.stack([ds[i][k] for i in range(200)]) for k in F_}
R = Renderer(64, 10.0, 0.9, 1.1)
K = intrinsics(64)
gtn = normals_from_depth(b["depth"], K)
for ys, rs in ((1, 1), (0.665, 1), (0.665, 1.27), (1, 1.27), (0.5, 2.0)):
    v = b["view"].clone()
    v[:, :2] *= ys
    cd = b["canon_depth"]
    m = b["canon_mask"] > 0
    mean = (cd * m).flatten(1).sum(1) / m.flatten(1).sum(1)
    cd2 = torch.where(m, mean.view(-1, 1, 1) + (cd - mean.view(-1, 1, 1)) * rs, cd)
    w = R.warp_depth(cd2, v)
    mask = bfm_mask(b["depth"], w.mask)
    s = side(w.depth, b["depth"], mask)
    a = mad(R.normals(w.depth), gtn, mask)
    print(f"yaw/pitch x{ys} relief x{rs}: SIDE {s.mean() * 100:.3f} MAD {a.mean():.2f}")
