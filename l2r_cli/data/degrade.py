"""Blind face degradation: the degraded inputs the restoration nets train on (paper sec. 5).

The paper trains on 256x256 ground truth "degraded to 32x32 with different blurring and
smoothing" and says no more. l2r uses the model the blind face restoration field uses
(REFERENCE.md, "Blind face degradation"; docs/degradation.md):

    y = JPEG_q( D_{r,f}( x (*) k ) + n )

x: the ground truth, uint8 (S, S, 3), S = ``gt_size``.
k: a Gaussian blur kernel, isotropic or anisotropic (rotated), sigma in GT pixels.
D_{r,f}: downsampling by the integer factor r = S / s to s = ``lq_size`` with filter f: ``area``
    (mean of each r x r block) or ``bilinear`` / ``bicubic`` interpolation at the low-resolution
    pixel centres without a prefilter (OpenCV / PyTorch ``align_corners=False`` semantics), so
    the blur alone decides how much aliasing survives.
n: white Gaussian noise, std in 8-bit levels, added at the low resolution, then rounded.
JPEG_q: a JPEG round trip at quality q (Pillow, 4:2:0 chroma subsampling).

Everything here is a pure function of one image and numpy ``Generator`` s: the per-variant
generators come from (seed, the sample's key) alone (:func:`variant_rngs`), which is what makes
``l2r degrade`` give the same bytes whatever its worker count or resume history. No BLAS call is
made (matrix products could depend on the thread count); the blur is an FFT convolution.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
from PIL import Image

DEGRADE_VERSION = 1
"""Bumped whenever the same config, seed and image would give different degraded bytes."""

REFERENCE_SIZE = 256
"""GT size at which blur sigmas and the kernel size are specified; they scale with gt_size."""

KERNELS = ("isotropic", "anisotropic")
"""Blur kernel types; ``lq_params[..., 0]`` holds the index."""

DOWN_FILTERS = ("area", "bilinear", "bicubic")
"""Downsampling filters; ``lq_params[..., 6]`` holds the index into this tuple."""

PARAM_NAMES = (
    "kernel",
    "sigma_x",
    "sigma_y",
    "theta",
    "kernel_size",
    "scale",
    "down_filter",
    "noise_sigma",
    "jpeg_quality",
)
"""Meaning of the P = 9 entries of each variant's ``lq_params`` vector (see DegradeParams)."""

_N_UNIFORMS = 8  # uniforms drawn per variant before the noise field, used or not
_BICUBIC_A = -0.75  # Keys' cubic with a = -0.75, as in OpenCV and PyTorch


