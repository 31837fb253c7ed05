"""Crop and resize for ``l2r degrade``: the region of a photo that becomes the GT, and the
resize of that region to S x S.

:func:`crop_region` picks the region (centre square, the whole image, or a square around a
bounding box); :func:`_crop_resize` resizes it with one of GT_FILTERS, replicating the border
where the region leaves the image. Re-exported by :mod:`l2r_cli.data.ingest`.

This module must not import torch: it is imported by every worker process.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from l2r_cli.data.ingest_image import SkipImage

CROP_MODES = ("center", "none", "bbox")
"""``center``: largest centred square; ``none``: the whole image, stretched to a square if it
is not one; ``bbox``: a square around a per-file box from a list (CelebA's format)."""

GT_FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
}
"""Pillow filters for resizing the crop to the GT (all antialiased: the support scales)."""


def crop_region(
    width: int,
    height: int,
    crop: str,
    box: tuple[float, float, float, float] | None,
    scale: float = 1.0,
) -> tuple[float, float, float, float]:
    """The region (x0, y0, x1, y1) of a width x height (displayed) image that becomes the GT.

    ``center``: the centred square of side ``scale`` x the shorter side. ``none``: the whole
    image. ``bbox``: a square of side max(w, h) centred on the box (the face is not
    stretched); it may leave the image.
    """
    if crop == "center":
        side = min(width, height) * scale
        x0, y0 = (width - side) / 2, (height - side) / 2
        return (x0, y0, x0 + side, y0 + side)
    if crop == "none":
        return (0.0, 0.0, float(width), float(height))
    if crop == "bbox":
        if box is None:
            raise SkipImage("no bounding box")
        bx, by, bw, bh = box
        side = max(bw, bh)
        cx, cy = bx + bw / 2, by + bh / 2
        return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    raise ValueError(f"unknown crop mode {crop!r}")


def _crop_resize(
    img: Image.Image, region: tuple[float, float, float, float], size: int, resample: int
) -> Image.Image:
    """Resize ``region`` (x0, y0, x1, y1; may leave the image: border replicated) of ``img``
    to size x size."""
    w, h = img.size
    x0, y0, x1, y1 = region
    pad = (
        max(0, math.ceil(-x0)),
        max(0, math.ceil(-y0)),
        max(0, math.ceil(x1 - w)),
        max(0, math.ceil(y1 - h)),
    )
    if any(pad):
        a = np.asarray(img)
        spec = ((pad[1], pad[3]), (pad[0], pad[2])) + ((0, 0),) * (a.ndim - 2)
        img = Image.fromarray(np.pad(a, spec, mode="edge"))
        x0, x1, y0, y1 = x0 + pad[0], x1 + pad[0], y0 + pad[1], y1 + pad[1]
    if (x0, y0, x1, y1) == (0, 0, *img.size) and img.size == (size, size):
        return img.copy()
    return img.resize((size, size), resample, box=(x0, y0, x1, y1))
