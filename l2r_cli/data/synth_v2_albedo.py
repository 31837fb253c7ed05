"""Albedo, occluders and backgrounds of ``l2r synth --version 2``.

:func:`canonical_albedo_v2` paints the frontal albedo: skin tones from very light to very dark with
regional colour (redder cheeks, nose and lips, darker under the eyes), mottling, grain, freckles,
moles and stubble; hair above the hair line; eyebrows of hair strokes; eyes (open or closed);
nostrils; lips with lip lines and, when the mouth opens, the dark mouth interior.
:func:`occluders` paints what covers the face without being part of it (a fringe of hair, glasses)
as a colour and a coverage in the canonical frame; the renderer carries them into the image with
the face. :func:`background_v2` is a base (solid, gradient or blobs) with random shapes in front.

Parameters are the stacked draws of :mod:`l2r_cli.data.synth_v2` (table in
:mod:`l2r_cli.data.face_template_v2`); coordinates as in :mod:`l2r_cli.data.synth`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.data.face_template import HAIR, HAIR_P, IRIS, IRIS_P, layout
from l2r_cli.data.face_template_v2 import GLASSES, N_BG_SHAPES, N_MOLES, NEUTRAL_P, SKIN_V2
from l2r_cli.data.synth_face import (
    _eye_centres,
    _gauss,
    _lerp,
    _palette,
    _smooth_noise,
    background_layers,
)
from l2r_cli.data.synth_v2_shape import expressed, jaw_drop

_SKIN = torch.tensor(SKIN_V2)
_HAIR, _HAIR_P = torch.tensor(HAIR), torch.tensor(HAIR_P)
_IRIS, _IRIS_P = torch.tensor(IRIS), torch.tensor(IRIS_P)
_GLASSES = torch.tensor(GLASSES)


def _rgb(*xs: float) -> Tensor:
    return torch.tensor(xs).view(1, 3, 1, 1)


def _stretched(noise: Tensor, n: int) -> Tensor:
    return F.interpolate(noise, size=(n, n), mode="bilinear", align_corners=False)


def canonical_albedo_v2(
    p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor, aa: float
) -> Tensor:
    """Frontal albedo (B, 3, H, W) in [0, 1] on the ray grid (u, v) at the rendering size."""
    q = expressed(p)
    L = layout(q)
    n = u.shape[-1]
    u4, v4 = u[None, None], v[None, None]
    p4 = {k: t.unsqueeze(1) for k, t in q.items()}
    L4 = {k: t.unsqueeze(1) for k, t in L.items()}

    def soft(d: Tensor) -> Tensor:
        return (d / aa + 0.5).clamp(0, 1)

    skin = _palette(p["skin_t"], _SKIN) + torch.cat([p4["skin_r"], p4["skin_g"], p4["skin_b"]], 1)
    hair = _palette(p["hair_col"], _HAIR, _HAIR_P)
    col = skin * (1 + p4["mottle"] * _smooth_noise(noise["mottle"], n))
    col = col * (1 + p4["grain"] * noise["grain"])
    # regional colour: redder cheeks and nose, darker under the eyes, a paler forehead
    cheeks = sum(_gauss(u4, v4, s * 0.40, p4["eye_v"] + 0.25, 0.15, 0.12) for s in (-1, 1))
    nose = _gauss(u4, v4, p4["nose_dx"], L4["tip_v"], 0.07, 0.06)
    red = (p4["blush"] * 4 * cheeks + 0.25 * nose).clamp(max=1)
    col = _lerp(col, col * _rgb(1.04, 0.8, 0.8), red)
    for s in (-1, 1):
        cu, cv = _eye_centres(p4, s)
        col = col * (1 - p4["under_eye"] * _gauss(u4, v4, cu, cv + 0.07, 0.11, 0.035))
    col = col * (1 + 0.04 * _gauss(u4, v4, 0, L4["brow_v"] - 0.2, 0.35, 0.12))
    # freckles over cheeks and nose; a few moles anywhere on the face
    spots = sum(_gauss(u4, v4, s * 0.28, L4["nose_v"] - 0.1, 0.25, 0.15) for s in (-1, 1))
    speckle = (noise["freckle"] < 0.15 * spots).float() * (p4["freckle_p"] < 0.3)
    col = col * (1 - p4["freckle_a"] * speckle)
    for k in range(N_MOLES):
        mu = (p4[f"mole_{k}_u"] - 0.5) * 1.2
        mv = p4[f"mole_{k}_v"] * 1.1 - 0.3
        r = 0.008 + 0.012 * p4[f"mole_{k}_r"]
        d = ((u4 - mu) ** 2 + (v4 - mv) ** 2).sqrt()
        col = _lerp(col, col * 0.45, soft(r - d) * (p4[f"mole_{k}_p"] < 0.35))
    # stubble: dark dots along the jaw, chin and upper lip
    beard = _gauss(u4, v4, 0, L4["mouth_v"] + 0.12, 0.45, 0.24) * soft(v4 - L4["nose_v"] - 0.01)
    dots = (noise["freckle"] > 1 - 0.5 * beard).float()
    col = _lerp(col, hair * 0.7, p4["stubble_a"] * (p4["stubble_p"] < 0.3) * dots)

    # hair above an arched hair line and at the temples
    hair_col = hair * (1 + 0.25 * _stretched(noise["hair"], n))
    wave = p4["hair_wave"] * torch.sin(7 * u4 + p4["hair_phase"])
    top = soft(p4["hairline"] + p4["hair_curve"] * (u4 - p4["hair_part"]) ** 2 + wave - v4)
    side = soft(u4.abs() - p4["hair_side"] * p4["head_a"]) * soft(p4["eye_v"] - 0.05 - v4)
    col = _lerp(col, hair_col, torch.maximum(top, side) * (p4["hair_p"] > 0.1))

    # eyebrows: an arc of hair strokes (noise stretched along the brow)
    strokes = (_stretched(noise["brow"], n) > 0.1).float()
    brow_col = _lerp(skin, hair * 0.6, p4["brow_dark"])
    for s in (-1, 1):
        inner = p4["eye_x"] - 0.6 * p4["brow_len"]
        t = (s * u4 - inner) / (2 * p4["brow_len"])
        cv = L4["brow_v"] + s * p4["brow_dv"] * 0.5
        cv = cv - p4["brow_arch"] * torch.sin(math.pi * t.clamp(0, 1) ** 0.8)
        half = 0.5 * p4["brow_thick"] * (1.15 - 0.7 * t.clamp(0, 1))
        along = torch.minimum(t, 1 - t) * 2 * p4["brow_len"]
        a = soft(half - (v4 - cv).abs()) * soft(along)
        col = _lerp(col, brow_col, a * (0.45 + 0.5 * strokes))

    # eyes: open (sclera, iris, pupil, lashes) or closed (a lid and a lash line)
    iris = _palette(p["iris_col"], _IRIS, _IRIS_P) * p4["iris_shade"]
    sclera = _rgb(0.86, 0.82, 0.78) * (0.9 + 0.1 * skin.mean(1, True))
    open_amount = 1 - p4["eyes_e"]
    for s in (-1, 1):
        cu, cv = _eye_centres(p4, s)
        x = (u4 - cu) / p4["eye_w"]
        mid = cv - s * p4["eye_tilt"] * x
        arc = (1 - x**2).clamp(min=0)
        eh = p4["eye_h"] * open_amount
        upper = (v4 - mid) + eh * arc
        lower = 0.75 * eh * arc - (v4 - mid)
        eye = soft(torch.minimum(upper, lower)) * soft(1 - x.abs())
        crease = soft(0.025 - (v4 - mid + p4["eye_h"] * arc + 0.025).abs()) * soft(1.1 - x.abs())
        col = _lerp(col, col * 0.82, crease)
        col = _lerp(col, sclera, eye)
        d = ((u4 - cu - p4["gaze_x"]) ** 2 + (v4 - mid - p4["gaze_y"]) ** 2).sqrt()
        col = _lerp(col, iris, eye * soft(p4["iris_r"] - d))
        col = _lerp(col, torch.full_like(iris, 0.03), eye * soft(0.42 * p4["iris_r"] - d))
        lash = soft(0.016 - (upper - 0.005).abs()) * soft(1.12 - x.abs())
        col = _lerp(col, hair * 0.4 + 0.02, lash)
        col = _lerp(col, col * 0.75, soft(0.007 - (lower - 0.004).abs()) * soft(1 - x.abs()) * 0.6)

    for s in (-1, 1):  # nostrils
        d = ((u4 - p4["nose_dx"] - s * 0.045) / 0.032) ** 2 + ((v4 - L4["nose_v"]) / 0.016) ** 2
        col = _lerp(col, col * 0.35, soft((1 - d) * 0.016))

    # lips, lip lines, and the mouth interior between the parted lips
    mv = L4["mouth_v"]
    drop = jaw_drop(p4)
    x = u4 / p4["mouth_w"]
    arc = (1 - x**2).clamp(min=0)
    line = mv + p4["smile"] * x**2
    bow = 1 - 0.35 * torch.exp(-((u4 / 0.05) ** 2))
    top = line - p4["lip_u"] * arc.sqrt() * bow
    bottom = line + drop * arc.sqrt() + p4["lip_l"] * arc**0.6
    lip_rgb = _lerp(_rgb(0.95, 0.55, 0.55), _rgb(0.8, 0.42, 0.52), p4["lip_hue"])
    lips = soft(torch.minimum(v4 - top, bottom - v4)) * soft(1 - x.abs())
    lines = 1 - 0.12 * (torch.cos(2 * math.pi * u4 / 0.022) > 0.6).float()
    col = _lerp(col, _lerp(col, col * lip_rgb * lines, p4["lip_tint"]), lips)
    gap = torch.minimum(v4 - line, line + drop * arc.sqrt() - v4) + 0.004
    inside = soft(gap) * soft(0.97 - x.abs()) * (drop > 0.01)
    col = _lerp(col, _rgb(0.12, 0.04, 0.04), inside)
    col = _lerp(col, col * 0.3, soft(0.009 - (v4 - line).abs()) * soft(1.02 - x.abs()))
    return col.clamp(0.02, 0.92)


def occluders(
    p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor, aa: float
) -> tuple[Tensor, Tensor]:
    """Occluder colour (B, 3, H, W) and coverage (B, 1, H, W) in [0, 1] in the canonical frame:
    a fringe of hair over the forehead (30% of faces) and glasses frames (25%)."""
    n = u.shape[-1]
    u4, v4 = u[None, None], v[None, None]
    p4 = {k: t.unsqueeze(1) for k, t in p.items()}

    def soft(d: Tensor) -> Tensor:
        return (d / aa + 0.5).clamp(0, 1)

    hair = _palette(p["hair_col"], _HAIR, _HAIR_P)
    tex = _stretched(noise["hair"], n)
    # fringe: hair from the hair line down to a ragged, slanted edge
    edge = p4["hairline"] + p4["fringe_len"] + p4["fringe_slant"] * u4 + 0.03 * tex
    fringe = soft(edge - v4) * soft(0.85 * p4["head_a"] - u4.abs())
    fringe = fringe * (p4["fringe_p"] < 0.3) * (p4["hair_p"] > 0.1)
    colour = hair * (1 + 0.3 * tex)
    alpha = fringe
    # glasses: two superellipse frames and a bridge, around the eyes
    frame_col = _palette(p["glasses_col"], _GLASSES)
    g = torch.zeros_like(alpha)
    ey = p4["eye_v"] + 0.01
    for s in (-1, 1):
        x = (u4 - s * p4["eye_x"]) / p4["glasses_w"]
        y = (v4 - ey) / p4["glasses_h"]
        r = (x.abs() ** p4["glasses_round"] + y.abs() ** p4["glasses_round"]) ** (
            1 / p4["glasses_round"]
        )
        g = torch.maximum(g, soft(p4["glasses_t"] - (r - 1).abs() * p4["glasses_h"]))
        arm = soft(p4["glasses_t"] * 0.8 - (v4 - ey + 0.3 * p4["glasses_h"]).abs())
        g = torch.maximum(g, arm * soft(s * u4 - p4["eye_x"] - p4["glasses_w"]))
    bridge = soft(p4["glasses_t"] * 0.8 - (v4 - ey + 0.2 * p4["glasses_h"]).abs())
    bridge = bridge * soft(p4["eye_x"] - p4["glasses_w"] + 0.01 - u4.abs())
    g = torch.maximum(g, bridge) * (p4["glasses_p"] < 0.25)
    colour = _lerp(colour, frame_col.expand_as(colour), g)
    alpha = torch.maximum(alpha, g)
    return colour.clamp(0, 1), alpha


BG_SATURATION = 0.45  # fraction of the random colours' saturation kept


def background_v2(p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Cluttered backgrounds (B, 3, H, W): a base and up to N_BG_SHAPES ellipses, rectangles
    and stripes in random colours."""
    p4 = {k: t.unsqueeze(1) for k, t in p.items()}
    n = u.shape[-1]
    bg = background_layers(p4, noise, u, v)
    c0, gradient, textured = bg["c0"], bg["gradient"], bg["textured"]
    fine, blobs = bg["fine"], bg["blobs"]
    kind = p4["bg_kind"]
    out = torch.where(kind < 0.2, c0.expand_as(gradient), gradient)
    out = torch.where(kind >= 0.6, textured, out)
    aa = 2.0 / n
    for k in range(N_BG_SHAPES):
        g = {
            q: p4[f"bgs_{k}_{q}"] for q in ("p", "u", "v", "a", "b", "rot", "r", "g", "bl", "kind")
        }
        ang = g["rot"] * math.pi
        x = (u - (g["u"] * 2.4 - 1.2)) * ang.cos() + (v - (g["v"] * 2.4 - 1.2)) * ang.sin()
        y = -(u - (g["u"] * 2.4 - 1.2)) * ang.sin() + (v - (g["v"] * 2.4 - 1.2)) * ang.cos()
        a, b = 0.1 + 0.5 * g["a"], 0.1 + 0.5 * g["b"]
        ellipse = 1 - ((x / a) ** 2 + (y / b) ** 2).sqrt()
        rect = torch.minimum(a - x.abs(), b - y.abs()) / a
        stripes = torch.sin(x / (0.05 + 0.1 * g["b"])) * torch.minimum(a - x.abs(), b - y.abs())
        sd = torch.where(g["kind"] < 0.4, ellipse, torch.where(g["kind"] < 0.75, rect, stripes))
        cov = (sd / aa + 0.5).clamp(0, 1) * (g["p"] < 0.7)
        colour = torch.cat([g["r"], g["g"], g["bl"]], 1) * (0.85 + 0.3 * blobs[:, 2:3])
        out = _lerp(out, colour, cov)
    # photos' backgrounds are mostly muted: pull the colours toward their grey
    grey = out.mean(1, keepdim=True)
    out = grey + BG_SATURATION * (out - grey)
    return (out + p4["bg_noise"] * fine).clamp(0, 1)


def expression_vector(p: dict[str, Tensor]) -> Tensor:
    """The stored expression parameters (B, 4): mouth_open, smile, brow_raise, eyes_closed."""
    return torch.cat([p[f"{k}_e"].view(-1, 1) for k in ("mouth", "smile", "brow", "eyes")], 1)


__all__ = ["NEUTRAL_P", "background_v2", "canonical_albedo_v2", "expression_vector", "occluders"]
