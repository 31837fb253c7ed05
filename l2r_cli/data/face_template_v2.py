"""The parameter table of ``l2r synth --version 2`` as plain numbers: no torch, no numpy.

Version 2 draws the landmark layout from truncated normal distributions whose relative spreads
follow anthropometric measurements (docs/synth.md, "Version 2"), adds identity shape modes,
expressions, fine detail, occluders and cluttered backgrounds. The means of the layout
parameters are those of version 1 (:mod:`l2r_cli.data.face_template`), so the crop convention of
real photos in :mod:`l2r_cli.faces` holds for both versions (tested).

Every parameter consumes exactly one U(0, 1) number, in table order: a uniform entry maps it
linearly, a normal entry through the inverse normal CDF restricted to +-TRUNC standard deviations
(so changing a spread does not shift the other draws). Units are those of version 1: lengths in
(u, v) ray-slope units, heights in camera depth units (1 unit is about 0.9 m at this face size).
"""

from __future__ import annotations

import math
from statistics import NormalDist

N_UNIFORMS_V2 = 320
"""Uniform numbers drawn per sample before the noise textures (unused ones are drawn too)."""

TRUNC = 2.5
"""Normal parameters are truncated at +- this many standard deviations."""

N_MODES = 10
"""Identity shape modes of the whole face relief (:mod:`l2r_cli.data.synth_v2_shape`)."""

MODE_PEAK = (0.012, 0.007, 0.0075, 0.005, 0.006, 0.005, 0.004, 0.004, 0.006, 0.004)
"""Standard deviation of each mode, as the largest height change over the face it makes at one
standard deviation (depth units; 0.001 is about 0.9 mm). In order: flat vs deep face, forehead
slope, cheek fullness, upper vs lower face, chin and jaw, eye sockets, muzzle, temples, nose
bridge, nose tip (each orthogonalised against the ones before it; their RMS over the face
decreases in this order, :func:`l2r_cli.data.synth_v2_shape.mode_rms`)."""

N_BG_SHAPES = 6
"""Random shapes in front of a version 2 background."""

N_MOLES = 3

EXPRESSIONS = ("mouth_open", "smile", "brow_raise", "eyes_closed")
"""Expression parameters, stored in this order in the ``expression`` field (0 = neutral)."""

NEUTRAL_P = {"mouth_open": 0.6, "smile": 0.5, "brow_raise": 0.65, "eyes_closed": 0.85}
"""Probability that each expression is neutral (exactly 0)."""

# Relative spreads (coefficient of variation) of the anthropometric layout parameters; the
# sources are in docs/synth.md. The means are version 1's.
CV_FACE_WIDTH = 4.6 / 133.8  # zygion-zygion
CV_EYE_INNER = 2.5 / 31.4  # endocanthion-endocanthion
CV_EYE_OUTER = 3.5 / 98.2  # exocanthion-exocanthion
CV_NOSE_WIDTH = 3.8 / 43.2  # alare-alare
CV_NOSE_HEIGHT = 1.9 / 51.0  # nasion-subnasale
CV_JAW_WIDTH = 5.9 / 106.6  # gonion-gonion

_U = "u"
_N = "n"

