"""Perspective camera of the Unsup3D proxy (paper sec. 3): intrinsics, back-projection, projection.

Conventions: camera at the origin looking down +z; image x to the right, y down; pixel centres at
integer coordinates 0..S-1; fx = fy = (S-1)/2 / tan(fov/2), cx = cy = (S-1)/2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def intrinsics(
    size: int,
    fov: float = 10.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Camera matrix K (3, 3) for a square image of ``size`` pixels and a ``fov`` in degrees."""
    f = (size - 1) / 2 / math.tan(math.radians(fov) / 2)
    c = (size - 1) / 2
    return torch.tensor([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]], device=device, dtype=dtype)


def pixel_grid(h: int, w: int, device: torch.device | None = None, dtype=torch.float32) -> Tensor:
    """Homogeneous pixel coordinates (H, W, 3) as (x, y, 1)."""
    ys = torch.arange(h, device=device, dtype=dtype)
    xs = torch.arange(w, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy, torch.ones_like(gx)], dim=-1)


def depth_to_points(depth: Tensor, K: Tensor) -> Tensor:
    """Back-project a depth map: P = d * K^-1 [x, y, 1].

    depth: (B, H, W) -> points (B, H, W, 3) in camera coordinates.
    """
    b, h, w = depth.shape
    grid = pixel_grid(h, w, depth.device, depth.dtype)  # (H, W, 3)
    rays = grid @ torch.linalg.inv(K.to(depth.dtype)).T  # (H, W, 3), z = 1
    return rays.unsqueeze(0) * depth.unsqueeze(-1)


def project(points: Tensor, K: Tensor) -> Tensor:
    """Project camera-space points to the screen.

    points: (B, N, 3) -> (B, N, 3) as (x_pix, y_pix, z).
    """
    K = K.to(points.dtype)
    z = points[..., 2:3]
    xy = points[..., :2] / z.clamp(min=1e-8) * torch.stack([K[0, 0], K[1, 1]]) + torch.stack(
        [K[0, 2], K[1, 2]]
    )
    return torch.cat([xy, z], dim=-1)
