"""Predicted against true lateral light direction of a proxy checkpoint on 200 synth test
faces (docs/MEASUREMENTS.md).   python examples/analysis/light_fit.py CKPT DATA
"""

import sys

import numpy as np
import torch

from l2r_cli.data.dataset import L2RDataset
from l2r_cli.predictor import load_predictor

p = load_predictor(sys.argv[1], torch.device("cpu"))
ds = L2RDataset(sys.argv[2], "test", fields=("image", "light"))
b = {k: torch.stack([ds[i][k] for i in range(200)]) for k in ("image", "light")}
out = p.predict(b["image"] * 2 - 1)
L = out["light"]  # ambient, diffuse, dir(3)
pd = (L[:, 2:4] / L[:, 4:5]).numpy()  # predicted dx, dy
td = b["light"][:, 2:4].numpy()
for i, n in enumerate(("dx", "dy")):
    t, q = td[:, i] - td[:, i].mean(), pd[:, i] - pd[:, i].mean()
    corr = (t * q).sum() / np.sqrt((t * t).sum() * (q * q).sum())
    print(n, f"corr {corr:.3f} slope {(t * q).sum() / (t * t).sum():.3f}")
a_p, a_t = L[:, 0].mean(), b["light"][:, 0].mean()
d_p, d_t = L[:, 1].mean(), b["light"][:, 1].mean()
print(f"ambient pred {a_p:.3f} true {a_t:.3f}; diffuse pred {d_p:.3f} true {d_t:.3f}")
