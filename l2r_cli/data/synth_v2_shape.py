"""The surface of ``l2r synth --version 2``: identity modes, expressions and fine detail.

The base surface is version 1's parametric face (:func:`l2r_cli.data.synth_face.face_height`),
drawn with version 2's anthropometric layout (:mod:`l2r_cli.data.face_template_v2`), moved by the
expressions (jaw drop, smile, raised brows) and deformed by :data:`N_MODES` smooth identity modes
of the whole relief. On top comes a separate detail layer (wrinkles, crow's feet, nasolabial
folds, brow ridge edge, eyelid creases and lid margins, lip lines, pores) whose features are one
or two output pixels wide or less, so an 8x degradation erases them; it is stored as the dataset
field ``detail_depth`` (canonical depth = base + detail).

:func:`shape_variety` measures how much the faces of a set differ in shape.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.data.face_template import HEAD_CUT, layout
from l2r_cli.data.face_template_v2 import MODE_PEAK, N_MODES
from l2r_cli.data.synth_face import _eye_centres, _g1, _gauss, face_height, ray_grid
from l2r_cli.errors import L2RError

# Mean landmark layout (version 1 = version 2 means) on which the mode functions are placed.
_EX, _EV, _NV, _MV = 0.31, -0.06, 0.36, 0.565
_REF = 64  # grid on which the modes are orthonormalised and the mean depth is measured


def _raw_modes(u: Tensor, v: Tensor) -> list[Tensor]:
    """Smooth functions of the whole face (each broadcasting to (H, W)); the first is the
    constant, which is projected out. Placed at the mean layout."""
    r = (u / 0.84).abs() ** 2.3 + ((v + 0.04) / 1.0).abs() ** 2.3
    head = (1 - r).clamp(min=0) ** 0.42  # flat vs deep
    sym = lambda f: f(-1) + f(1)  # noqa: E731
    return [
        torch.ones_like(u * v),
        head,
        (-(v - (_EV - 0.16))).clamp(min=0) * torch.exp(-((u / 0.6) ** 2)),  # forehead slope
        sym(lambda s: _gauss(u, v, s * 0.42, _EV + 0.27, 0.17, 0.15)),  # cheek fullness
        v * torch.exp(-((u / 0.5) ** 2)),  # upper vs lower face protrusion
        _gauss(u, v, 0, _MV + 0.3, 0.22, 0.11)  # chin and jaw
        + 0.5 * sym(lambda s: _gauss(u, v, s * 0.55, 0.75, 0.12, 0.12)),
        -sym(lambda s: _gauss(u, v, s * _EX, _EV, 0.13, 0.09)),  # eye-socket depth
        _gauss(u, v, 0, _MV - 0.02, 0.25, 0.12),  # muzzle
        sym(lambda s: _gauss(u, v, s * 0.65, _EV - 0.15, 0.1, 0.15)),  # temples
        _gauss(u, v, 0, (_EV + _NV) / 2 - 0.05, 0.05, 0.15),  # nose bridge height
        _gauss(u, v, 0, _NV - 0.05, 0.045, 0.04),  # nose tip
    ]


@lru_cache(maxsize=1)
def _mode_matrix() -> Tensor:
    """(N_MODES, N_RAW) weights that make the raw functions orthonormal (unit RMS, zero mean)
    over the mean face mask: Gram-Schmidt on the reference grid, constant first."""
    u, v = ray_grid(_REF)
    raw = torch.stack([f.expand(_REF, _REF) for f in _raw_modes(u.double(), v.double())])
    r = (u / 0.84).abs() ** 2.3 + ((v + 0.04) / 1.0).abs() ** 2.3
    m = (r < HEAD_CUT).double().flatten()
    a = raw.flatten(1) * m / m.sum().sqrt()  # inner product = mean over the mask
    gram = a @ a.T
    chol = torch.linalg.cholesky(gram)
    w = torch.linalg.inv(chol)[1 : N_MODES + 1]  # rows: orthonormal combinations
    # scale each mode to a peak of 1 over the mask, so MODE_PEAK is its largest height change
    peak = ((w @ raw.flatten(1)).abs() * m).max(1).values
    return (w / peak[:, None]).float()


def mode_rms() -> list[float]:
    """RMS height over the mean face mask of each identity mode at one standard deviation."""
    u, v = ray_grid(_REF)
    raw = torch.stack([f.expand(_REF, _REF) for f in _raw_modes(u, v)]).flatten(1)
    r = (u / 0.84).abs() ** 2.3 + ((v + 0.04) / 1.0).abs() ** 2.3
    m = (r < HEAD_CUT).flatten()
    modes = (_mode_matrix() @ raw)[:, m]
    return [float(x) * s for x, s in zip(modes.pow(2).mean(1).sqrt(), MODE_PEAK, strict=True)]


def identity_relief(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Sum of the identity modes (B, H, W) in depth units (a height towards the camera)."""
    w = _mode_matrix()
    raw = _raw_modes(u, v)
    coef = torch.cat([p[f"mode_{k}"] * MODE_PEAK[k] for k in range(N_MODES)], -1)  # (B, 1, K)
    weights = coef.view(-1, N_MODES) @ w  # (B, N_RAW)
    out = 0
    for j, f in enumerate(raw):
        out = out + weights[:, j].view(-1, 1, 1) * f
    return out


