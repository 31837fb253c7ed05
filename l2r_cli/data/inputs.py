"""How a dataset batch becomes a network's input: which degraded variant, at which size.

One rule for training and evaluation alike, so the two cannot drift apart:

- ``image``: the stored image (already resized by the dataset);
- ``lq`` (or any ``lq_*`` field, ``(B, K, 3, h, w)``): one of the K degraded variants, upsampled
  bilinearly (``align_corners=False``) to the network's size. Training draws a variant per
  item with the torch RNG (``pick="random"``, so checkpoints restore the choice); evaluation
  always takes the first (``pick="first"``), so every benchmark sees the same inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pick_variant(lq: Tensor, pick: str) -> Tensor:
    """lq (B, K, 3, h, w) -> (B, 3, h, w): the first variant (``"first"``) or one per item
    drawn with the torch RNG (``"random"``, one ``randint`` call)."""
    if pick == "first":
        return lq[:, 0]
    if pick != "random":
        raise ValueError(f"pick must be 'first' or 'random', got {pick!r}")
    choice = torch.randint(lq.shape[1], (lq.shape[0],))
    return lq[torch.arange(lq.shape[0]), choice.to(lq.device)]


def model_input(batch: dict[str, Tensor], field: str, size: int, pick: str) -> Tensor:
    """The image a network sees, (B, 3, S, S) in [0, 1] (as stored): ``batch['image']`` for
    ``field == 'image'``, else a variant of ``batch[field]`` (see :func:`pick_variant`)
    upsampled to ``size``."""
    if field == "image":
        return batch["image"]
    x = pick_variant(batch[field], pick)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
