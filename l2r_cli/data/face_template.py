"""The layout of l2r's synthetic faces as plain numbers: no torch, no numpy.

:mod:`l2r_cli.data.synth` draws every sample from the parameter table :data:`PARAMS` and
paints it with the palettes below (:mod:`l2r_cli.data.synth_face`); :mod:`l2r_cli.faces` takes
the crop convention of real photos from the same table's means (:func:`param_mean`). Keeping the
table here lets face alignment read it without importing torch and the renderer.

Units are those of the generator (see :mod:`l2r_cli.data.synth`): lengths in (u, v) ray-slope
units, u = -1 .. 1 across the crop and v pointing down; heights in camera depth units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

N_UNIFORMS = 160
"""Uniform random numbers drawn per sample before the noise textures (generous; unused are drawn
too, so adding a parameter does not shift the noise textures)."""

HEAD_CUT = 0.94
"""Head pixels whose ellipse radius^2 exceeds this are not part of the face (the silhouette of
the ellipsoid is too steep to sample; a face crop shows the front of the head only)."""

# (name, low, high): identity, view, light and background parameters, drawn in this order from
# U(0, 1) numbers. Lengths in (u, v) units, heights in depth units (see the module docstring).
PARAMS: tuple[tuple[str, float, float], ...] = (
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
assert len(PARAMS) <= N_UNIFORMS


def param_mean(name: str) -> float:
    """Mean of a layout parameter over the generator's distribution (the middle of its range);
    used by the crop convention of real photos (:mod:`l2r_cli.faces`)."""
    for n, lo, hi in PARAMS:
        if n == name:
            return (lo + hi) / 2
    raise KeyError(name)


def layout(p: Mapping[str, Any]) -> dict[str, Any]:
    """Derived landmark positions shared by the surface and the albedo.

    ``p`` maps parameter names to numbers or to tensors (B, 1, 1); the results have the same
    type (arithmetic only, so this works without torch).
    """
    nose_v = p["eye_v"] + p["nose_len"]
    mouth_v = nose_v + p["mouth_gap"] + p["mouth_dv"]
    return {
        "nose_v": nose_v,  # nose base (nostrils)
        "tip_v": nose_v - 0.05,
        "mouth_v": mouth_v,
        "brow_v": p["eye_v"] - p["brow_gap"],
        "chin_v": mouth_v + 0.30,
    }


# -- palettes (RGB albedo in [0, 1]) ------------------------------------------------------------

SKIN: tuple[tuple[float, float, float], ...] = (
    (0.93, 0.78, 0.68),
    (0.88, 0.68, 0.56),
    (0.78, 0.58, 0.45),
    (0.66, 0.46, 0.34),
    (0.50, 0.34, 0.24),
    (0.36, 0.24, 0.17),
)
"""Skin albedos from light to dark (linear interpolation between neighbours)."""

HAIR: tuple[tuple[float, float, float], ...] = (
    (0.05, 0.04, 0.04),
    (0.14, 0.09, 0.06),
    (0.28, 0.18, 0.11),
    (0.45, 0.22, 0.10),
    (0.68, 0.55, 0.35),
    (0.55, 0.54, 0.52),
)
"""Hair colours, drawn categorically with probabilities :data:`HAIR_P`."""

HAIR_P: tuple[float, ...] = (0.3, 0.3, 0.17, 0.07, 0.11, 0.05)

IRIS: tuple[tuple[float, float, float], ...] = (
    (0.30, 0.17, 0.08),
    (0.16, 0.09, 0.05),
    (0.30, 0.45, 0.62),
    (0.32, 0.45, 0.30),
    (0.45, 0.48, 0.50),
    (0.45, 0.34, 0.15),
)
"""Iris colours, drawn categorically with probabilities :data:`IRIS_P`."""

IRIS_P: tuple[float, ...] = (0.3, 0.25, 0.15, 0.1, 0.08, 0.12)
