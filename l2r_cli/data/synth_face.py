"""The parametric face of ``l2r synth``: its surface, its albedo and the backgrounds.

Stage 2 of :mod:`l2r_cli.data.synth`: :func:`canonical_depth` evaluates a parametric face surface
(head ellipsoid, brow ridge, eye sockets, nose, cheeks, lips, chin, jaw) on the pixel rays of the
Unsup3D camera; :func:`canonical_albedo` paints skin, hair line, brows, eyes, nostrils and lips on
the same grid; :func:`background` paints what is behind the head. The parameters ``p`` are the
stacked draws of :func:`l2r_cli.data.synth.sample_params`, named by the table in
:mod:`l2r_cli.data.face_template`; every function here is deterministic given them.

Coordinates and units are those of :mod:`l2r_cli.data.synth`: ``(u, v)`` ray slopes in units of
tan(fov/2) (v down), heights towards the camera in depth units.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.data.face_template import HAIR, HAIR_P, HEAD_CUT, IRIS, IRIS_P, SKIN, layout

# Grid on which the mean depth of a face is measured (any resolution renders the same surface).
_REF_SIZE = 64

_SKIN = torch.tensor(SKIN)
_HAIR = torch.tensor(HAIR)
_HAIR_P = torch.tensor(HAIR_P)
_IRIS = torch.tensor(IRIS)
_IRIS_P = torch.tensor(IRIS_P)


# -- geometry ---------------------------------------------------------------------------------


def ray_grid(size: int, supersample: int = 1) -> tuple[Tensor, Tensor]:
    """Ray slopes u (1, W) and v (H, 1), H = W = size * supersample, in units of tan(fov/2) of
    the output camera (size S); sub-pixel centres of output pixel i average to u_i.

    The grid is kept separable (a row and a column that broadcast to (H, W)): most terms of the
    face depend on u or v alone, so they are computed on vectors and combined once.
    """
    n = size * supersample
    x = (torch.arange(n, dtype=torch.float32) - (supersample - 1) / 2) / supersample
    u = (x - (size - 1) / 2) / ((size - 1) / 2)
    return u.view(1, n), u.view(n, 1)


def _g1(x: Tensor, c: Tensor | float, s: Tensor | float) -> Tensor:
    """1D Gaussian profile exp(-((x - c) / s)^2 / 2)."""
    return torch.exp(-0.5 * ((x - c) / s) ** 2)


def _gauss(u: Tensor, v: Tensor, cu: Tensor | float, cv: Tensor | float, su, sv) -> Tensor:
    """Separable Gaussian bump exp(-((u-cu)/su)^2/2) * exp(-((v-cv)/sv)^2/2)."""
    return torch.exp(-0.5 * ((u - cu) / su) ** 2) * torch.exp(-0.5 * ((v - cv) / sv) ** 2)


def _head(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Superellipse radius^p of the head outline (B, H, W): < 1 inside, jaw narrowed."""
    dv = (v - p["head_cy"]) / p["head_b"]
    jaw = 1 - p["jaw_taper"] * (dv - 0.15).clamp(min=0) ** 2 / 0.85**2
    du = u / (p["head_a"] * jaw)
    return du.abs() ** p["head_p"] + dv.abs() ** p["head_p"]


def _eye_centres(p: dict[str, Tensor], side: int) -> tuple[Tensor, Tensor]:
    """Centre (u, v) of the eye on ``side`` (-1 = image left, +1 = image right)."""
    cu = side * (p["eye_x"] + side * p["eye_dx"] * 0.5)
    cv = p["eye_v"] + side * p["eye_dv"] * 0.5
    return cu, cv