@dataclass(frozen=True)
class DegradeConfig:
    """The degradation model's sizes and parameter ranges (each drawn uniformly per variant)."""

    gt_size: int = 256
    """S: size of the ground truth (square); a multiple of ``lq_size``."""
    lq_size: int = 32
    """s: size of the degraded images (square); the factor r = S / s is 8 by default."""
    variants: int = 4
    """K: degraded variants per image, each with its own random parameters."""
    aniso_prob: float = 0.5
    """Probability that a variant's blur kernel is anisotropic (else isotropic)."""
    sigma_range: tuple[float, float] = (0.1, 10.0)
    """Blur sigma range in pixels at a 256-pixel GT (scaled by gt_size / 256); an anisotropic
    kernel draws both of its sigmas from it, and a rotation angle in [0, pi)."""
    kernel_size: int = 41
    """Blur kernel width at a 256-pixel GT (scaled by gt_size / 256, rounded to odd)."""
    down_filters: tuple[str, ...] = DOWN_FILTERS
    """Downsampling filters to pick from, each equally likely (subset of DOWN_FILTERS)."""
    noise_range: tuple[float, float] = (0.0, 15.0)
    """Std of the Gaussian noise in 8-bit levels (i.e. [0, 15] / 255 of the range)."""
    jpeg_range: tuple[int, int] = (60, 100)
    """JPEG quality range, integers, both ends included."""

    def __post_init__(self) -> None:
        if self.lq_size < 4 or self.gt_size < self.lq_size:
            raise ValueError(f"need 4 <= lq_size <= gt_size, got {self.lq_size}, {self.gt_size}")
        if self.gt_size % self.lq_size:
            raise ValueError(
                f"gt_size ({self.gt_size}) must be a multiple of lq_size ({self.lq_size})"
            )
        if self.variants < 1:
            raise ValueError(f"variants must be at least 1, got {self.variants}")
        lo, hi = self.sigma_range
        if not 0 < lo <= hi:
            raise ValueError(f"sigma_range must satisfy 0 < low <= high, got {self.sigma_range}")
        if not 0 <= self.aniso_prob <= 1:
            raise ValueError(f"aniso_prob must be in [0, 1], got {self.aniso_prob}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if not self.down_filters or not set(self.down_filters) <= set(DOWN_FILTERS):
            raise ValueError(f"down_filters must be a non-empty subset of {DOWN_FILTERS}")
        if not 0 <= self.noise_range[0] <= self.noise_range[1]:
            raise ValueError(f"noise_range must satisfy 0 <= low <= high, got {self.noise_range}")
        if not 1 <= self.jpeg_range[0] <= self.jpeg_range[1] <= 100:
            raise ValueError(f"jpeg_range must be within [1, 100], got {self.jpeg_range}")

    @property
    def scale(self) -> int:
        """r = gt_size / lq_size."""
        return self.gt_size // self.lq_size

    @property
    def px_scale(self) -> float:
        """GT pixels per pixel of the 256-pixel reference at which sigmas are specified."""
        return self.gt_size / REFERENCE_SIZE

    @property
    def kernel_px(self) -> int:
        """The blur kernel's width in GT pixels: kernel_size scaled to gt_size, odd, >= 3,
        and at most about half the image (reflection padding needs a border < S)."""
        ks = round(self.kernel_size * self.px_scale)
        ks = min(max(ks, 3), self.gt_size - 1)
        return ks if ks % 2 else ks - 1 if ks > 3 else 3


@dataclass(frozen=True)
class DegradeParams:
    """The random draw of one variant; ``to_vector`` gives the stored ``lq_params`` row.

    kernel: 0 isotropic, 1 anisotropic. sigma_x, sigma_y: Gaussian std in GT pixels along the
    kernel's axes (equal when isotropic); theta: rotation of the x axis in radians (0 when
    isotropic). kernel_size: kernel width in GT pixels. scale: r. down_filter: index into
    DOWN_FILTERS. noise_sigma: noise std in 8-bit levels. jpeg_quality: 1..100.
    """

    kernel: int
    sigma_x: float
    sigma_y: float
    theta: float
    kernel_size: int
    scale: int
    down_filter: int
    noise_sigma: float
    jpeg_quality: int
    noise: np.ndarray = field(repr=False)
    """Standard normal field (s, s, 3) float32; multiplied by noise_sigma when applied."""

    def to_vector(self) -> np.ndarray:
        """(P,) float32 in the order of PARAM_NAMES."""
        return np.array([getattr(self, k) for k in PARAM_NAMES], dtype=np.float32)


def sample_key_words(key: bytes) -> list[int]:
    """Four 32-bit words of sha256(key): a stable digest (Python's hash() is salted)."""
    digest = hashlib.sha256(key).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def variant_rngs(seed: int, key: bytes, k: int) -> list[np.random.Generator]:
    """Generators of variants 0..k-1 of the sample with ``key`` (its relative path).

    Variant i's generator depends on (seed, key, i) only: not on k, the file's position in the
    folder, or which process handles it.
    """
    entropy = [int(seed), *sample_key_words(key)]
    return [
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(i,))))
        for i in range(k)
    ]


def sample_params(cfg: DegradeConfig, rng: np.random.Generator) -> DegradeParams:
    """Draw one variant's parameters, then its noise field, from ``rng`` (always the same
    number of draws, so that a parameter's stream never shifts with another's value)."""
    u = rng.random(_N_UNIFORMS)
    lo, hi = cfg.sigma_range
    s = cfg.px_scale
    aniso = bool(u[0] < cfg.aniso_prob)
    sigma_x = (lo + (hi - lo) * u[1]) * s
    sigma_y = (lo + (hi - lo) * u[2]) * s if aniso else sigma_x
    theta = math.pi * u[3] if aniso else 0.0
    name = cfg.down_filters[min(int(u[4] * len(cfg.down_filters)), len(cfg.down_filters) - 1)]
    n0, n1 = cfg.noise_range
    q0, q1 = cfg.jpeg_range
    quality = min(q0 + int(u[6] * (q1 - q0 + 1)), q1)
    noise = rng.standard_normal((cfg.lq_size, cfg.lq_size, 3)).astype(np.float32)
    return DegradeParams(
        kernel=int(aniso),
        sigma_x=float(sigma_x),
        sigma_y=float(sigma_y),
        theta=float(theta),
        kernel_size=cfg.kernel_px,
        scale=cfg.scale,
        down_filter=DOWN_FILTERS.index(name),
        noise_sigma=float(n0 + (n1 - n0) * u[5]),
        jpeg_quality=int(quality),
        noise=noise,
    )


def gaussian_kernel(sigma_x: float, sigma_y: float, theta: float, size: int) -> np.ndarray:
    """A normalised Gaussian kernel (size, size) float64 with std sigma_x along the direction at
    angle theta (radians, counter-clockwise from +x with y pointing down) and sigma_y across it;
    truncated to the window, which sums to 1."""
    r = size // 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    c, s = math.cos(theta), math.sin(theta)
    u = c * x + s * y
    v = -s * x + c * y
    k = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return k / k.sum()


