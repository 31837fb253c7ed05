"""Version 2 of ``l2r synth``: faces that differ as people do (docs/synth.md, "Version 2").

The stages are those of version 1 (:mod:`l2r_cli.data.synth`): :func:`sample_params_v2` draws a
sample from a generator seeded by (seed, index) alone, one uniform per table entry
(:mod:`l2r_cli.data.face_template_v2`), then the noise textures; :func:`render_batch_v2` evaluates
the surface (:mod:`l2r_cli.data.synth_v2_shape`) and the albedo, occluders and background
(:mod:`l2r_cli.data.synth_v2_albedo`), shades in the canonical frame, tints by the light colour,
warps into the view and paints the occluders over the face.

Image formation (the factors stored are exact): ``image = light_color * albedo * (ambient +
diffuse * max(0, n . l))`` on the face, then occluders (``occluder_mask``) on top.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.data.face_template_v2 import (
    EXPRESSIONS,
    N_MODES,
    N_UNIFORMS_V2,
    NEUTRAL_P,
    PARAMS_V2,
    derived,
    value_from_uniform,
)
from l2r_cli.data.synth import (
    MAX_DEPTH,
    MIN_DEPTH,
    SampleParams,
    SynthBatch,
    SynthConfig,
    _hi_res_fov,
    _mask_faces,
    _stack,
    posed_depth,
    sample_seed,
    views_and_lights,
)
from l2r_cli.data.synth_face import ray_grid
from l2r_cli.data.synth_v2_albedo import (
    background_v2,
    canonical_albedo_v2,
    expression_vector,
    occluders,
)
from l2r_cli.data.synth_v2_shape import canonical_depth_v2
from l2r_cli.render.renderer import Renderer
from l2r_cli.render.shading import Light, shade

_SHORT = {"mouth_open": "mouth", "smile": "smile", "brow_raise": "brow", "eyes_closed": "eyes"}


def sample_params_v2(seed: int, index: int, size: int, supersample: int) -> SampleParams:
    """Draw version 2 sample ``index``: the table's values, the effective expression amounts
    (``mouth_e``, ``smile_e``, ``brow_e``, ``eyes_e``; 0 when neutral) and the noise textures."""
    g = torch.Generator().manual_seed(sample_seed(seed, index))
    uni = torch.rand(N_UNIFORMS_V2, generator=g, dtype=torch.float64)
    values = {
        name: value_from_uniform(kind, a, b, float(uni[i]))
        for i, (name, kind, a, b) in enumerate(PARAMS_V2)
    }
    values.update(derived(values))
    for e in EXPRESSIONS:
        on = values[f"{e}_p"] >= NEUTRAL_P[e]
        values[f"{_SHORT[e]}_e"] = values[f"{e}_amt"] if on else 0.0
    hi_res = size * supersample
    noise = {
        "mottle": torch.randn(3, 9, 9, generator=g),
        "grain": torch.randn(1, hi_res, hi_res, generator=g),
        "freckle": torch.rand(1, hi_res, hi_res, generator=g),
        "hair": torch.randn(1, hi_res // 8, hi_res // 2, generator=g),
        "brow": torch.randn(1, hi_res, max(hi_res // 8, 1), generator=g),
        "bg_coarse": torch.rand(3, 5, 5, generator=g),
        "bg_fine": torch.randn(3, 24, 24, generator=g),
        # pores: one value per output pixel, sampled smoothly (features of 1-2 output pixels)
        "pores": torch.randn(1, size, size, generator=g),
    }
    return SampleParams(values=values, noise=noise, version=2)


def views_and_lights_v2(
    p: dict[str, Tensor], cfg: SynthConfig
) -> tuple[Tensor, Light, Tensor, Tensor]:
    """View (B, 6), the Light, its 4 stored numbers (B, 4) and the light colour (B, 3)."""
    view, light, raw = views_and_lights(p, cfg, min_diffuse=0.15)
    g = {k: t.view(-1) for k, t in p.items()}
    zero = torch.zeros_like(g["tx"])
    # colour: warm (tint < 0) or cool (tint > 0), the brightest channel 1; white for half
    t = g["light_tint"] * g["light_tint_a"] * (g["light_tint_p"] >= 0.5)
    warm = torch.stack([zero, 0.5 * t.clamp(max=0), 1.2 * t.clamp(max=0)], 1)
    cool = torch.stack([-1.2 * t.clamp(min=0), -0.5 * t.clamp(min=0), zero], 1)
    colour = 1 + warm + cool
    return view, light, raw, colour / colour.max(1, keepdim=True).values


def render_batch_v2(params: list[SampleParams], cfg: SynthConfig) -> SynthBatch:
    """Render version 2 samples (see :class:`l2r_cli.data.synth.SynthBatch`)."""
    s, ss = cfg.size, cfg.supersample
    p, noise = _stack(params)
    view, light, light_raw, tint = views_and_lights_v2(p, cfg)
    tint4 = tint.view(-1, 3, 1, 1)

    hi = Renderer(s * ss, fov=_hi_res_fov(s, ss, cfg.fov), min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    u, v = ray_grid(s, ss)
    depth_hi, _, mask_hi = canonical_depth_v2(p, noise, u, v)
    aa = 1.5 / ((s - 1) / 2) / ss
    albedo_hi = canonical_albedo_v2(p, noise, u, v, aa=aa)
    occ_rgb, occ_a = occluders(p, noise, u, v, aa=aa)
    canon_image, _ = shade(albedo_hi * 2 - 1, hi.normals(depth_hi), light)
    # occluders are lit by the ambient light and half the diffuse one, without their own normals
    occ_lit = occ_rgb * (light.ambient + 0.5 * light.diffuse).view(-1, 1, 1, 1)
    texture = torch.cat([canon_image, occ_lit * 2 - 1, occ_a * 2 - 1], 1)
    out = hi.render(texture, depth_hi, view, faces=_mask_faces(hi, mask_hi))
    face = (out.image[:, :3] + 1) / 2 * tint4
    alpha = ((out.image[:, 6:7] + 1) / 2).clamp(0, 1) * out.mask
    face = face + ((out.image[:, 3:6] + 1) / 2 * tint4 - face) * alpha
    rgb = face * out.mask + background_v2(p, noise, u, v) * (1 - out.mask)
    rgb = F.avg_pool2d(rgb, ss)
    occluded = F.avg_pool2d(alpha, ss)[:, 0] > 0.02

    u, v = ray_grid(s)
    depth_lo, detail_lo, mask_lo = canonical_depth_v2(p, noise, u, v)
    depth, on_face = posed_depth(depth_lo, mask_lo, view, s, cfg.fov)

    canon_albedo = F.avg_pool2d(albedo_hi, ss) * mask_lo.unsqueeze(1)
    modes = torch.cat([p[f"mode_{k}"].view(-1, 1) for k in range(N_MODES)], 1)
    return SynthBatch.of(
        rgb,
        depth,
        on_face,
        depth_lo,
        mask_lo,
        canon_albedo,
        view,
        light_raw,
        detail_depth=torch.where(mask_lo, detail_lo, 0.0).numpy().astype(np.float32),
        occluder_mask=(occluded & on_face).numpy().astype(np.uint8),
        light_color=tint.numpy().astype(np.float32),
        expression=expression_vector(p).numpy().astype(np.float32),
        shape_modes=modes.numpy().astype(np.float32),
    )
