"""Geometry Refining Network (paper sec. 4.2, Fig. 3, eqn. 5) and its smoothness term (eqn. 7).

An encoder-decoder maps (degraded input upsampled, proxy normal n_o, restored canonical albedo
t_r) at the output size O to a pure depth d and a displacement map m (O, O, 3) in the canonical
view. The refined surface is eqn. (5), D_r = D_uv + m * n, with D_uv the back-projected depth and
n the normal of d; it feeds both shading and the view warp (``Renderer.render_points``).

Choices where the paper is silent (docs/grn.md):
* ``residual_depth``: d = proxy depth + a bounded residual, with the last layer starting at zero,
  so the GRN starts from the proxy's geometry (False: d from scratch, post-processed like the
  proxy's depth).
* m is bounded, ``max_displacement * tanh``, in the depth's units, and zero on the border columns
  whose depth the proxy pins.
* The Laplacian smoothness of eqn. (7) is the mean |Laplacian| of m (3x3 stencil, valid pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import GrnModelConfig
from l2r_cli.models.networks import EDDeconv, border_mask, depth_from_tanh
from l2r_cli.render.camera import depth_to_points
from l2r_cli.render.shading import normals_from_points


@dataclass(frozen=True)
class GrnConfig:
    """The GRN's architecture and ranges (``arch``, the config file's ``[model]``) and what the
    stage it serves fixes: its size and the proxy's depth range."""

    size: int = 64
    """O: side of the inputs and outputs (the ARN's output size)."""
    min_depth: float = 0.9
    """Depth range (the proxy's): d is clamped / rescaled into it."""
    max_depth: float = 1.1
    """Upper end of the depth range."""
    border_depth: float = 1.04
    """Depth of the two leftmost and rightmost columns (the proxy's border depth)."""
    arch: GrnModelConfig = field(default_factory=GrnModelConfig)
    """Widths, ablation switches, residual and displacement bounds."""

    @property
    def in_channels(self) -> int:
        """Image + normal (+ restored albedo)."""
        return 9 if self.arch.use_restored else 6


@dataclass(frozen=True)
class GrnOutput:
    """depth: (B, O, O) pure depth d; displacement: (B, O, O, 3) m (zeros when off)."""

    depth: Tensor
    displacement: Tensor


def refine_surface(depth: Tensor, displacement: Tensor, K: Tensor) -> Tensor:
    """Eqn. (5): D_r = D_uv + m * n.

    depth: (B, H, W); displacement m: (B, H, W, 3); K: (3, 3) -> points (B, H, W, 3), with
    D_uv = d K^-1 [u, v, 1] and n the unit normal of D_uv (elementwise product with m).
    """
    points = depth_to_points(depth, K)
    return points + displacement * normals_from_points(points)


def laplacian_smoothness(m: Tensor) -> Tensor:
    """Mean |discrete Laplacian| of a map, per channel over interior pixels; zero for any
    affine map. m: (B, H, W, C) -> scalar."""
    x = m.permute(0, 3, 1, 2)
    c = x.shape[1]
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype)
    k = k.to(x.device).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c).abs().mean()


class GRN(nn.Module):
    """(lq upsampled, proxy normal, restored albedo) -> pure depth and displacement map."""

    def __init__(self, cfg: GrnConfig) -> None:
        super().__init__()
        self.cfg = cfg
        a = cfg.arch
        self.net = EDDeconv(cfg.in_channels, 4, cfg.size, a.nf, a.zdim, activation=False)
        if a.residual_depth:  # start exactly at the proxy's geometry, with m = 0
            with torch.no_grad():
                self.net.decoder[-1].weight.zero_()

    def forward(
        self, image: Tensor, proxy_normal: Tensor, albedo: Tensor | None, proxy_depth: Tensor
    ) -> GrnOutput:
        """image: (B, 3, O, O) degraded input upsampled, in [-1, 1]; proxy_normal: (B, O, O, 3);
        albedo: (B, 3, O, O) restored canonical albedo (ignored without ``use_restored``);
        proxy_depth: (B, O, O) the proxy's canonical depth at O -> :class:`GrnOutput`."""
        c, a = self.cfg, self.cfg.arch
        b = image.shape[0]
        if image.shape[1:] != (3, c.size, c.size):
            raise ValueError(f"image must be (B, 3, {c.size}, {c.size}), got {tuple(image.shape)}")
        parts = [image, proxy_normal.permute(0, 3, 1, 2)]
        if a.use_restored:
            if albedo is None:
                raise ValueError("this GRN takes the restored albedo as input")
            parts.append(albedo)
        raw = self.net(torch.cat(parts, 1))  # (B, 4, O, O)
        pins = border_mask(c.size, raw)
        if a.residual_depth:
            d = proxy_depth + a.residual_range * raw[:, 0].tanh()
            d = d.clamp(c.min_depth, c.max_depth)
        else:
            d0 = raw[:, 0] - raw[:, 0].flatten(1).mean(1).view(b, 1, 1)
            d = depth_from_tanh(d0.tanh(), c.min_depth, c.max_depth)
        d = d * (1 - pins) + pins * c.border_depth
        if a.displacement:
            m = a.max_displacement * raw[:, 1:4].tanh() * (1 - pins).unsqueeze(1)
            m = m.permute(0, 2, 3, 1)
        else:
            m = torch.zeros(b, c.size, c.size, 3, device=raw.device, dtype=raw.dtype)
        return GrnOutput(depth=d, displacement=m)