# (name, kind, a, b): kind "u" = uniform in [a, b]; kind "n" = normal with mean a and standard
# deviation b, truncated at +-TRUNC b.
PARAMS_V2: tuple[tuple[str, str, float, float], ...] = (
    # head: half width from the face width; the jaw narrows the lower half
    ("head_a", _N, 0.84, 0.84 * CV_FACE_WIDTH),
    ("head_b", _N, 1.0, 0.025),
    ("head_cy", _U, -0.08, 0.0),
    ("head_p", _U, 2.0, 2.6),
    ("head_c", _N, 0.0825, 0.006),
    ("head_flat", _U, 0.3, 0.55),
    # jaw width = face width x (1 - 0.28 jaw_taper) at the gonion; its own spread adds
    # sqrt(CV_JAW^2 - CV_FACE^2) = 4.3% on top of the face width's
    ("jaw_taper", _N, 0.3, math.sqrt(CV_JAW_WIDTH**2 - CV_FACE_WIDTH**2) * 0.916 / 0.28),
    ("depth_mean", _U, 0.995, 1.005),
    # eyes: inner and outer half distances; eye_x and eye_w are derived from them
    ("eye_in", _N, 0.155, 0.155 * CV_EYE_INNER),
    ("eye_out", _N, 0.465, 0.465 * CV_EYE_OUTER),
    ("eye_v", _U, -0.10, -0.02),
    ("eye_dv", _U, -0.012, 0.012),
    ("eye_dx", _U, -0.01, 0.01),
    ("eye_h", _U, 0.045, 0.068),
    ("eye_tilt", _U, -0.02, 0.035),
    ("socket_d", _N, 0.013, 0.0025),
    ("gaze_x", _U, -0.03, 0.03),
    ("gaze_y", _U, -0.008, 0.008),
    ("iris_r", _U, 0.048, 0.062),
    ("iris_col", _U, 0.0, 1.0),
    ("iris_shade", _U, 0.7, 1.2),
    # brows
    ("brow_gap", _N, 0.16, 0.015),
    ("brow_dv", _U, -0.015, 0.015),
    ("brow_arch", _U, 0.01, 0.055),
    ("brow_thick", _U, 0.03, 0.075),
    ("brow_len", _U, 0.16, 0.23),
    ("brow_dark", _U, 0.4, 0.95),
    ("brow_ridge", _N, 0.005, 0.0012),
    # nose
    ("nose_len", _N, 0.42, 0.42 * CV_NOSE_HEIGHT),
    ("nose_h", _N, 0.026, 0.0035),  # protrusion: no published SD found, 13% chosen
    ("nose_w", _N, 0.1125, 0.1125 * CV_NOSE_WIDTH),
    ("nose_dx", _U, -0.012, 0.012),
    ("tip_h", _N, 0.0035, 0.001),
    ("ala_h", _U, 0.004, 0.008),
    # mouth and chin
    ("mouth_gap", _N, 0.205, 0.016),
    ("mouth_w", _N, 0.275, 0.0165),
    ("mouth_dv", _U, -0.01, 0.01),
    ("lip_u", _U, 0.035, 0.065),
    ("lip_l", _U, 0.045, 0.085),
    ("smile", _U, -0.02, 0.03),
    ("lip_h", _U, 0.003, 0.006),
    ("lip_tint", _U, 0.45, 0.95),
    ("lip_hue", _U, 0.0, 1.0),
    ("chin_h", _N, 0.0055, 0.0015),
    ("cheek_h", _N, 0.005, 0.0012),
    # identity shape modes (unit normal coefficients, scaled by MODE_STD)
    *((f"mode_{k}", _N, 0.0, 1.0) for k in range(N_MODES)),
    # expressions: "<name>_p" below NEUTRAL_P means neutral, else the amount "<name>_amt"
    *((f"{e}_p", _U, 0.0, 1.0) for e in EXPRESSIONS),
    *((f"{e}_amt", _U, 0.25, 1.0) for e in EXPRESSIONS),
    # fine detail: age scales the wrinkles; pores and lip lines have their own amplitudes
    ("age", _U, 0.0, 1.0),
    ("wrinkle_phase", _U, 0.0, 2 * math.pi),
    ("pore_a", _U, 0.00004, 0.00012),
    ("lip_lines", _U, 0.00005, 0.0002),
    # skin
    ("skin_t", _U, 0.0, 1.0),
    ("skin_r", _U, -0.03, 0.03),
    ("skin_g", _U, -0.03, 0.03),
    ("skin_b", _U, -0.03, 0.03),
    ("blush", _U, 0.0, 0.12),
    ("mottle", _U, 0.02, 0.07),
    ("grain", _U, 0.01, 0.035),
    ("freckle_p", _U, 0.0, 1.0),  # < 0.3: freckles
    ("freckle_a", _U, 0.08, 0.3),
    ("under_eye", _U, 0.0, 0.2),  # darker skin under the eyes
    *((f"mole_{k}_{q}", _U, 0.0, 1.0) for k in range(N_MOLES) for q in ("p", "u", "v", "r")),
    # hair, stubble
    ("hair_col", _U, 0.0, 1.0),
    ("hair_p", _U, 0.0, 1.0),  # < 0.1: no hair
    ("hairline", _U, -0.82, -0.5),
    ("hair_curve", _U, 0.2, 0.75),
    ("hair_wave", _U, 0.0, 0.05),
    ("hair_phase", _U, 0.0, 2 * math.pi),
    ("hair_part", _U, -0.35, 0.35),
    ("hair_side", _U, 0.7, 0.9),
    ("stubble_p", _U, 0.0, 1.0),  # < 0.3: stubble
    ("stubble_a", _U, 0.3, 0.9),
    # occluders: a fringe over the forehead, glasses
    ("fringe_p", _U, 0.0, 1.0),  # < 0.3: fringe
    ("fringe_len", _U, 0.15, 0.4),  # below the hair line
    ("fringe_slant", _U, -0.25, 0.25),
    ("glasses_p", _U, 0.0, 1.0),  # < 0.25: glasses
    ("glasses_w", _U, 0.13, 0.19),  # lens half width
    ("glasses_h", _U, 0.08, 0.13),  # lens half height
    ("glasses_round", _U, 2.0, 6.0),  # superellipse exponent of the lens
    ("glasses_t", _U, 0.012, 0.03),  # frame thickness
    ("glasses_col", _U, 0.0, 1.0),
    # view (scaled by the config's ranges)
    ("pitch", _U, -1.0, 1.0),
    ("yaw", _U, -1.0, 1.0),
    ("roll", _U, -1.0, 1.0),
    ("tx", _U, -1.0, 1.0),
    ("ty", _U, -1.0, 1.0),
    # light: wider strengths than version 1, a colour for half of the faces
    ("ambient", _U, 0.15, 0.75),
    ("diffuse", _U, 0.0, 1.0),  # mapped to [0.15, 1.05 - ambient]
    ("light_dx", _U, -1.2, 1.2),
    ("light_dy", _U, -0.8, 1.0),
    ("light_tint_p", _U, 0.0, 1.0),  # < 0.5: white light
    ("light_tint", _U, -1.0, 1.0),  # warm (< 0) to cool (> 0)
    ("light_tint_a", _U, 0.05, 0.25),
    # background: a base (solid, gradient or blobs) and random shapes in front of it
    ("bg_kind", _U, 0.0, 1.0),
    *((f"bg_{c}{k}", _U, 0.0, 1.0) for k in (0, 1) for c in "rgb"),
    ("bg_angle", _U, 0.0, 2 * math.pi),
    ("bg_noise", _U, 0.02, 0.1),
    *(
        (f"bgs_{k}_{q}", _U, 0.0, 1.0)
        for k in range(N_BG_SHAPES)
        for q in ("p", "u", "v", "a", "b", "rot", "r", "g", "bl", "kind")
    ),
)
assert len(PARAMS_V2) <= N_UNIFORMS_V2


