"""Correlation of a proxy's canonical-depth tilt with the true pose on 200 synth test faces
(docs/proxy.md, docs/MEASUREMENTS.md).   python examples/analysis/depth_tilt.py CKPT DATA

Fits depth = c0 + c1 x + c2 y on the central part of the canonical grid and correlates c1 with
the true yaw and c2 with the true pitch.
"""

import sys

import torch

from l2r_cli.data.dataset import L2RDataset
from l2r_cli.predictor import load_predictor

p = load_predictor(sys.argv[1], torch.device("cpu"))
ds = L2RDataset(sys.argv[2], "test", fields=("image", "view"))
n = 200
b = {k: torch.stack([ds[i][k] for i in range(n)]) for k in ("image", "view")}
out = p.predict(b["image"] * 2 - 1)
d = out["canon_depth"]  # B,S,S
S = d.shape[-1]
ys, xs = torch.meshgrid(torch.linspace(-1, 1, S), torch.linspace(-1, 1, S), indexing="ij")
m = (xs.abs() < 0.6) & (ys.abs() < 0.7)
A = torch.stack([torch.ones_like(xs[m]), xs[m], ys[m]], 1)
coef = torch.linalg.lstsq(A, d[:, m].T).solution.T  # B,3
v = b["view"]
pv = out["view"]
print("true view cols std", v.std(0))
for name, ci, vi in (("x-tilt vs yaw", 1, 1), ("y-tilt vs pitch", 2, 0)):
    t = v[:, vi] - v[:, vi].mean()
    q = coef[:, ci] - coef[:, ci].mean()
    print(
        name,
        f"corr {float((t * q).sum() / ((t * t).sum() * (q * q).sum()).sqrt()):.3f}",
        f"tilt std {float(q.std()):.4f}",
    )
print("pred view std", pv.std(0))