def face_height(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Height of the face surface towards the camera (B, H, W), in depth units.

    Defined (and smooth) everywhere so that normals at the edge of the face mask are exact; only
    the head region (:func:`face_mask`) is a surface that gets rendered.
    """
    L = layout(p)
    r = _head(p, u, v)
    h = p["head_c"] * (1 - r).clamp(min=0) ** p["head_flat"]

    # brow ridge: a bar above the eyes, fading towards the temples
    h = h + p["brow_ridge"] * torch.exp(-((u / 0.5) ** 4)) * _g1(v, L["brow_v"] + 0.03, 0.07)
    for side in (-1, 1):
        cu, cv = _eye_centres(p, side)
        # eye socket, the eyeball inside it, cheek and temple
        h = h - p["socket_d"] * _gauss(u, v, cu, cv + 0.01, 0.16, 0.10)
        h = h + 0.35 * p["socket_d"] * _gauss(u, v, cu, cv, 0.10, 0.05)
        h = h + p["cheek_h"] * _gauss(u, v, side * 0.40, cv + 0.25, 0.16, 0.14)
        h = h - 0.003 * _gauss(u, v, side * 0.63, cv - 0.15, 0.10, 0.15)

    # nose: a ridge from between the eyes to the tip that widens and rises downwards
    nu = u - p["nose_dx"]
    v0 = p["eye_v"] - 0.04
    t = ((v - v0) / (L["tip_v"] - v0)).clamp(0, 1)
    width = 0.055 + 0.05 * t
    after = torch.exp(-0.5 * ((v - L["tip_v"]).clamp(min=0) / 0.045) ** 2)
    ridge = (
        (0.15 + 0.85 * t**1.3)
        * after
        * (v > v0 - 0.1)
        * torch.exp(-0.5 * ((v - v0).clamp(max=0) / 0.05) ** 2)
    )
    h = h + p["nose_h"] * ridge * torch.exp(-0.5 * (nu / width) ** 2)
    h = h + p["tip_h"] * _gauss(nu, v, 0, L["tip_v"], 0.06, 0.05)
    for side in (-1, 1):
        h = h + p["ala_h"] * _gauss(nu, v, side * p["nose_w"], L["nose_v"] - 0.03, 0.05, 0.045)
        h = h - 0.003 * _gauss(nu, v, side * 0.045, L["nose_v"] + 0.005, 0.022, 0.014)

    # mouth: a forward bulge of the muzzle, the lips, the crease between them and under them
    mv = L["mouth_v"]
    h = h + 0.006 * _gauss(u, v, 0, mv - 0.02, 0.30, 0.16)
    lips_u = torch.exp(-((u / (p["mouth_w"] * 1.05)) ** 4))
    h = h + p["lip_h"] * lips_u * _g1(v, mv - p["lip_u"] * 0.5, p["lip_u"] * 0.7)
    h = h + p["lip_h"] * lips_u * _g1(v, mv + p["lip_l"] * 0.5, p["lip_l"] * 0.7)
    h = h - 0.002 * lips_u * _g1(v, mv + p["smile"] * (u / p["mouth_w"]) ** 2, 0.012)
    h = h - 0.002 * _gauss(u, v, 0, mv + p["lip_l"] + 0.06, 0.14, 0.035)
    # chin
    h = h + p["chin_h"] * _gauss(u, v, 0, L["chin_v"], 0.18, 0.10)
    return h


def face_mask(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """(B, H, W) bool: rays that hit the face surface (the front of the head)."""
    return _head(p, u, v) < HEAD_CUT


def canonical_depth(p: dict[str, Tensor], u: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Frontal depth (B, H, W) of the face surface (defined everywhere) and its mask (B, H, W).

    The depth is ``depth_mean - height + offset`` with the offset chosen so that the mean depth
    over the face mask at the output size is ``depth_mean`` (about 1, the rotation pivot).
    """
    # The offset is computed on one fixed grid so that every resolution gets the same surface.
    ru, rv = ray_grid(_REF_SIZE)
    rh, rm = face_height(p, ru, rv), face_mask(p, ru, rv)
    mean_h = (rh * rm).sum((1, 2), keepdim=True) / rm.sum((1, 2), keepdim=True).clamp(min=1)
    return p["depth_mean"] + mean_h - face_height(p, u, v), face_mask(p, u, v)


# -- albedo -----------------------------------------------------------------------------------


def _lerp(a: Tensor, b: Tensor, alpha: Tensor) -> Tensor:
    """a * (1 - alpha) + b * alpha, broadcasting (B, 3, H, W) colours with (B, 1, H, W) alpha."""
    return a + (b - a) * alpha


def _palette(t: Tensor, table: Tensor, probs: Tensor | None = None) -> Tensor:
    """Colours (B, 3, 1, 1) for numbers t (B, 1, 1) in [0, 1]: categorical when ``probs`` is
    given, else a linear interpolation along the table."""
    t = t.view(-1)
    if probs is not None:
        idx = torch.searchsorted(probs.cumsum(0) / probs.sum(), t.contiguous()).clamp(
            max=len(table) - 1
        )
        return table[idx].view(-1, 3, 1, 1)
    x = t * (len(table) - 1)
    i = x.floor().long().clamp(max=len(table) - 2)
    f = (x - i).view(-1, 1)
    return (table[i] * (1 - f) + table[i + 1] * f).view(-1, 3, 1, 1)


def _smooth_noise(noise: Tensor, size: int) -> Tensor:
    """Coarse noise (B, C, h, w) -> smooth (B, C, size, size)."""
    return F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=True)