def _normal_cdf_bounds() -> tuple[float, float]:
    nd = NormalDist()
    return nd.cdf(-TRUNC), nd.cdf(TRUNC)


def value_from_uniform(kind: str, a: float, b: float, x: float) -> float:
    """Map one U(0, 1) number ``x`` to a parameter value (see :data:`PARAMS_V2`)."""
    if kind == _U:
        return a + (b - a) * x
    lo, hi = _normal_cdf_bounds()
    q = min(max(lo + (hi - lo) * x, 1e-12), 1 - 1e-12)
    return a + b * NormalDist().inv_cdf(q)


def derived(values: dict[str, float]) -> dict[str, float]:
    """Parameters that follow from others: the eye centre and half width from the inner and outer
    eye-corner half distances."""
    return {
        "eye_x": (values["eye_in"] + values["eye_out"]) / 2,
        "eye_w": (values["eye_out"] - values["eye_in"]) / 2,
    }


def param_mean_v2(name: str) -> float:
    """Mean of a version 2 parameter (a normal's mean, the middle of a uniform range)."""
    for n, kind, a, b in PARAMS_V2:
        if n == name:
            return a if kind == _N else (a + b) / 2
    means = {n: (a if kind == _N else (a + b) / 2) for n, kind, a, b in PARAMS_V2}
    extra = derived(means)
    if name in extra:
        return extra[name]
    raise KeyError(name)


# -- palettes (RGB albedo in [0, 1]) ------------------------------------------------------------

SKIN_V2: tuple[tuple[float, float, float], ...] = (
    (0.95, 0.80, 0.72),
    (0.90, 0.70, 0.58),
    (0.82, 0.61, 0.47),
    (0.72, 0.52, 0.38),
    (0.60, 0.41, 0.29),
    (0.46, 0.30, 0.20),
    (0.32, 0.20, 0.13),
    (0.20, 0.12, 0.08),
)
"""Skin albedos from very light to very dark (linear interpolation between neighbours)."""

GLASSES: tuple[tuple[float, float, float], ...] = (
    (0.03, 0.03, 0.03),
    (0.25, 0.14, 0.07),
    (0.55, 0.55, 0.58),
    (0.70, 0.60, 0.30),
    (0.45, 0.08, 0.08),
    (0.10, 0.15, 0.35),
)
"""Glasses frame colours (picked uniformly)."""