class _Spectrum:
    """The FFT of one reflect-padded GT image, shared by its K variants' blurs.

    Circular convolution on an L x L grid (L >= S + 2R, a fast FFT length) of the image padded
    by R = kernel radius on each side: output pixels 2R .. 2R + S - 1 see no wrap-around.
    """

    def __init__(self, image: np.ndarray, radius: int) -> None:
        s = image.shape[0]
        self.size, self.radius = s, radius
        self.n = scipy.fft.next_fast_len(s + 2 * radius, real=True)
        x = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)  # (3, S, S)
        x = np.pad(x, ((0, 0), (radius, radius), (radius, radius)), mode="reflect")
        self.spectrum = scipy.fft.rfft2(x, s=(self.n, self.n), workers=1)

    def blur(self, kernel: np.ndarray) -> np.ndarray:
        """The image convolved with ``kernel`` (2R+1, 2R+1): (3, S, S) float32."""
        kf = scipy.fft.rfft2(kernel.astype(np.float32), s=(self.n, self.n), workers=1)
        out = scipy.fft.irfft2(self.spectrum * kf, s=(self.n, self.n), workers=1)
        r2, s = 2 * self.radius, self.size
        return out[:, r2 : r2 + s, r2 : r2 + s]


def _interp_taps(size: int, out: int, cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (T, out) and weights (T, out) sampling ``size`` pixels at ``out`` centres.

    Centres map as src = (i + 0.5) * size / out - 0.5 (align_corners=False); taps outside the
    image are clamped to the border (edge replication). T = 2 (linear) or 4 (Keys cubic).
    """
    src = (np.arange(out, dtype=np.float64) + 0.5) * (size / out) - 0.5
    i0 = np.floor(src)
    t = src - i0
    if cubic:
        offsets = np.arange(-1, 3)
        d = np.abs(t[None] - offsets[:, None])  # distance of each tap to the sample point
        a = _BICUBIC_A
        w = np.where(
            d <= 1,
            ((a + 2) * d - (a + 3)) * d * d + 1,
            ((a * d - 5 * a) * d + 8 * a) * d - 4 * a,
        )
    else:
        offsets = np.arange(0, 2)
        w = np.stack([1 - t, t])
    idx = np.clip(i0[None].astype(np.int64) + offsets[:, None], 0, size - 1)
    return idx, w.astype(np.float32)


def downsample(x: np.ndarray, out: int, filt: str) -> np.ndarray:
    """(3, S, S) float32 -> (3, out, out) float32 with ``filt`` in DOWN_FILTERS; S % out == 0."""
    c, s, _ = x.shape
    if filt == "area":
        r = s // out
        return x.reshape(c, out, r, out, r).mean(axis=(2, 4), dtype=np.float32)
    idx, w = _interp_taps(s, out, cubic=filt == "bicubic")
    rows = sum(w[t][None, :, None] * x[:, idx[t], :] for t in range(len(idx)))
    return sum(w[t][None, None, :] * rows[:, :, idx[t]] for t in range(len(idx)))


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode uint8 (h, w, 3) as a baseline 4:2:0 JPEG at ``quality`` and decode it again."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling="4:2:0")
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def degrade(
    image: np.ndarray, cfg: DegradeConfig, rngs: list[np.random.Generator]
) -> tuple[np.ndarray, np.ndarray]:
    """Make len(rngs) degraded variants of one GT image.

    Args:
        image: uint8 (S, S, 3), S = cfg.gt_size.
        cfg: the degradation model.
        rngs: one generator per variant (see :func:`variant_rngs`).

    Returns:
        lq: uint8 (K, s, s, 3), s = cfg.lq_size; params: float32 (K, P) rows of PARAM_NAMES.
    """
    s = cfg.gt_size
    if image.dtype != np.uint8 or image.shape != (s, s, 3):
        raise ValueError(f"expected uint8 ({s}, {s}, 3), got {image.dtype} {image.shape}")
    ks = cfg.kernel_px
    spectrum = _Spectrum(image, ks // 2)
    lqs, vecs = [], []
    for rng in rngs:
        p = sample_params(cfg, rng)
        blurred = spectrum.blur(gaussian_kernel(p.sigma_x, p.sigma_y, p.theta, ks))
        small = downsample(blurred, cfg.lq_size, DOWN_FILTERS[p.down_filter])
        small = small.transpose(1, 2, 0) + p.noise_sigma * p.noise
        small = np.clip(np.rint(small), 0, 255).astype(np.uint8)
        lqs.append(jpeg_roundtrip(small, p.jpeg_quality))
        vecs.append(p.to_vector())
    return np.stack(lqs), np.stack(vecs)


def degrade_one(
    image: np.ndarray, cfg: DegradeConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One variant: uint8 (s, s, 3) and its float32 (P,) parameters (see :func:`degrade`)."""
    lq, params = degrade(image, cfg, [rng])
    return lq[0], params[0]