def canonical_albedo(
    p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor, aa: float
) -> Tensor:
    """Frontal albedo (B, 3, H, W) in [0, 1] on the ray grid (u, v) (H, W) at the rendering size.

    ``aa`` is the width (in u units) over which painted edges ramp, about one rendering pixel.
    Features share their positions with :func:`face_height` through the same parameters.
    """
    L = layout(p)
    n = u.shape[-1]
    u4, v4 = u[None, None], v[None, None]  # (1, 1, H, W)
    p4 = {k: t.unsqueeze(1) for k, t in p.items()}  # (B, 1, 1, 1)
    L4 = {k: t.unsqueeze(1) for k, t in L.items()}

    def soft(d: Tensor) -> Tensor:  # signed distance (positive inside) -> coverage
        return (d / aa + 0.5).clamp(0, 1)

    skin = _palette(p["skin_t"], _SKIN) + torch.cat([p4["skin_r"], p4["skin_g"], p4["skin_b"]], 1)
    hair = _palette(p["hair_col"], _HAIR, _HAIR_P)
    # skin: smooth mottling, per-pixel grain and (for some) freckles on cheeks and nose
    col = skin * (1 + p4["mottle"] * _smooth_noise(noise["mottle"], n))
    col = col * (1 + p4["grain"] * noise["grain"])
    cheeks = sum(_gauss(u4, v4, s * 0.30, L4["nose_v"] - 0.1, 0.25, 0.15) for s in (-1, 1))
    speckle = (noise["freckle"] < 0.12 * cheeks).float() * (p4["freckle_p"] < 0.25)
    col = col * (1 - p4["freckle_a"] * speckle)
    blush = (
        4
        * p4["blush"]
        * sum(_gauss(u4, v4, s * 0.40, p4["eye_v"] + 0.25, 0.15, 0.12) for s in (-1, 1))
    )
    col = _lerp(col, col * torch.tensor([1.05, 0.78, 0.78]).view(1, 3, 1, 1), blush.clamp(max=1))

    # beard shadow around the mouth and along the jaw
    beard = _gauss(u4, v4, 0, L4["mouth_v"] + 0.12, 0.45, 0.22) * soft(v4 - L4["nose_v"])
    stubble = p4["stubble_a"] * (p4["stubble_p"] < 0.2) * beard * (0.6 + 0.4 * noise["grain"])
    col = _lerp(col, hair * 0.8, stubble)

    # hair above an arched hair line, and at the temples
    hair_tex = F.interpolate(noise["hair"], size=(n, n), mode="bilinear", align_corners=False)
    hair_col = hair * (1 + 0.18 * hair_tex)
    head_w = p4["head_a"]
    wave = p4["hair_wave"] * torch.sin(7 * u4 + p4["hair_phase"])
    top = soft(p4["hairline"] + p4["hair_curve"] * (u4 - p4["hair_part"]) ** 2 + wave - v4)
    side = soft(u4.abs() - p4["hair_side"] * head_w) * soft(p4["eye_v"] - 0.05 - v4)
    hair_a = torch.maximum(top, side) * (p4["hair_p"] > 0.1)
    col = _lerp(col, hair_col, hair_a)

    # eyebrows: tapered arcs above the eyes
    brow_col = _lerp(skin, hair * 0.7, p4["brow_dark"])
    for s in (-1, 1):
        inner = p4["eye_x"] - 0.6 * p4["brow_len"]
        t = (s * u4 - inner) / (2 * p4["brow_len"])  # 0 at the inner end, 1 at the outer end
        cv = (
            L4["brow_v"]
            + s * p4["brow_dv"] * 0.5
            - p4["brow_arch"] * torch.sin(math.pi * t.clamp(0, 1) ** 0.8)
        )
        half = 0.5 * p4["brow_thick"] * (1.15 - 0.7 * t.clamp(0, 1))
        along = torch.minimum(t, 1 - t) * 2 * p4["brow_len"]
        a = soft(half - (v4 - cv).abs()) * soft(along)
        col = _lerp(col, brow_col, a * 0.95)

    # eyes: almond-shaped opening, sclera, iris, pupil, dark upper lid with lashes
    iris = _palette(p["iris_col"], _IRIS, _IRIS_P) * p4["iris_shade"]
    sclera = torch.tensor([0.86, 0.82, 0.78]).view(1, 3, 1, 1) * (0.9 + 0.1 * skin.mean(1, True))
    for s in (-1, 1):
        cu, cv = _eye_centres(p4, s)
        x = (u4 - cu) / p4["eye_w"]
        mid = cv - s * p4["eye_tilt"] * x
        open_ = (1 - x**2).clamp(min=0)
        upper = (v4 - mid) + p4["eye_h"] * open_  # > 0 below the upper lid
        lower = 0.75 * p4["eye_h"] * open_ - (v4 - mid)  # > 0 above the lower lid
        eye = soft(torch.minimum(upper, lower)) * soft(1 - x.abs())
        col = _lerp(
            col, col * 0.8, soft(0.03 - (v4 - mid + p4["eye_h"] + 0.02).abs()) * soft(1.1 - x.abs())
        )
        col = _lerp(col, sclera, eye)
        d = torch.sqrt((u4 - cu - p4["gaze_x"]) ** 2 + (v4 - mid - p4["gaze_y"]) ** 2)
        col = _lerp(col, iris, eye * soft(p4["iris_r"] - d))
        col = _lerp(col, torch.full_like(iris, 0.03), eye * soft(0.42 * p4["iris_r"] - d))
        lid = soft(0.018 - (upper - 0.006).abs()) * soft(1.12 - x.abs())
        col = _lerp(col, hair * 0.5 + 0.02, lid)
        col = _lerp(col, col * 0.75, soft(0.008 - (lower - 0.004).abs()) * soft(1 - x.abs()) * 0.6)

    # nostrils
    for s in (-1, 1):
        d = ((u4 - p4["nose_dx"] - s * 0.045) / 0.032) ** 2 + ((v4 - L4["nose_v"]) / 0.016) ** 2
        col = _lerp(col, col * 0.35, soft((1 - d) * 0.016))

    # lips: upper lip with a cupid's bow, lower lip, the dark line between them
    mv = L4["mouth_v"]
    x = u4 / p4["mouth_w"]
    open_ = (1 - x**2).clamp(min=0)
    line = mv + p4["smile"] * x**2
    bow = 1 - 0.35 * torch.exp(-((u4 / 0.05) ** 2))
    top = line - p4["lip_u"] * open_.sqrt() * bow
    bottom = line + p4["lip_l"] * open_**0.6
    lip_rgb = _lerp(
        torch.tensor([0.95, 0.55, 0.55]).view(1, 3, 1, 1),
        torch.tensor([0.85, 0.45, 0.55]).view(1, 3, 1, 1),
        p4["lip_hue"],
    )
    lips = soft(torch.minimum(v4 - top, bottom - v4)) * soft(1 - x.abs())
    col = _lerp(col, _lerp(col, col * lip_rgb, p4["lip_tint"]), lips)
    col = _lerp(col, col * 0.3, soft(0.011 - (v4 - line).abs()) * soft(1.02 - x.abs()))
    return col.clamp(0.02, 0.92)


