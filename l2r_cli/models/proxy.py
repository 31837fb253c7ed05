"""The 3D proxy: Unsup3D (paper sec. 3, eqns. 1-3; REFERENCE.md "3D proxy").

Five nets map an image I (B, 3, S, S) in [-1, 1] to a canonical depth d, albedo a, light l,
viewpoint w and confidence maps sigma. The canonical face is shaded, re-rendered into the input
view (eqn. 1), and once more with depth and albedo flipped horizontally (eqn. 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import ProxyModelConfig
from l2r_cli.models.networks import ConfNet, EDDeconv, Encoder, border_mask, depth_from_tanh
from l2r_cli.render import Light, Renderer, light_from_raw, shade


@dataclass(frozen=True)
class ProxyFactors:
    """What the nets predict for a batch of B images.

    depth: (B, S, S) canonical depth in [min_depth, max_depth], border columns fixed.
    albedo: (B, 3, S, S) canonical albedo in [-1, 1].
    light: :class:`Light` with (B,) ambient/diffuse and (B, 3) direction.
    view: (B, 6) [rx, ry, rz radians, tx, ty, tz].
    sigma: (B, 2, S, S) confidence for the reconstruction / flipped one, or None.
    sigma_perc: (B, 2, S/4, S/4) confidence for the perceptual term, or None.
    """

    depth: Tensor
    albedo: Tensor
    light: Light
    view: Tensor
    sigma: Tensor | None
    sigma_perc: Tensor | None


@dataclass(frozen=True)
class ProxyRender:
    """Renders of the canonical face and of its flip, stacked as [normal; flipped] (2B, ...).

    canon_depth: (2B, S, S); canon_normal: (2B, S, S, 3); canon_shading: (2B, 1, S, S);
    canon_image: (2B, 3, S, S) shaded albedo in [-1, 1];
    recon_image: (2B, 3, S, S) in the input view; recon_depth: (2B, S, S) in the input view;
    recon_mask: (2B, 1, S, S) coverage.
    """

    canon_depth: Tensor
    canon_normal: Tensor
    canon_shading: Tensor
    canon_image: Tensor
    recon_image: Tensor
    recon_depth: Tensor
    recon_mask: Tensor


def render_canonical(
    renderer: Renderer, depth: Tensor, albedo: Tensor, light: Light, view: Tensor, flip: bool
) -> ProxyRender:
    """Shade a canonical face and reproject it into its view (paper eqn. 1), and its horizontal
    flip too when ``flip`` (eqn. 2), with a renderer of the maps' size S.

    depth (B, S, S), albedo (B, 3, S, S), light of B, view (B, 6) -> renders stacked
    [normal; flipped] (2B, ...) or (B, ...) without the flip.
    """
    if flip:
        depth = torch.cat([depth, depth.flip(2)], 0)
        albedo = torch.cat([albedo, albedo.flip(3)], 0)
        light = light.repeat(2)
        view = view.repeat(2, 1)
    normal = renderer.normals(depth)
    canon_image, shading = shade(albedo, normal, light)
    out = renderer.render(canon_image, depth, view)
    return ProxyRender(
        canon_depth=depth,
        canon_normal=normal,
        canon_shading=shading,
        canon_image=canon_image,
        recon_image=out.image,
        recon_depth=out.depth,
        recon_mask=out.mask,
    )


class BasReliefGain(nn.Module):
    """One learned scalar g shared by all images (log of ``init`` at the start, default 0).

    Scales the relief by exp(-g), pitch and yaw by exp(g) and the light's lateral direction by
    exp(g): to first order the photometric loss cannot tell these apart (the generalised
    bas-relief ambiguity of shape from shading, and the depth-rotation ambiguity of two views),
    so the nets' many weights drift along that family only slowly. g is a single coordinate
    along it, whose gradient is the loss's slope along the family.
    """

    def __init__(self, init: float = 1.0) -> None:
        super().__init__()
        if not init > 0:
            raise ValueError(f"the bas-relief gain must start > 0, got {init}")
        self.log_gain = nn.Parameter(torch.tensor(math.log(init)))

    def forward(self) -> Tensor:
        """-> exp(g), a scalar tensor (relief is divided by it, angles and light multiplied)."""
        return self.log_gain.exp()


class Proxy(nn.Module):
    """Unsup3D's nets, their output post-processing, and the renderer that ties them together."""

    def __init__(self, cfg: ProxyModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        s = cfg.image_size
        self.net_depth = EDDeconv(3, 1, s, cfg.nf, cfg.zdim, activation=False)
        # At PyTorch's default init the depth is white noise of ~10 pixel widths between
        # neighbours: spiky, self-occluding meshes whose gradients are chaotic. Scaling the last
        # layer (0 = flat start) lets shape grow from a plane instead.
        with torch.no_grad():
            self.net_depth.decoder[-1].weight.mul_(cfg.depth_init_scale)
        self.net_albedo = EDDeconv(3, 3, s, cfg.nf, cfg.zdim, activation=True)
        self.net_light = Encoder(3, 4, s, cfg.nf_pose)
        self.net_view = Encoder(3, 6, s, cfg.nf_pose)
        self.net_conf = ConfNet(3, s, cfg.nf, cfg.conf_zdim) if cfg.use_conf else None
        self.basrelief = BasReliefGain(cfg.basrelief_gain_init) if cfg.basrelief_gain else None
        self.renderer = Renderer(s, cfg.fov, cfg.min_depth, cfg.max_depth)

    def _apply(self, fn, recurse: bool = True):  # keep the renderer's buffers with the module
        out = super()._apply(fn, recurse)
        probe = fn(torch.zeros(1))
        self.renderer.to(probe.device)
        return out

    @property
    def border_depth(self) -> float:
        """Depth of the two leftmost and rightmost columns."""
        c = self.cfg
        return c.border_depth_mix * c.max_depth + (1 - c.border_depth_mix) * c.min_depth

    def postprocess_depth(self, raw: Tensor, gain: Tensor | None = None) -> Tensor:
        """raw: (B, S, S) -> depth (B, S, S): optionally smooth (``depth_smooth``), subtract the
        per-image mean (and with ``depth_detilt`` the vertical linear trend), multiply by
        ``gain`` (a scalar tensor) when given, tanh, rescale to
        [min, max], and pin the two border columns on each side to the border depth."""
        c = self.cfg
        if c.depth_smooth > 1:
            s = raw.shape[-1]
            low = F.avg_pool2d(raw.unsqueeze(1), c.depth_smooth)
            raw = F.interpolate(low, size=(s, s), mode="bicubic", align_corners=False).squeeze(1)
        d = raw - raw.flatten(1).mean(1).view(-1, 1, 1)
        if c.depth_detilt:
            y = torch.linspace(-1, 1, d.shape[-2], device=d.device, dtype=d.dtype).view(1, -1, 1)
            slope = (d * y).mean((1, 2), keepdim=True) / (y * y).mean()
            d = d - slope * y
        if gain is not None:
            d = d * gain
        d = d.tanh()
        d = depth_from_tanh(d, c.min_depth, c.max_depth)
        border = border_mask(d.shape[-1], d)
        return d * (1 - border) + border * self.border_depth

    def postprocess_view(self, raw: Tensor) -> Tensor:
        """raw: (B, 6) in [-1, 1] -> view (B, 6) with rotations in radians."""
        c = self.cfg
        return torch.cat(
            [
                raw[:, :3] * math.radians(c.rot_range),
                raw[:, 3:5] * c.xy_trans_range,
                raw[:, 5:6] * c.z_trans_range,
            ],
            dim=1,
        )

    def pose_from_raw(
        self, raw_view: Tensor, raw_light: Tensor, gain: Tensor | None = None
    ) -> tuple[Tensor, Light]:
        """View (B, 6) and light from the view and light nets' outputs (B, 6) / (B, 4): with
        the bas-relief ``gain`` (a scalar tensor) pitch, yaw and the lateral light are scaled by
        it first (:class:`BasReliefGain`). Later stages that train their own copies of the two
        nets (mutual learning) post-process them here, with the proxy's frozen gain."""
        if gain is not None:
            raw_view = torch.cat([raw_view[:, :2] * gain, raw_view[:, 2:]], 1)
            raw_light = torch.cat([raw_light[:, :2], raw_light[:, 2:4] * gain], 1)
        return self.postprocess_view(raw_view), light_from_raw(raw_light)

    def factors(self, image: Tensor, nets: dict[str, nn.Module] | None = None) -> ProxyFactors:
        """image: (B, 3, S, S) in [-1, 1] -> :class:`ProxyFactors`.

        ``nets`` optionally replaces submodules by wrapped ones (DistributedDataParallel).
        """
        n = nets or {}
        s = self.cfg.image_size
        if image.dim() != 4 or image.shape[1:] != (3, s, s):
            raise ValueError(f"image must be (B, 3, {s}, {s}), got {tuple(image.shape)}")
        raw_depth = n.get("net_depth", self.net_depth)(image).squeeze(1)
        raw_view = n.get("net_view", self.net_view)(image)
        raw_light = n.get("net_light", self.net_light)(image)
        gain = n.get("basrelief", self.basrelief)() if self.basrelief is not None else None
        view, light = self.pose_from_raw(raw_view, raw_light, gain)
        depth = self.postprocess_depth(raw_depth, None if gain is None else 1 / gain)
        albedo = n.get("net_albedo", self.net_albedo)(image)
        if self.cfg.albedo_symmetric:
            albedo = (albedo + albedo.flip(-1)) / 2
        sigma = sigma_perc = None
        if self.net_conf is not None:
            sigma, sigma_perc = n.get("net_conf", self.net_conf)(image)
        return ProxyFactors(depth, albedo, light, view, sigma, sigma_perc)

    def render(self, f: ProxyFactors, flip: bool = True) -> ProxyRender:
        """Shade and reproject the canonical face (and its horizontal flip when ``flip``)."""
        return render_canonical(self.renderer, f.depth, f.albedo, f.light, f.view, flip)

    @torch.no_grad()
    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """Inference on image (B, 3, S, S) in [-1, 1]: depth and normals in the input view
        (B, S, S) / (B, S, S, 3), mask (B, S, S), canonical depth, albedo, view, light."""
        f = self.factors(image)
        r = self.render(f, flip=False)
        return {
            "depth": r.recon_depth,
            "normal": self.renderer.normals(r.recon_depth),
            "mask": r.recon_mask[:, 0],
            "recon_image": r.recon_image,
            "canon_depth": f.depth,
            "canon_albedo": f.albedo,
            "canon_normal": r.canon_normal,
            "canon_shading": r.canon_shading,
            "view": f.view,
            "light": torch.cat(
                [f.light.ambient[:, None], f.light.diffuse[:, None], f.light.direction], 1
            ),
        }
