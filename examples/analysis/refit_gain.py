"""Apply the end-of-training bas-relief refit (`[optim] gain_refit_batches`, docs/proxy.md) to a
proxy checkpoint trained without it, on the same batches the engine would use (the first N of
epoch 0's order for `--seed 0`), and save the result as a new checkpoint file.

    python examples/analysis/refit_gain.py CKPT DATA OUT.pt [N=16]
    l2r benchmark bfm --data TEST --ckpt OUT.pt
"""

import math
import sys

from torch.utils.data import DataLoader

from l2r_cli.config import ProxyRunConfig, from_dict
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.engine.checkpoint import load_checkpoint, save_checkpoint
from l2r_cli.engine.sampler import EpochBatchSampler
from l2r_cli.models.proxy import Proxy
from l2r_cli.stages.proxy import network_input, refit_basrelief_gain

ckpt_path, data, out = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 16
ckpt = load_checkpoint(ckpt_path, expect_kind="proxy")
cfg = from_dict(ProxyRunConfig, ckpt["config"])
model = Proxy(cfg.model)
model.load_state_dict(ckpt["models"]["proxy"])
model.eval()
ds = L2RDataset(data, "train", fields=("image",), image_size=cfg.model.image_size)
sampler = EpochBatchSampler(len(ds), cfg.train.batch_size, seed=0)
sampler.set_epoch(0, 0)
images = []
for batch in DataLoader(ds, batch_sampler=sampler):
    images.append(network_input(batch, cfg.train.input, cfg.model.image_size))
    if len(images) == n:
        break
fit = refit_basrelief_gain(model, images, cfg.loss.lam_flip)
print(
    f"gain x{math.exp(fit.offset):.4f} -> {model.basrelief().item():.4f}; "
    f"plain L1 {fit.loss_before:.5f} -> {fit.loss_after:.5f}"
)
ckpt["models"]["proxy"] = model.state_dict()
save_checkpoint(out, ckpt)
