"""Average the proxy weights of several checkpoints of one run (MEASUREMENTS.md, T4/T3 note).

    python examples/analysis/average_checkpoints.py OUT.pt CKPT [CKPT ...]

Floating-point tensors of ``models/proxy`` are averaged; everything else is taken from the last
checkpoint, so ``l2r benchmark bfm --ckpt OUT.pt`` scores the averaged weights.
"""

import sys

import torch

out_path, paths = sys.argv[1], sys.argv[2:]
ckpts = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
out = ckpts[-1]
state = out["models"]["proxy"]
for k, v in state.items():
    if v.is_floating_point():
        state[k] = sum(c["models"]["proxy"][k] for c in ckpts) / len(ckpts)
torch.save(out, out_path)
print(f"averaged {len(ckpts)} checkpoints into {out_path}")