def expressed(p: dict[str, Tensor]) -> dict[str, Tensor]:
    """The layout parameters moved by the expressions: smile raises the mouth corners and the
    cheeks, a raised brow moves the brows up."""
    q = dict(p)
    q["smile"] = p["smile"] - 0.05 * p["smile_e"]
    q["cheek_h"] = p["cheek_h"] + 0.004 * p["smile_e"]
    q["brow_gap"] = p["brow_gap"] + 0.045 * p["brow_e"]
    q["lip_l"] = p["lip_l"] * (1 - 0.25 * p["mouth_e"])  # a stretched lower lip
    return q


def jaw_drop(p: dict[str, Tensor]) -> Tensor:
    """How far (in v) the lower lip and the chin move down when the mouth opens (B, 1, 1)."""
    return 0.07 * p["mouth_e"]


def _base_height(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """Base surface (B, H, W): version 1's face with the expressions, plus the identity modes."""
    q = expressed(p)
    mv = layout(q)["mouth_v"]
    drop = jaw_drop(q)
    # below the mouth line the face is sampled higher up: the jaw moves down
    below = torch.sigmoid((v - mv) / 0.02) * torch.exp(-((u / 0.75) ** 4))
    h = face_height(q, u, v - drop * below)
    # the open mouth: a dark hollow between the parted lips
    gap = _g1(v, mv + 0.5 * drop, 0.3 * drop + 1e-4) * torch.exp(-((u / (0.8 * q["mouth_w"])) ** 4))
    h = h - 0.02 * (p["mouth_e"] > 0) * gap
    # eyes closed: the lid covers the eyeball's bulge with a smooth dome
    for side in (-1, 1):
        cu, cv = _eye_centres(q, side)
        h = h + 0.002 * p["eyes_e"] * _gauss(u, v, cu, cv, 0.12, 0.05)
    return h + identity_relief(p, u, v)


def detail_height(p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """The fine detail layer (B, H, W), a height in depth units: mostly dents of 0.1-2 mm."""
    q = expressed(p)
    L = layout(q)
    age = p["age"]
    h = torch.zeros(())
    # forehead wrinkles: wavy horizontal dents, deeper with age and raised brows
    a = (0.0002 + 0.0009 * age) * (1 + 2.5 * p["brow_e"])
    fore = torch.exp(-((u / 0.42) ** 4))
    for k in range(4):
        vk = L["brow_v"] - 0.09 - 0.055 * k + 0.008 * torch.sin(6 * u + p["wrinkle_phase"] + k)
        h = h - a * (0.6 + 0.4 * math.cos(k)) * fore * _g1(v, vk, 0.007)
    for side in (-1, 1):
        cu, cv = _eye_centres(q, side)
        corner = cu + side * q["eye_w"]
        # crow's feet: short lines fanning out from the outer eye corner
        x, y = side * (u - corner) - 0.03, v - cv
        cf = (0.0001 + 0.0006 * age) * (1 + p["smile_e"])
        for ang in (-0.45, 0.0, 0.45):
            dist = y * math.cos(ang) - x * math.sin(ang)
            along = x * math.cos(ang) + y * math.sin(ang)
            h = h - cf * _g1(dist, 0, 0.005) * _g1(along, 0.05, 0.035)
        # eyelid crease above the eye; lid margins of an open eye, a recessed aperture
        xe = (u - cu) / q["eye_w"]
        open_ = (1 - xe**2).clamp(min=0)
        is_open = 1 - p["eyes_e"]
        crease = cv - q["eye_h"] * open_ - 0.02 - 0.01 * open_
        h = h - 0.0006 * _g1(v, crease, 0.006) * (1 - (xe / 1.15) ** 2).clamp(min=0)
        margin = _g1(v, cv - q["eye_h"] * open_ * is_open, 0.005) * open_
        h = h + 0.0004 * margin
        inside = torch.sigmoid((q["eye_h"] * open_ * is_open - (cv - v)) / 0.004) * torch.sigmoid(
            (0.75 * q["eye_h"] * open_ * is_open - (v - cv)) / 0.004
        )
        h = h - 0.0008 * inside
        # nasolabial fold: from beside the nose wing down to beside the mouth corner
        t = ((v - (L["nose_v"] - 0.04)) / (L["mouth_v"] + 0.08 - L["nose_v"] + 0.04)).clamp(0, 1)
        fold_u = q["nose_w"] + 0.04 + t * (q["mouth_w"] - q["nose_w"] + 0.02)
        nl = (0.0004 + 0.0014 * age) * (1 + 1.5 * p["smile_e"])
        h = h - nl * _g1(side * u, fold_u, 0.012) * torch.sin(math.pi * t).clamp(min=0) ** 0.5
    # a sharp lower edge of the brow ridge
    h = h + 0.0008 * torch.exp(-((u / 0.45) ** 4)) * _g1(v, L["brow_v"] + 0.025, 0.012)
    # lips: vertical lines and the vermilion border
    mv = L["mouth_v"]
    lips_u = torch.exp(-((u / q["mouth_w"]) ** 4))
    on_lips = lips_u * _g1(v, mv, 0.6 * (q["lip_u"] + q["lip_l"]) / 2)
    h = h - p["lip_lines"] * on_lips * (0.5 + 0.5 * torch.cos(2 * math.pi * u / 0.022))
    h = h + 0.0003 * lips_u * _g1(v, mv - q["lip_u"], 0.005)
    # philtrum: two small ridges between the nose and the upper lip
    for side in (-1, 1):
        h = h + 0.0004 * _gauss(u, v, side * 0.03, (L["nose_v"] + mv) / 2, 0.01, 0.05)
    # pores: smooth noise at one to two output pixels
    grid = torch.stack(torch.broadcast_tensors(u, v), -1).expand(len(age), -1, -1, -1)
    pores = F.grid_sample(noise["pores"], grid, mode="bicubic", align_corners=True)
    return h - p["pore_a"] * pores[:, 0]


def canonical_depth_v2(
    p: dict[str, Tensor], noise: dict[str, Tensor], u: Tensor, v: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Frontal depth (B, H, W), its detail part (B, H, W) and the face mask (B, H, W).

    depth = depth_mean + offset - base - detail, the offset chosen so that the mean of the base
    over the face mask is depth_mean; the detail part returned is ``-detail`` (a depth offset).
    """
    ru, rv = ray_grid(_REF)
    rh = _base_height(p, ru, rv)
    rm = _mask(p, ru, rv)
    mean_h = (rh * rm).sum((1, 2), keepdim=True) / rm.sum((1, 2), keepdim=True).clamp(min=1)
    detail = -detail_height(p, noise, u, v)
    base = p["depth_mean"] + mean_h - _base_height(p, u, v)
    return base + detail, detail, _mask(p, u, v)


def _mask(p: dict[str, Tensor], u: Tensor, v: Tensor) -> Tensor:
    """(B, H, W) bool face mask of version 1's head outline, the jaw taper included."""
    dv = (v - p["head_cy"]) / p["head_b"]
    jaw = 1 - p["jaw_taper"] * (dv - 0.15).clamp(min=0) ** 2 / 0.85**2
    r = (u / (p["head_a"] * jaw)).abs() ** p["head_p"] + dv.abs() ** p["head_p"]
    return r < HEAD_CUT


def shape_variety(depths: np.ndarray, masks: np.ndarray) -> float:
    """How much a set of faces differs in shape: the mean over pixels of the standard deviation
    across faces of the depth, after fitting each face to the mean face by a scale and an offset.

    depths, masks: (N, H, W); pixels inside every mask are compared. Identical faces, and faces
    that differ only by a scale and an offset of depth, give 0. In depth units.
    """
    d = np.asarray(depths, dtype=np.float64)
    m = np.asarray(masks) > 0
    if d.ndim != 3 or d.shape != m.shape or len(d) < 2:
        raise L2RError(f"shape_variety needs (N >= 2, H, W) depths and masks, got {d.shape}")
    common = m.all(0)
    if not common.any():
        raise L2RError("shape_variety: the masks have no pixel in common")
    x = d[:, common]  # (N, P)
    ref = x.mean(0)
    rc = ref - ref.mean()
    denom = float((rc**2).sum())
    if denom == 0:  # a flat mean face: only offsets can be removed
        aligned = x - x.mean(1, keepdims=True) + ref.mean()
    else:
        scale = ((x - x.mean(1, keepdims=True)) * rc).sum(1) / denom  # (N,)
        scale = np.where(np.abs(scale) < 1e-12, 1.0, scale)
        aligned = (x - x.mean(1, keepdims=True)) / scale[:, None] + ref.mean()
    return float(aligned.std(0).mean())