def background_layers(
    p4: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor
) -> dict[str, Tensor]:
    """The pieces both synth versions build backgrounds from, for parameters p4 (B, 1, 1, 1):
    colours ``c0``, ``c1`` (B, 3, 1, 1), the linear ``gradient`` and the ``textured`` colour
    blobs (B, 3, H, W), the ``fine`` noise (B, 1, H, W) and the smooth ``blobs`` (B, 3, H, W)."""
    n = u.shape[-1]
    c0 = torch.cat([p4["bg_r0"], p4["bg_g0"], p4["bg_b0"]], 1)
    c1 = torch.cat([p4["bg_r1"], p4["bg_g1"], p4["bg_b1"]], 1)
    t = (u * p4["bg_angle"].cos() + v * p4["bg_angle"].sin()) / 2.8 + 0.5
    gradient = _lerp(c0, c1, t.clamp(0, 1))
    fine = F.interpolate(noise["bg_fine"], size=(n, n), mode="bicubic", align_corners=False)
    blobs = _smooth_noise(noise["bg_coarse"], n)
    textured = _lerp(c0, c1, blobs[:, :1]) * (0.8 + 0.4 * blobs[:, 1:2])
    return {"c0": c0, "c1": c1, "gradient": gradient, "textured": textured, "fine": fine,
            "blobs": blobs}  # fmt: skip


def background(p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Random backgrounds (B, 3, H, W) in [0, 1]: solid, a linear gradient or coloured noise."""
    p4 = {k: t.unsqueeze(1) for k, t in p.items()}
    bg = background_layers(p4, noise, u, v)
    c0, gradient = bg["c0"], bg["gradient"]
    textured = bg["textured"] + p4["bg_noise"] * bg["fine"]
    kind = p4["bg_kind"]
    out = torch.where(kind < 0.3, c0.expand_as(gradient), gradient)
    out = torch.where(kind >= 0.65, textured, out)
    return out.clamp(0, 1)
