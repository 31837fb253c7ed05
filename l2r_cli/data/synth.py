"""Procedural faces with exact ground truth (``l2r synth``).

A stand-in for Unsup3D's synface data (BFM faces on random backgrounds; REFERENCE.md,
"Evaluation") that needs no download. Every sample is made by the image-formation model the
proxy learns (paper sec. 3, Unsup3D eqn. 1): a canonical (frontal) depth map and albedo, Lambertian
shading under a global light in the canonical frame, then a rigid view warp by our renderer.
So the stored canonical depth, albedo, view and light are the exact factors of the image.

Stages of one batch:

1. :func:`sample_params` draws every random number of one sample from a generator seeded by
   (seed, index) alone, so a sample does not depend on the batch it is made in.
2. :func:`canonical_depth` evaluates a parametric face surface (head ellipsoid, brow ridge, eye
   sockets, nose, cheeks, lips, chin, jaw) on the pixel rays of the Unsup3D camera;
   :func:`canonical_albedo` paints skin, hair line, brows, eyes, nostrils and lips on the same grid.
3. :func:`render_batch` shades the canonical albedo, warps it into the random view at
   ``supersample`` x the output size, composites it over a background and area-averages down; the
   image-view depth and mask are rendered at the output size (exact depth at pixel centres).
4. :func:`generate` writes Unsup3D's synface PNG layout and an l2r HDF5 dataset.

Coordinates: ``(u, v)`` are ray slopes in units of tan(fov/2), i.e. u = (x - cx) / (cx) at the
output size S, so u = -1 and u = 1 are the centres of the first and last pixel columns; v points
down like the image y axis. Lengths of facial features are in these units; heights of the surface
(towards the camera) are in camera depth units, where the frame is 2 tan(5 deg) = 0.175 wide at
depth 1.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from l2r_cli.errors import L2RError
from l2r_cli.render.camera import intrinsics
from l2r_cli.render.renderer import Renderer
from l2r_cli.render.shading import Light, normals_from_depth, shade

GENERATOR = "l2r-synth"
"""Name of this generator in the dataset manifest's ``source``."""

GENERATOR_VERSION = 1
"""Bumped whenever the same arguments would produce different data."""

MIN_DEPTH = 0.9
"""Near end of Unsup3D's depth range; every depth this generator makes is inside it."""

MAX_DEPTH = 1.1
"""Far end of Unsup3D's depth range; also the depth of background pixels (synface convention)."""

SPLIT_NAMES = ("train", "val", "test")

# Largest depth a face pixel may have so that its 8-bit code is >= 1 and decodes below MAX_DEPTH.
_MAX_FACE_DEPTH = MAX_DEPTH - 0.6 * (MAX_DEPTH - MIN_DEPTH) / 255
# Head pixels whose ellipse radius^2 exceeds this are not part of the face (the silhouette of the
# ellipsoid is too steep to sample; a face crop shows the front of the head only).
_HEAD_CUT = 0.94
# Uniform random numbers drawn per sample before the noise textures (generous; unused are drawn
# too, so adding a parameter does not shift the noise textures).
_N_UNIFORMS = 160
# Grid on which the mean depth of a face is measured (any resolution renders the same surface).
_REF_SIZE = 64


