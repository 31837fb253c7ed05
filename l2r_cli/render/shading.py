"""Normals from depth and Lambertian shading (ambient + diffuse), as in Unsup3D (paper eqn. 1's
lighting operator Lambda).

Normal convention (Unsup3D): n = normalize(t_u x t_v) with t_u, t_v the central differences of
the back-projected points along x and y; a fronto-parallel plane has n = (0, 0, 1). The light
direction l = normalize(dx, dy, 1) uses the same frame, and diffuse shading is max(0, n . l).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.render.camera import depth_to_points


def normals_from_points(points: Tensor) -> Tensor:
    """points: (B, H, W, 3) -> unit normals (B, H, W, 3); border pixels get (0, 0, 1)."""
    tu = points[:, 1:-1, 2:] - points[:, 1:-1, :-2]
    tv = points[:, 2:, 1:-1] - points[:, :-2, 1:-1]
    n = torch.linalg.cross(tu, tv, dim=-1)
    n = F.pad(n.permute(0, 3, 1, 2), (1, 1, 1, 1), value=0.0).permute(0, 2, 3, 1)
    border = torch.ones_like(n[..., :1])
    border[:, 1:-1, 1:-1] = 0
    n = n + border * torch.tensor([0.0, 0.0, 1.0], device=n.device, dtype=n.dtype)
    return n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def normals_from_depth(depth: Tensor, K: Tensor) -> Tensor:
    """depth: (B, H, W) -> unit normals (B, H, W, 3) (see module docstring for the frame)."""
    return normals_from_points(depth_to_points(depth, K))


@dataclass(frozen=True)
class Light:
    """A global light: ambient (B,), diffuse (B,) strengths and unit direction (B, 3)."""

    ambient: Tensor
    diffuse: Tensor
    direction: Tensor

    def repeat(self, n: int) -> Light:
        """The same lights for n copies of the batch (e.g. normal + flipped)."""
        return Light(self.ambient.repeat(n), self.diffuse.repeat(n), self.direction.repeat(n, 1))


def light_from_raw(raw: Tensor) -> Light:
    """Light net output (B, 4) in [-1, 1] as (ambient, diffuse, dx, dy) -> :class:`Light`.

    ambient = (1 + raw0) / 2, diffuse = (1 + raw1) / 2, direction = normalize(dx, dy, 1).
    """
    a = (1 + raw[:, 0]) / 2
    b = (1 + raw[:, 1]) / 2
    d = torch.cat([raw[:, 2:4], torch.ones_like(raw[:, :1])], dim=1)
    d = d / d.norm(dim=1, keepdim=True)
    return Light(ambient=a, diffuse=b, direction=d)


def shade(albedo: Tensor, normal: Tensor, light: Light) -> tuple[Tensor, Tensor]:
    """Lambertian image of an albedo under a light.

    albedo: (B, C, H, W) in [-1, 1]; normal: (B, H, W, 3).
    Returns image (B, C, H, W) in [-1, 1] (= albedo01 * shading mapped back) and
    shading (B, 1, H, W) = ambient + diffuse * max(0, n . l).
    """
    diffuse = (normal * light.direction.view(-1, 1, 1, 3)).sum(-1).clamp(min=0).unsqueeze(1)
    shading = light.ambient.view(-1, 1, 1, 1) + light.diffuse.view(-1, 1, 1, 1) * diffuse
    image = (albedo / 2 + 0.5) * shading * 2 - 1
    return image, shading
