"""Folder and synface ingest for ``l2r degrade``: find the photos, read each one as 8-bit RGB,
crop it and resize it to the ground truth (paper sec. 5: CelebA-HQ and FFHQ at 256x256).

This is the entry module: it holds the per-file worker job (:class:`IngestConfig`,
:func:`load_source`, :class:`Loaded`, the synface depth maps) and re-exports the rest, which
lives in ``ingest_scan.py`` (scanning, box lists), ``ingest_image.py`` (reading a file as
8-bit RGB, :class:`SkipImage`, :func:`read_rgb`) and ``ingest_crop.py`` (crop region and
resize). Import from here.

Scanning (main process): :func:`scan` walks SRC recursively (following symbolic links, each
directory once, so link loops end), or reads Unsup3D's synface layout with its depth maps, and
returns the candidate files sorted by a stable key (their NFC-normalised relative path) plus
what it had to leave out, with a reason.

Loading (worker processes): :func:`load_source` turns one file into the GT image, or raises
:class:`SkipImage` with a one-line reason. Its steps, in order:

1. refuse empty files, non-images and images over ``max_pixels`` (read from the header only);
2. JPEG only: ask the decoder for a 1/2, 1/4 or 1/8 scale that still covers the GT size
   (``draft``; DCT-domain scaling, much faster than a full decode of a large photo);
3. decode the first frame (animated GIF/WebP/...); truncated data is a skip, not a guess;
4. apply the EXIF orientation;
5. convert to 8-bit RGB: grayscale replicated, 16-bit scaled by 1/257, palettes expanded,
   CMYK/YCbCr/LAB/HSV converted by Pillow, alpha composited over ``background``;
6. crop (centre square, the whole image, or a square around a bounding box, replicating the
   border where the box leaves the image) and resize to S x S with ``gt_filter``.

This module (like every ``ingest_*`` module) must not import torch: it is imported by every
worker process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from l2r_cli.data.ingest_crop import CROP_MODES, GT_FILTERS, _crop_resize, crop_region
from l2r_cli.data.ingest_image import (
    _TRANSPOSE,
    DEFAULT_MAX_PIXELS,
    SkipImage,
    _decode,
    _open,
    _orientation,
    _to_rgb8,
    read_rgb,
)
from l2r_cli.data.ingest_image import _why as _why  # re-exported: degrade_workers imports it
from l2r_cli.data.ingest_scan import (
    IMAGE_SUFFIXES,
    SYNFACE_SPLITS,
    Listing,
    Skipped,
    Source,
    attach_boxes,
    display_name,
    is_synface,
    name_key,
    read_bbox_file,
    scan,
    scan_folder,
    scan_synface,
)

__all__ = [
    "CROP_MODES",
    "DEFAULT_MAX_PIXELS",
    "GT_FILTERS",
    "IMAGE_SUFFIXES",
    "MAX_DEPTH",
    "MIN_DEPTH",
    "SYNFACE_SPLITS",
    "IngestConfig",
    "Listing",
    "Loaded",
    "SkipImage",
    "Skipped",
    "Source",
    "attach_boxes",
    "crop_region",
    "decode_depth",
    "display_name",
    "is_synface",
    "load_source",
    "name_key",
    "read_bbox_file",
    "read_rgb",
    "scan",
    "scan_folder",
    "scan_synface",
]

MIN_DEPTH, MAX_DEPTH = 0.9, 1.1
"""Unsup3D's depth range; synface depth PNGs encode it as 255 (near) .. 0 (far)."""


@dataclass(frozen=True)
class IngestConfig:
    """How files become GT images."""

    gt_size: int = 256
    """S: the GT side in pixels."""
    min_size: int = 32
    """Crop regions smaller than this (the degraded size) are skipped; larger ones smaller than
    S are upscaled (counted as ``upscaled`` in the manifest)."""
    crop: str = "center"
    """One of CROP_MODES."""
    crop_scale: float = 1.0
    """``center`` only: the square's side as a fraction of the shorter side (Unsup3D's BFM
    test images: 170 of 256)."""
    background: tuple[int, int, int] = (255, 255, 255)
    """RGB that transparent pixels are composited over."""
    gt_filter: str = "lanczos"
    """Resize filter for the GT, a key of GT_FILTERS."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Images with more pixels are skipped (decoding them could exhaust a worker's memory)."""


@dataclass(frozen=True)
class Loaded:
    """One file as GT: image uint8 (S, S, 3); depth float32 (S, S) or None; upscaled: the crop
    region was smaller than S."""

    image: np.ndarray
    depth: np.ndarray | None
    upscaled: bool


