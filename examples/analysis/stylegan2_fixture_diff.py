"""Largest differences between l2r's StyleGAN2 and the rosinality reference outputs stored
beside the fixture (docs/MEASUREMENTS.md).   python examples/analysis/stylegan2_fixture_diff.py DIR
(DIR holds stylegan2_rosinality_64.pt and stylegan2_rosinality_64_io.pt)
"""

import sys
from pathlib import Path

import torch

from l2r_cli.models.stylegan2_io import load_stylegan2

d_ = Path(sys.argv[1])
g, d, avg, _ = load_stylegan2(d_ / "stylegan2_rosinality_64.pt")
io = torch.load(d_ / "stylegan2_rosinality_64_io.pt", weights_only=True)
with torch.no_grad():
    w = g.mapping(io["z"])
    outs = {
        "w": w,
        "img": g.synthesis(w, noise="stored"),
        "img_batch1": g.synthesis(w[:1], noise="stored"),
        "d_out": d(io["img"]),
        "img_wplus": g.synthesis(io["wplus"], noise="stored"),
        "img_trunc05": g.synthesis(w[:1], noise="stored", truncation=0.5, truncation_latent=avg),
    }
for k, v in outs.items():
    print(k, tuple(v.shape), f"max |diff| {(v - io[k]).abs().max().item():.2e}")
