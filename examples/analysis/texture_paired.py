"""Paired texture-SSIM differences between 'arn' checkpoints on the same test images
(docs/MEASUREMENTS.md, "Texture SSIM at 8x"): mean difference and its standard error. CKPT_A is
compared with each other checkpoint and with its own proxy alone.

    python examples/analysis/texture_paired.py DATA CKPT_A CKPT_B [CKPT_C ...]
"""

import sys

import numpy as np
import torch

from l2r_cli.benchmark.texture import evaluate_texture

data, ckpts = sys.argv[1], sys.argv[2:]
torch.set_num_threads(2)
per = {}
for c in ckpts:
    proxy, arn = evaluate_texture(c, data)
    per.setdefault("proxy", proxy.ssim)  # CKPT_A's proxy
    per[c] = arn.ssim
base = ckpts[0]
for name, v in per.items():
    if name == base:
        continue
    d = per[base] - v
    se = d.std(ddof=1) / np.sqrt(len(d))
    share = (d > 0).mean()
    print(f"{base} - {name}: mean {d.mean():+.4f} (s.e. {se:.4f}), {share:.0%} of images higher")