# -- loading ---------------------------------------------------------------------------------


def _geometry(
    w: int, h: int, orient: int, cfg: IngestConfig, box: tuple[float, float, float, float] | None
) -> tuple[int, int, tuple[float, float, float, float], float]:
    """(displayed width, height, crop region, its shorter side); raises SkipImage when the
    image or its crop is under the degraded size or the box misses the image."""
    dw, dh = (h, w) if orient in (5, 6, 7, 8) else (w, h)
    region = crop_region(dw, dh, cfg.crop, box, cfg.crop_scale)
    side = min(region[2] - region[0], region[3] - region[1])
    if side < cfg.min_size or min(dw, dh) < cfg.min_size:
        raise SkipImage(
            f"too small: {dw}x{dh} (crop {side:.0f} px) is under the degraded size {cfg.min_size}"
        )
    if region[2] <= 0 or region[3] <= 0 or region[0] >= dw or region[1] >= dh:
        raise SkipImage(f"bounding box lies outside the {dw}x{dh} image")
    return dw, dh, region, side


def load_source(src: Source, cfg: IngestConfig) -> Loaded:
    """Read one file as GT (see the module docstring for the steps).

    Raises:
        SkipImage: the one-line reason this file cannot be used.
    """
    im = _open(src.path, cfg.max_pixels)
    with im:
        w, h = im.size
        orient = _orientation(im)
        dw, dh, region, side = _geometry(w, h, orient, cfg, src.box)
        if im.format == "JPEG" and src.depth_path is None:
            # Any decoder scale keeping the crop at least S wide is fine: scale <= side / S.
            # (The scale is the same along both axes, so the orientation does not matter.)
            f = cfg.gt_size / side
            im.draft(None, (max(1, math.ceil(w * f)), max(1, math.ceil(h * f))))
        _decode(im)
        if _orientation(im) != orient:  # EXIF stored after the pixels (e.g. late PNG eXIf)
            orient = _orientation(im)
            dw, dh, region, side = _geometry(w, h, orient, cfg, src.box)
        frame: Image.Image = im
        if orient != 1:
            frame = frame.transpose(_TRANSPOSE[orient])
        rgb = _to_rgb8(frame, cfg.background)
    sx, sy = rgb.shape[1] / dw, rgb.shape[0] / dh  # < 1 after a JPEG draft
    region_now = (region[0] * sx, region[1] * sy, region[2] * sx, region[3] * sy)
    resample = GT_FILTERS[cfg.gt_filter]
    if region_now == (0, 0, cfg.gt_size, cfg.gt_size) and rgb.shape[:2] == (cfg.gt_size,) * 2:
        gt = rgb  # already the GT: no resize, no copy
    else:
        gt = np.asarray(_crop_resize(Image.fromarray(rgb), region_now, cfg.gt_size, resample))
    depth = None
    if src.depth_path is not None:
        depth = _load_depth(src.depth_path, (w, h), region, cfg.gt_size)
    return Loaded(image=gt, depth=depth, upscaled=side < cfg.gt_size)


def decode_depth(code: np.ndarray) -> np.ndarray:
    """Unsup3D's 8-bit depth code -> depth: 0.9 + 0.2 * (1 - c / 255) (the same as
    ``l2r_cli.data.synth.decode_depth``, repeated here to keep torch out of the workers)."""
    return (MIN_DEPTH + (MAX_DEPTH - MIN_DEPTH) * (1 - code.astype(np.float32) / 255)).astype(
        np.float32
    )


def _load_depth(
    path: str, size: tuple[int, int], region: tuple[float, float, float, float], out: int
) -> np.ndarray:
    """A synface depth PNG (channel 0) as float32 (out, out), cropped like its image and
    resized bilinearly (antialiased)."""
    try:
        im = _open(path, DEFAULT_MAX_PIXELS)
        with im:
            _decode(im)
            a = np.asarray(im)
    except SkipImage as e:
        raise SkipImage(f"depth map: {e}") from None
    if a.shape[1::-1] != size:
        raise SkipImage(f"depth map is {a.shape[1]}x{a.shape[0]}, image is {size[0]}x{size[1]}")
    if a.dtype != np.uint8:
        raise SkipImage(f"depth map is not 8-bit (mode {im.mode})")
    code = a[..., 0] if a.ndim == 3 else a
    depth = Image.fromarray(decode_depth(code))  # mode F
    out_img = _crop_resize(depth, region, out, Image.Resampling.BILINEAR)
    return np.asarray(out_img, dtype=np.float32)
