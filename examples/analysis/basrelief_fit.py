"""Per-image fits along the bas-relief family (docs/MEASUREMENTS.md, "What limits SIDE").

Fits 16 test faces of an l2r synth dataset directly (free per-pixel depth and albedo, light,
view; Adam), starting from the true factors transformed by LAM: relief x LAM, pitch/yaw with
sin / LAM, lateral light / LAM. With GAIN_LR > 0 each image also gets one scalar g along the
family (relief / e^g, angles and lateral light x e^g). LAM = 1 starts from the truth.

    python examples/analysis/basrelief_fit.py DATA LAM STEPS GAIN_LR
    e.g. DATA=data/test (an `l2r synth` test split; docs/MEASUREMENTS.md used $DATA/test):
    1.0 400 0 / 2.0 420 0 / 2.0 300 0.01
"""

import sys

import torch

from l2r_cli.data.dataset import L2RDataset
from l2r_cli.render import Light, Renderer, shade

data = sys.argv[1]
lam = float(sys.argv[2])
steps = int(sys.argv[3])
glr = float(sys.argv[4])
N = 16
F_ = ("image", "mask", "canon_depth", "canon_albedo", "canon_mask", "view", "light")
ds = L2RDataset(data, "test", fields=F_)
b = {k: torch.stack([ds[i][k] for i in range(N)]) for k in F_}
R = Renderer(64, 10.0, 0.9, 1.1)
img = b["image"] * 2 - 1
cm = b["canon_mask"].float()
im_mask = b["mask"].float()
d0 = b["canon_depth"]
mean = (d0 * cm).flatten(1).sum(1) / cm.flatten(1).sum(1)
rel0 = (d0 - mean.view(-1, 1, 1)) * cm
rel = (rel0 * lam).clone().requires_grad_(True)
alb = torch.atanh(b["canon_albedo"].clamp(0.01, 0.99) * 2 - 1).clone().requires_grad_(True)
v = b["view"].clone()
v[:, :2] = torch.asin((torch.sin(v[:, :2]) / lam).clamp(-1, 1))
v = v.requires_grad_(True)
l = b["light"].clone()
l[:, 2:] = l[:, 2:] / lam
l = l.requires_grad_(True)
g = torch.zeros(N, requires_grad=glr > 0)
groups = [
    {"params": [rel], "lr": 2e-4},
    {"params": [alb], "lr": 1e-2},
    {"params": [v, l], "lr": 1e-3},
]
if glr > 0:
    groups.append({"params": [g], "lr": glr})
opt = torch.optim.Adam(groups)
for it in range(steps + 1):
    depth = torch.where(
        cm > 0, mean.view(-1, 1, 1) + rel * (-g).exp().view(-1, 1, 1), torch.full_like(rel, 1.1)
    )
    vv = torch.cat([v[:, :3] * g.exp().view(-1, 1), v[:, 3:]], 1)
    albedo = torch.tanh(alb)
    d2 = torch.cat([depth, depth.flip(2)])
    a2 = torch.cat([albedo, albedo.flip(3)])
    light = Light(
        l[:, 0].repeat(2),
        l[:, 1].repeat(2),
        torch.nn.functional.normalize(
            torch.cat([l[:, 2:4] * g.exp().view(-1, 1), torch.ones_like(l[:, :1])], 1), dim=1
        ).repeat(2, 1),
    )
    canon, _ = shade(a2, R.normals(d2), light)
    out = R.render(canon, d2, vv.repeat(2, 1))
    m = out.mask * im_mask.unsqueeze(1).repeat(2, 1, 1, 1)
    err = (
        ((out.image - img.repeat(2, 1, 1, 1)).abs() * m).flatten(1).sum(1)
        / m.flatten(1).sum(1).clamp(min=1)
        / 3
    )
    loss = err[:N].mean() + 0.5 * err[N:].mean()
    if it % (steps // 6) == 0:
        rr = (
            (rel * (-g).exp().view(-1, 1, 1) * cm).flatten(1).std(1) / (rel0 * cm).flatten(1).std(1)
        ).median()
        ys = (vv[:, 1] / b["view"][:, 1]).median()
        print(
            f"lam {lam} it {it:4d} loss {loss.item():.5f} "
            f"relief ratio(med) {rr.item():.3f} yaw ratio(med) {ys.item():.3f}",
            flush=True,
        )
    opt.zero_grad()
    loss.backward()
    opt.step()
