"""Rigid view transform of the proxy: rotation R = Rz Ry Rx about the point (0, 0, 1), then a
translation (Unsup3D's viewpoint w in R^6, paper eqn. 1)."""

from __future__ import annotations

import torch
from torch import Tensor

#: The rotation centre of every view transform: the middle of the canonical depth range.
PIVOT = (0.0, 0.0, 1.0)


def rotation_matrix(angles: Tensor) -> Tensor:
    """angles: (B, 3) radians (rx = pitch, ry = yaw, rz = roll) -> R = Rz @ Ry @ Rx (B, 3, 3)."""
    rx, ry, rz = angles.unbind(-1)
    one, zero = torch.ones_like(rx), torch.zeros_like(rx)
    cx, sx, cy, sy, cz, sz = rx.cos(), rx.sin(), ry.cos(), ry.sin(), rz.cos(), rz.sin()
    Rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    Ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    Rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return Rz @ Ry @ Rx


def _pivot(ref: Tensor) -> Tensor:
    return torch.tensor(PIVOT, device=ref.device, dtype=ref.dtype)


def transform_points(points: Tensor, view: Tensor) -> Tensor:
    """Canonical -> view space: R (p - c) + c + t.

    points: (B, N, 3); view: (B, 6) as [rx, ry, rz (radians), tx, ty, tz] -> (B, N, 3).
    """
    R = rotation_matrix(view[:, :3])
    c = _pivot(points)
    return (points - c) @ R.transpose(1, 2) + c + view[:, None, 3:6]


def inverse_transform_points(points: Tensor, view: Tensor) -> Tensor:
    """View -> canonical space, the inverse of :func:`transform_points`. Shapes as there."""
    R = rotation_matrix(view[:, :3])
    c = _pivot(points)
    return (points - c - view[:, None, 3:6]) @ R + c
