"""How close a proxy's canonical depth is to l2r synth's exact one, in the canonical frame
(docs/MEASUREMENTS.md "EF"): per checkpoint, the L1 over the true canonical face mask in units
of 0.01 (the scale of `loss.lam_depth_sup`), and a per-face least-squares fit of the predicted
on the true depth over the mask: its slope (1 = right relief) and the L1 of what the fit leaves.
The first row scores the average face: the mean canonical depth of TEMPLATE's 'train' split.

    python examples/analysis/canonical_depth_fit.py DATA SPLIT TEMPLATE CKPT...
"""

import sys

import torch

from l2r_cli.benchmark.bfm import load_template
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.predictor import load_predictor

data, split, template_src, ckpts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
fields = ("image", "canon_depth", "canon_mask")
ds = L2RDataset(data, split, fields=fields, image_size=64)
b = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in fields}
gt, m = b["canon_depth"].double(), (b["canon_mask"] > 0).double()


def report(name: str, pred: torch.Tensor) -> None:
    pred = pred.double()
    n = m.sum((1, 2))
    l1 = ((pred - gt).abs() * m).sum((1, 2)) / n
    gc = gt - (gt * m).sum((1, 2), keepdim=True) / n[:, None, None]
    pc = pred - (pred * m).sum((1, 2), keepdim=True) / n[:, None, None]
    slope = (gc * pc * m).sum((1, 2)) / (gc * gc * m).sum((1, 2))
    resid = ((pc - slope[:, None, None] * gc).abs() * m).sum((1, 2)) / n
    print(
        f"{name}: L1 x100 {l1.mean() * 100:.3f}  slope {slope.mean():.3f}  "
        f"residual L1 x100 {resid.mean() * 100:.3f}  ({len(pred)} faces)"
    )


report("average face", load_template(template_src, data, 64).expand_as(gt))
for ck in ckpts:
    p = load_predictor(ck, torch.device("cpu"))
    with torch.no_grad():
        cd = torch.cat(
            [
                p.predict(b["image"][i : i + 100] * 2 - 1)["canon_depth"]
                for i in range(0, len(gt), 100)
            ]
        )
    report(ck, cd)
