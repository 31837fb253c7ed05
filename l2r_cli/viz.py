"""Turning tensors into pictures: tiles for training panels and previews."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_uint8(img: Tensor) -> np.ndarray:
    """img: (3, H, W) or (H, W) in [0, 1] -> uint8 (H, W, 3)."""
    if img.dim() == 2:
        img = img.unsqueeze(0).expand(3, -1, -1)
    arr = (img.detach().float().clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0)
    return arr.cpu().numpy()


def depth_tile(depth: Tensor, lo: float, hi: float, mask: Tensor | None = None) -> Tensor:
    """depth (H, W) -> grey (H, W) in [0, 1], nearer = brighter; background black."""
    g = ((hi - depth) / (hi - lo)).clamp(0, 1)
    return g if mask is None else g * mask


def normal_tile(normal: Tensor, mask: Tensor | None = None) -> Tensor:
    """normal (H, W, 3) -> RGB (3, H, W) in [0, 1]: x -> red, up (-y) -> green, facing the
    camera (-z) -> blue, the usual normal-map look."""
    n = normal * torch.tensor([1.0, -1.0, -1.0], device=normal.device)
    rgb = ((n + 1) / 2).permute(2, 0, 1)
    return rgb if mask is None else rgb * mask


def grid(rows: list[list[np.ndarray]], pad: int = 2) -> np.ndarray:
    """Lay out equally sized uint8 (H, W, 3) tiles in rows with ``pad`` pixels of white."""
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = tile
    return out
