"""Move a trained proxy's bas-relief gain by factors k (relief / k; pitch, yaw and lateral light
x k), nets frozen, and print for each: the training loss (confidence-weighted NLL, as trained)
and the plain L1 on 256 training images, and SIDE/MAD on the test split (docs/MEASUREMENTS.md, T6).

    python examples/analysis/gain_sweep.py CKPT TRAIN_DATA TEST_DATA 0.95,1.0,1.05,1.1,1.15,1.2
"""

import math
import sys

import torch

from l2r_cli.benchmark.bfm import evaluate_bfm
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.engine.checkpoint import load_checkpoint
from l2r_cli.losses import photometric_nll
from l2r_cli.predictor import load_predictor

p = load_predictor(sys.argv[1], torch.device("cpu"))
m = p.model
lam_flip = load_checkpoint(sys.argv[1])["config"]["loss"]["lam_flip"]
g0 = m.basrelief.log_gain.detach().clone()
ds = L2RDataset(sys.argv[2], "train", fields=("image",))
img = torch.stack([ds[i]["image"] for i in range(256)]) * 2 - 1


def loss(x, weighted):
    """Training loss (weighted: the confidence NLL) or plain L1 on a batch, flip included."""
    b = x.shape[0]
    f = m.factors(x)
    r = m.render(f)
    mask = r.recon_mask[:b] * r.recon_mask[b:]
    s1, s2 = (f.sigma[:, :1], f.sigma[:, 1:]) if weighted else (None, None)
    a = photometric_nll(r.recon_image[:b], x, s1, mask)
    return (a + lam_flip * photometric_nll(r.recon_image[b:], x, s2, mask)).item()


for k in [float(x) for x in sys.argv[4].split(",")]:
    with torch.no_grad():
        m.basrelief.log_gain.copy_(g0 + math.log(k))
        nll = sum(loss(x, True) for x in img.split(32)) / 8
        l1 = sum(loss(x, False) for x in img.split(32)) / 8
    s = evaluate_bfm(p, sys.argv[3]).summary()
    print(
        f"k {k:.2f}: train NLL {nll:.4f}  plain L1 {l1:.4f}  "
        f"SIDE {s['side_x100_mean']:.3f}  MAD {s['mad_mean']:.2f}",
        flush=True,
    )
