"""The bas-relief gain's gradient on 16 training batches at a proxy checkpoint, nets frozen
("still"), and over 40 real training steps from it ("training"): docs/proxy.md, MEASUREMENTS.md T6.

    python examples/analysis/gain_gradient.py CKPT TRAIN_DATA
"""

import sys

import torch

from l2r_cli.config import ProxyRunConfig, from_dict
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.stages.proxy import ProxyStage, network_input

ckpt = torch.load(sys.argv[1], weights_only=True, map_location="cpu")
cfg = from_dict(ProxyRunConfig, ckpt["config"])
ds = L2RDataset(sys.argv[2], "train", fields=("image",))
torch.manual_seed(0)
order = torch.randperm(len(ds))[: 16 * 40].tolist()
batches = [
    {"image": torch.stack([ds[j]["image"] for j in order[i : i + 16]])}
    for i in range(0, len(order), 16)
]
for mode, n in (("still", 16), ("training", 40)):
    stage = ProxyStage(cfg, torch.device("cpu"))
    stage.model.load_state_dict(ckpt["models"]["proxy"])
    stage.optimizers()["proxy"].load_state_dict(ckpt["optimizers"]["proxy"])
    grads = []
    for batch in batches[:n]:
        if mode == "training":
            stage.train_step(batch)
        else:
            stage.model.train()
            loss = stage.compute_loss(network_input(batch, "image", cfg.model.image_size))[0]
            stage.optimizers()["proxy"].zero_grad()
            loss.backward()
        grads.append(stage.model.basrelief.log_gain.grad.item())
    g = torch.tensor(grads)
    print(f"{mode}: d loss / d log gain = {g.mean():.3f} (std {g.std():.3f} over {n} batches)")