@dataclass(frozen=True)
class SynthConfig:
    """Everything ``l2r synth`` needs; recorded in the dataset manifest as ``source.args``."""

    out: str = "data/synth"
    """Output directory: the l2r dataset, with the synface PNGs under ``synface/``."""
    n: int = 2000
    """Number of samples over all splits."""
    seed: int = 0
    """Random seed; sample i depends only on (seed, i)."""
    size: int = 64
    """Output image size S (square)."""
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Fractions of train, val, test (normalised to sum to 1)."""
    yaw_range: float = 60.0
    """Yaw (rotation about the vertical axis) is uniform in +-this many degrees."""
    pitch_range: float = 30.0
    """Pitch is uniform in +-this many degrees."""
    roll_range: float = 10.0
    """Roll is uniform in +-this many degrees."""
    xy_trans_range: float = 0.01
    """x and y translation are uniform in +-this (camera units; the frame is 0.175 wide)."""
    fov: float = 10.0
    """Field of view of the camera in degrees (Unsup3D: 10)."""
    supersample: int = 3
    """Render images at this many times the size, then area-average (anti-aliasing)."""
    batch_size: int = 32
    """Samples rendered at once (does not change the data)."""
    overwrite: bool = False
    """Replace an existing dataset and synface folder in ``out``."""


@dataclass(frozen=True)
class SynthBatch:
    """One rendered batch; S = output size.

    image: (B, S, S, 3) uint8, the posed face over its background.
    depth: (B, S, S) float32 in the image view; background pixels are exactly MAX_DEPTH.
    mask: (B, S, S) uint8, 1 where the face covers the pixel centre (= depth < MAX_DEPTH).
    canon_depth: (B, S, S) float32 frontal depth; MAX_DEPTH outside ``canon_mask``.
    canon_albedo: (B, S, S, 3) uint8 frontal albedo; 0 outside ``canon_mask``.
    canon_mask: (B, S, S) uint8, 1 on the face surface in the canonical view.
    view: (B, 6) float32 [pitch, yaw, roll (radians), tx, ty, tz] in the renderer's convention.
    light: (B, 4) float32 [ambient, diffuse, dx, dy]; direction = normalize(dx, dy, 1).
    """

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    canon_depth: np.ndarray
    canon_albedo: np.ndarray
    canon_mask: np.ndarray
    view: np.ndarray
    light: np.ndarray


# -- random parameters ------------------------------------------------------------------------

# (name, low, high): identity, view, light and background parameters, drawn in this order from
# U(0, 1) numbers. Lengths in (u, v) units, heights in depth units (see the module docstring).
_PARAMS: tuple[tuple[str, float, float], ...] = (
    # head ellipsoid; the jaw narrows the lower half
    ("head_a", 0.78, 0.90),  # half width
    ("head_b", 0.96, 1.04),  # half height
    ("head_cy", -0.08, 0.0),  # centre row
    ("head_p", 2.0, 2.6),  # superellipse exponent: 2 = ellipse, larger = squarer
    ("head_c", 0.075, 0.09),  # half depth
    ("head_flat", 0.35, 0.5),  # exponent of the profile (1 - r^p)^flat: smaller = flatter front
    ("jaw_taper", 0.2, 0.4),
    ("depth_mean", 0.995, 1.005),  # mean depth of the face
    # eyes (left/right offsets give mild asymmetry)
    ("eye_v", -0.10, -0.02),
    ("eye_x", 0.28, 0.34),
    ("eye_dv", -0.012, 0.012),
    ("eye_dx", -0.01, 0.01),
    ("eye_w", 0.14, 0.17),
    ("eye_h", 0.050, 0.065),
    ("eye_tilt", -0.02, 0.03),  # outer corner raised by this
    ("socket_d", 0.010, 0.016),
    ("gaze_x", -0.03, 0.03),
    ("gaze_y", -0.008, 0.008),
    ("iris_r", 0.050, 0.062),
    ("iris_col", 0.0, 1.0),
    ("iris_shade", 0.7, 1.2),
    # brows
    ("brow_gap", 0.13, 0.19),
    ("brow_dv", -0.015, 0.015),
    ("brow_arch", 0.015, 0.05),
    ("brow_thick", 0.04, 0.07),
    ("brow_len", 0.17, 0.22),
    ("brow_dark", 0.45, 0.95),
    ("brow_ridge", 0.003, 0.007),
    # nose
    ("nose_len", 0.38, 0.46),  # eye line to nose base
    ("nose_h", 0.020, 0.032),
    ("nose_w", 0.095, 0.13),
    ("nose_dx", -0.012, 0.012),
    ("tip_h", 0.002, 0.005),
    ("ala_h", 0.004, 0.008),
    # mouth and chin
    ("mouth_gap", 0.17, 0.24),  # nose base to mouth line
    ("mouth_w", 0.24, 0.31),
    ("mouth_dv", -0.01, 0.01),
    ("lip_u", 0.04, 0.06),
    ("lip_l", 0.05, 0.08),
    ("smile", -0.02, 0.04),
    ("lip_h", 0.003, 0.006),
    ("lip_tint", 0.55, 0.95),
    ("lip_hue", 0.0, 1.0),
    ("chin_h", 0.003, 0.008),
    ("cheek_h", 0.003, 0.007),
    # skin and hair
    ("skin_t", 0.0, 1.0),
    ("skin_r", -0.03, 0.03),
    ("skin_g", -0.03, 0.03),
    ("skin_b", -0.03, 0.03),
    ("blush", 0.0, 0.08),
    ("mottle", 0.01, 0.05),
    ("grain", 0.005, 0.02),
    ("freckle_p", 0.0, 1.0),
    ("freckle_a", 0.05, 0.2),
    ("hair_col", 0.0, 1.0),
    ("hair_p", 0.0, 1.0),  # < 0.1: no hair
    ("hairline", -0.80, -0.52),
    ("hair_curve", 0.25, 0.7),
    ("hair_wave", 0.0, 0.04),  # amplitude of a wavy hair line
    ("hair_phase", 0.0, 2 * math.pi),
    ("hair_part", -0.35, 0.35),  # where the hair line peaks (a side parting)
    ("hair_side", 0.72, 0.90),  # sideburn hair beyond this fraction of the head width
    ("stubble_p", 0.0, 1.0),
    ("stubble_a", 0.15, 0.4),
    # view (scaled by the config's ranges)
    ("pitch", -1.0, 1.0),
    ("yaw", -1.0, 1.0),
    ("roll", -1.0, 1.0),
    ("tx", -1.0, 1.0),
    ("ty", -1.0, 1.0),
    # light
    ("ambient", 0.30, 0.70),
    ("diffuse", 0.0, 1.0),  # mapped to [0.2, 1.05 - ambient]
    ("light_dx", -0.9, 0.9),
    ("light_dy", -0.6, 0.9),  # dy > 0 lights from above (shading frame: n . l, l ~ (dx, dy, 1))
    # background
    ("bg_kind", 0.0, 1.0),
    ("bg_r0", 0.0, 1.0),
    ("bg_g0", 0.0, 1.0),
    ("bg_b0", 0.0, 1.0),
    ("bg_r1", 0.0, 1.0),
    ("bg_g1", 0.0, 1.0),
    ("bg_b1", 0.0, 1.0),
    ("bg_angle", 0.0, 2 * math.pi),
    ("bg_noise", 0.05, 0.3),
)
assert len(_PARAMS) <= _N_UNIFORMS


def param_mean(name: str) -> float:
    """Mean of a layout parameter over the generator's distribution (the middle of its range);
    used by the crop convention of real photos (:mod:`l2r_cli.faces`)."""
    for n, lo, hi in _PARAMS:
        if n == name:
            return (lo + hi) / 2
    raise KeyError(name)


# Skin albedos from light to dark (linear interpolation between neighbours).
_SKIN = torch.tensor(
    [
        [0.93, 0.78, 0.68],
        [0.88, 0.68, 0.56],
        [0.78, 0.58, 0.45],
        [0.66, 0.46, 0.34],
        [0.50, 0.34, 0.24],
        [0.36, 0.24, 0.17],
    ]
)
_HAIR = torch.tensor(
    [
        [0.05, 0.04, 0.04],
        [0.14, 0.09, 0.06],
        [0.28, 0.18, 0.11],
        [0.45, 0.22, 0.10],
        [0.68, 0.55, 0.35],
        [0.55, 0.54, 0.52],
    ]
)
_HAIR_P = torch.tensor([0.3, 0.3, 0.17, 0.07, 0.11, 0.05])
_IRIS = torch.tensor(
    [
        [0.30, 0.17, 0.08],
        [0.16, 0.09, 0.05],
        [0.30, 0.45, 0.62],
        [0.32, 0.45, 0.30],
        [0.45, 0.48, 0.50],
        [0.45, 0.34, 0.15],
    ]
)
_IRIS_P = torch.tensor([0.3, 0.25, 0.15, 0.1, 0.08, 0.12])


@dataclass(frozen=True)
class SampleParams:
    """The random draw of one sample: named scalars and its noise textures.

    values: {name: float} for every entry of the parameter table.
    noise: {name: Tensor} textures, shapes fixed by the output size and supersampling.
    """

    values: dict[str, float]
    noise: dict[str, Tensor]


def sample_seed(seed: int, index: int) -> int:
    """A 63-bit generator seed that depends only on (seed, index)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def sample_params(seed: int, index: int, size: int, supersample: int) -> SampleParams:
    """Draw sample ``index``'s parameters and noise textures from a generator seeded by
    (seed, index) only (noise at the rendering size S * supersample)."""
    g = torch.Generator().manual_seed(sample_seed(seed, index))
    uni = torch.rand(_N_UNIFORMS, generator=g, dtype=torch.float64)
    values = {name: lo + (hi - lo) * float(uni[i]) for i, (name, lo, hi) in enumerate(_PARAMS)}
    hi_res = size * supersample
    noise = {
        # low-frequency skin colour variation, upsampled smoothly
        "mottle": torch.randn(3, 7, 7, generator=g),
        # per-pixel grain and freckle field at the rendering size
        "grain": torch.randn(1, hi_res, hi_res, generator=g),
        "freckle": torch.rand(1, hi_res, hi_res, generator=g),
        # hair strands: noise stretched along the strands (vertical in a frontal view)
        "hair": torch.randn(1, hi_res // 8, hi_res // 2, generator=g),
        # background texture: coarse colour blobs and fine grain
        "bg_coarse": torch.rand(3, 5, 5, generator=g),
        "bg_fine": torch.randn(3, 16, 16, generator=g),
    }
    return SampleParams(values=values, noise=noise)


def _stack(params: list[SampleParams]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Per-sample params -> ({name: (B, 1, 1)} float32, {noise: (B, ...)})."""
    names = params[0].values.keys()
    vals = {
        k: torch.tensor([p.values[k] for p in params], dtype=torch.float32).view(-1, 1, 1)
        for k in names
    }
    noise = {k: torch.stack([p.noise[k] for p in params]) for k in params[0].noise}
    return vals, noise


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


def _layout(p: dict[str, Tensor]) -> dict[str, Tensor]:
    """Derived landmark positions shared by the surface and the albedo (all (B, 1, 1))."""
    nose_v = p["eye_v"] + p["nose_len"]
    mouth_v = nose_v + p["mouth_gap"] + p["mouth_dv"]
    return {
        "nose_v": nose_v,  # nose base (nostrils)
        "tip_v": nose_v - 0.05,
        "mouth_v": mouth_v,
        "brow_v": p["eye_v"] - p["brow_gap"],
        "chin_v": mouth_v + 0.30,
    }


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
    L = _layout(p)
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
    return _head(p, u, v) < _HEAD_CUT


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
    L = _layout(p)
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


def background(p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Random backgrounds (B, 3, H, W) in [0, 1]: solid, a linear gradient or coloured noise."""
    p4 = {k: t.unsqueeze(1) for k, t in p.items()}
    n = u.shape[-1]
    c0 = torch.cat([p4["bg_r0"], p4["bg_g0"], p4["bg_b0"]], 1)
    c1 = torch.cat([p4["bg_r1"], p4["bg_g1"], p4["bg_b1"]], 1)
    t = (u * p4["bg_angle"].cos() + v * p4["bg_angle"].sin()) / 2.8 + 0.5
    gradient = _lerp(c0, c1, t.clamp(0, 1))
    fine = F.interpolate(noise["bg_fine"], size=(n, n), mode="bicubic", align_corners=False)
    blobs = _smooth_noise(noise["bg_coarse"], n)
    textured = _lerp(c0, c1, blobs[:, :1]) * (0.8 + 0.4 * blobs[:, 1:2]) + p4["bg_noise"] * fine
    kind = p4["bg_kind"]
    out = torch.where(kind < 0.3, c0.expand_as(gradient), gradient)
    out = torch.where(kind >= 0.65, textured, out)
    return out.clamp(0, 1)


# -- rendering --------------------------------------------------------------------------------


def views_and_lights(p: dict[str, Tensor], cfg: SynthConfig) -> tuple[Tensor, Light, Tensor]:
    """View (B, 6) in the renderer's convention, the Light, and its 4 stored numbers (B, 4)."""
    deg = math.pi / 180
    g = {k: t.view(-1) for k, t in p.items()}
    view = torch.stack(
        [
            g["pitch"] * cfg.pitch_range * deg,
            g["yaw"] * cfg.yaw_range * deg,
            g["roll"] * cfg.roll_range * deg,
            g["tx"] * cfg.xy_trans_range,
            g["ty"] * cfg.xy_trans_range,
            torch.zeros_like(g["tx"]),
        ],
        dim=1,
    )
    ambient = g["ambient"]
    diffuse = 0.2 + g["diffuse"] * (1.05 - ambient - 0.2)
    raw = torch.stack([ambient, diffuse, g["light_dx"], g["light_dy"]], dim=1)
    direction = torch.stack([g["light_dx"], g["light_dy"], torch.ones_like(ambient)], dim=1)
    light = Light(ambient, diffuse, direction / direction.norm(dim=1, keepdim=True))
    return view, light, raw


def _mask_faces(renderer: Renderer, mask: Tensor) -> Tensor:
    """Grid triangles (B, F, 3) whose three vertices are on the face; the others collapse to a
    degenerate triangle, which the rasterizer skips."""
    b = mask.shape[0]
    keep = mask.reshape(b, -1)[:, renderer.faces].all(-1)  # (B, F)
    return torch.where(keep[..., None], renderer.faces, torch.zeros_like(renderer.faces))


def _hi_res_fov(size: int, supersample: int, fov: float) -> float:
    """Field of view of the supersampled camera whose sub-pixels average to the output camera's
    pixels: focal length x supersample, and the same principal point after pooling."""
    n = size * supersample
    half = math.tan(math.radians(fov) / 2) * (n - 1) / (supersample * (size - 1))
    return math.degrees(2 * math.atan(half))


def render_batch(params: list[SampleParams], cfg: SynthConfig) -> SynthBatch:
    """Render the samples of ``params`` (see :class:`SynthBatch` for what comes out)."""
    s, ss = cfg.size, cfg.supersample
    p, noise = _stack(params)
    view, light, light_raw = views_and_lights(p, cfg)

    # Image: shade the canonical albedo in the canonical frame, warp it, composite, pool.
    hi = Renderer(s * ss, fov=_hi_res_fov(s, ss, cfg.fov), min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    u, v = ray_grid(s, ss)
    depth_hi, mask_hi = canonical_depth(p, u, v)
    albedo_hi = canonical_albedo(p, noise, u, v, aa=1.5 / ((s - 1) / 2) / ss)
    canon_image, _ = shade(albedo_hi * 2 - 1, hi.normals(depth_hi), light)
    out = hi.render(canon_image, depth_hi, view, faces=_mask_faces(hi, mask_hi))
    rgb = (out.image + 1) / 2 * out.mask + background(p, noise, u, v) * (1 - out.mask)
    rgb = F.avg_pool2d(rgb, ss)

    # Depth and mask: the canonical surface at the output size, warped (exact at pixel centres).
    lo = Renderer(s, fov=cfg.fov, min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    u, v = ray_grid(s)
    depth_lo, mask_lo = canonical_depth(p, u, v)
    warped = lo.warp_depth(depth_lo, view, faces=_mask_faces(lo, mask_lo))
    face = warped.mask > 0
    depth = torch.where(face, warped.depth.clamp(MIN_DEPTH, _MAX_FACE_DEPTH), MAX_DEPTH)

    canon_albedo = F.avg_pool2d(albedo_hi, ss) * mask_lo.unsqueeze(1)
    return SynthBatch(
        image=_to_uint8(rgb),
        depth=depth.numpy().astype(np.float32),
        mask=face.numpy().astype(np.uint8),
        canon_depth=torch.where(mask_lo, depth_lo, MAX_DEPTH).numpy().astype(np.float32),
        canon_albedo=_to_uint8(canon_albedo),
        canon_mask=mask_lo.numpy().astype(np.uint8),
        view=view.numpy().astype(np.float32),
        light=light_raw.numpy().astype(np.float32),
    )


def _to_uint8(x: Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


# -- output -----------------------------------------------------------------------------------


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (..., H, W) in [0.9, 1.1] -> Unsup3D's 8-bit code: 255 at MIN_DEPTH, 0 at MAX_DEPTH."""
    code = np.round(255 * (MAX_DEPTH - depth) / (MAX_DEPTH - MIN_DEPTH))
    return np.clip(code, 0, 255).astype(np.uint8)


def decode_depth(code: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_depth` (Unsup3D's loader): d = 0.9 + 0.2 * (1 - c / 255)."""
    return MIN_DEPTH + (MAX_DEPTH - MIN_DEPTH) * (1 - code.astype(np.float32) / 255)


def split_counts(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Samples per split; sums to n exactly (cumulative rounding)."""
    total = sum(fractions)
    bounds = [round(n * sum(fractions[: i + 1]) / total) for i in range(len(fractions))]
    return [b - a for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def check_config(cfg: SynthConfig) -> None:
    """Raise L2RError (one line) for arguments that cannot make a dataset."""
    if cfg.n < 1:
        raise L2RError(f"--n must be at least 1, got {cfg.n}")
    if cfg.size < 8:
        raise L2RError(f"--size must be at least 8, got {cfg.size}")
    if len(cfg.splits) != 3 or any(f < 0 for f in cfg.splits) or sum(cfg.splits) <= 0:
        raise L2RError(f"--splits needs three non-negative fractions, got {cfg.splits}")
    for name, value, limit in (
        ("yaw", cfg.yaw_range, 90.0),
        ("pitch", cfg.pitch_range, 90.0),
        ("roll", cfg.roll_range, 180.0),
    ):
        if not 0 <= value <= limit:
            raise L2RError(f"--{name}-range must be in [0, {limit:g}] degrees, got {value}")
    if not 0 <= cfg.xy_trans_range <= 0.05:
        raise L2RError(f"--xy-trans-range must be in [0, 0.05], got {cfg.xy_trans_range}")
    if cfg.seed < 0:
        raise L2RError(f"--seed must be non-negative, got {cfg.seed}")
    if cfg.supersample < 1 or cfg.batch_size < 1:
        raise L2RError("supersample and batch size must be at least 1")


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Check that ``out`` is missing, empty, or an earlier output of this command (replaced only
    with ``overwrite``); removes the old synface folder. The dataset files are replaced by the
    DatasetWriter."""
    if not out.exists():
        return
    if not out.is_dir():
        raise L2RError(f"output path exists and is not a directory: {out}")
    synface = out / "synface"
    entries = [p for p in out.iterdir() if p != synface]
    for p in entries:
        if not (p.is_file() and (p.suffix == ".h5" or "manifest" in p.name)):
            raise L2RError(f"refusing to write into a directory l2r synth did not make: {out}")
    if not entries and not synface.exists():
        return
    if not overwrite:
        raise L2RError(f"{out} already holds a dataset (use --overwrite to replace it)")
    if synface.exists():
        for p in synface.rglob("*"):
            rel = p.relative_to(synface).parts
            ours = rel[0] in SPLIT_NAMES and (
                len(rel) == 1
                or (len(rel) == 2 and rel[1] in ("image", "depth"))
                or (len(rel) == 3 and p.suffix == ".png")
            )
            if not ours:
                raise L2RError(
                    f"refusing to delete {synface}: it holds files l2r synth did not write"
                )
        shutil.rmtree(synface)


def _save_png(array: np.ndarray, path: Path) -> None:
    """Write a uint8 (H, W, 3) array; same array -> same bytes (no timestamps in the file)."""
    try:
        Image.fromarray(array).save(path, format="PNG", compress_level=6)
    except OSError as e:
        raise L2RError(f"cannot write {path}: {e.strerror or e}") from None


def generate(cfg: SynthConfig, on_batch: Callable[[int], None] | None = None) -> dict[str, int]:
    """Make the dataset described by ``cfg``; returns the number of samples per split.

    Writes OUT/{train,val,test}.h5 + manifest.json (an l2r dataset) and
    OUT/synface/{split}/{image,depth}/{id:06d}_{image,depth}.png (Unsup3D's layout).
    ``on_batch(k)`` is called after every k samples written (for a progress bar).
    """
    from l2r_cli.data.dataset import DatasetWriter, FieldSpec, standard_fields

    check_config(cfg)
    out = Path(cfg.out)
    s = cfg.size
    fields = standard_fields(s, depth=True, mask=True, canon_size=s)
    fields.update(
        canon_mask=FieldSpec((s, s), "uint8"),
        view=FieldSpec((6,), "float32"),
        light=FieldSpec((4,), "float32"),
    )
    args = asdict(cfg)
    args["splits"] = list(cfg.splits)
    source = {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "args": args,
        "conventions": {
            "view": "[pitch, yaw, roll] radians, R = Rz Ry Rx about (0, 0, 1), then [tx, ty, tz]",
            "light": "[ambient, diffuse, dx, dy]; shading = ambient + diffuse * max(0, n . l), "
            "l = normalize(dx, dy, 1)",
            "depth": "image view, camera z; background = 1.1; canon_depth = 1.1 off canon_mask",
        },
    }
    counts = dict(zip(SPLIT_NAMES, split_counts(cfg.n, cfg.splits), strict=True))
    _prepare_out(out, cfg.overwrite)
    with DatasetWriter(out, s, fields=fields, source=source, overwrite=cfg.overwrite) as writer:
        for split in SPLIT_NAMES:
            for kind in ("image", "depth"):
                (out / "synface" / split / kind).mkdir(parents=True, exist_ok=True)
        start = 0
        for split, count in counts.items():
            writer.declare_split(split)
            for b0 in range(start, start + count, cfg.batch_size):
                ids = list(range(b0, min(b0 + cfg.batch_size, start + count)))
                params = [sample_params(cfg.seed, i, s, cfg.supersample) for i in ids]
                batch = render_batch(params, cfg)
                names = [f"{i:06d}" for i in ids]
                folder = out / "synface" / split
                for k, name in enumerate(names):
                    _save_png(batch.image[k], folder / "image" / f"{name}_image.png")
                    code = encode_depth(batch.depth[k])
                    _save_png(
                        np.repeat(code[..., None], 3, -1), folder / "depth" / f"{name}_depth.png"
                    )
                writer.append_many(
                    split,
                    {
                        "image": batch.image,
                        "name": names,
                        "depth": batch.depth,
                        "mask": batch.mask,
                        "canon_depth": batch.canon_depth,
                        "canon_albedo": batch.canon_albedo,
                        "canon_mask": batch.canon_mask,
                        "view": batch.view,
                        "light": batch.light,
                    },
                )
                if on_batch is not None:
                    on_batch(len(ids))
            start += count
    return counts


def preview_grid(batch: SynthBatch, columns: int = 8, fov: float = 10.0) -> np.ndarray:
    """A uint8 (4 * S, columns * S, 3) sheet of the first ``columns`` samples: rows are the
    image, its depth, the canonical albedo and the canonical depth. Depths are drawn as their
    surface normals lit from the upper left (for looking at the shape, not for decoding); the
    outermost face pixel, whose normal mixes in the background, is left black.
    """
    n = min(columns, len(batch.image))
    K = intrinsics(batch.image.shape[1], fov)
    light = torch.tensor([0.4, 0.5, 1.0])  # shading frame: lit from the upper left
    light = light / light.norm()

    def shaded(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
        normal = normals_from_depth(torch.from_numpy(depth), K)
        grey = 30 + 225 * (normal @ light).clamp(min=0)
        m = torch.from_numpy(mask).float()[:, None]
        inner = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1)), 3, stride=1)[:, 0] > 0  # eroded by 1 px
        grey = torch.where(inner, grey, 0).round().to(torch.uint8)
        return grey[..., None].expand(-1, -1, -1, 3).numpy()

    rows = [
        batch.image[:n],
        shaded(batch.depth[:n], batch.mask[:n]),
        batch.canon_albedo[:n],
        shaded(batch.canon_depth[:n], batch.canon_mask[:n]),
    ]
    return np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)


def write_preview(cfg: SynthConfig, path: Path | str, count: int = 8) -> Path:
    """Render faces 0..count-1 of ``cfg`` (the same as in the dataset) and save their
    :func:`preview_grid` as a PNG at ``path``."""
    check_config(cfg)
    count = min(count, cfg.n)
    params = [sample_params(cfg.seed, i, cfg.size, cfg.supersample) for i in range(count)]
    path = Path(path)
    _save_png(preview_grid(render_batch(params, cfg), columns=count, fov=cfg.fov), path)
    return path
