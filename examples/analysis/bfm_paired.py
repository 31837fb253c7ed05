"""Paired SIDE / MAD differences between geometry checkpoints on the same test images
(docs/MEASUREMENTS.md, "Geometry at 8x"): each checkpoint minus the first (the reference), mean
difference, its standard error and the share of images where the checkpoint is better (lower).

    python examples/analysis/bfm_paired.py DATA INPUT REF_CKPT CKPT [CKPT ...]

INPUT is 'image' or 'lq' (as `l2r benchmark bfm --input`).
"""

import sys

import numpy as np
import torch

from l2r_cli.benchmark.bfm import evaluate_bfm
from l2r_cli.predictor import load_predictor

data, input_field, ckpts = sys.argv[1], sys.argv[2], sys.argv[3:]
torch.set_num_threads(2)
res = {c: evaluate_bfm(load_predictor(c, torch.device("cpu")), data, "test", input_field)
       for c in ckpts}  # fmt: skip
ref = res[ckpts[0]]
print(f"reference {ckpts[0]}: SIDE {ref.side.mean() * 100:.3f}  MAD {ref.mad.mean():.2f}")
for c in ckpts[1:]:
    for metric, scale in (("side", 100.0), ("mad", 1.0)):
        d = (getattr(res[c], metric) - getattr(ref, metric)) * scale
        se = d.std(ddof=1) / np.sqrt(len(d))
        print(f"{c} - ref {metric.upper()}: {d.mean():+.4f} (s.e. {se:.4f}), "
              f"lower on {(d < 0).mean():.0%} of images")  # fmt: skip
