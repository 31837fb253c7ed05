"""Predicted vs true pose of a proxy, split by how textured the image background is (thirds of
the test set by mean high-pass magnitude outside the face mask); docs/MEASUREMENTS.md.

    python examples/analysis/pose_by_background.py CKPT DATA
"""

import sys

import torch
import torch.nn.functional as F

from l2r_cli.benchmark.diagnose import fit_axis
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.predictor import load_predictor

p = load_predictor(sys.argv[1], torch.device("cpu"))
ds = L2RDataset(sys.argv[2], "test", fields=("image", "view", "mask"))
n = 500
b = {k: torch.stack([ds[i][k] for i in range(n)]) for k in ("image", "view", "mask")}
out = p.predict(b["image"] * 2 - 1)
img = b["image"]
m = b["mask"]
bgm = (1 - m).unsqueeze(1)
hp = img - F.avg_pool2d(img, 5, 1, 2, count_include_pad=False)
tex = (hp.abs() * bgm).sum((1, 2, 3)) / (bgm.sum((1, 2, 3)) * 3 + 1e-6)
print("bg fraction mean", float(bgm.mean()))
q = tex.quantile(torch.tensor([0.33, 0.66]))
groups = {"smooth bg": tex <= q[0], "mid": (tex > q[0]) & (tex <= q[1]), "textured bg": tex > q[1]}
for name, g in groups.items():
    for ax, i in (("yaw", 1), ("pitch", 0)):
        fit = fit_axis(out["view"][g, i].numpy(), b["view"][g, i].numpy())
        print(f"{name:12s} {ax}: slope {fit.slope:.3f} corr {fit.corr:.3f}  n={int(g.sum())}")
