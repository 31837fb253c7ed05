"""Reading one image file as 8-bit RGB, shared by ``l2r degrade`` and ``l2r reconstruct``.

:func:`_open` opens a file (header only) and refuses empty files, non-images and images over
``max_pixels``; :func:`_decode` decodes the first frame (truncated data is a skip, not a
guess); :func:`_orientation` reads the EXIF orientation (applied with ``_TRANSPOSE``);
:func:`_to_rgb8` converts any Pillow mode to uint8 (H, W, 3): grayscale replicated, 16-bit
scaled by 1/257, palettes expanded, CMYK/YCbCr/LAB/HSV converted by Pillow, alpha composited
over ``background``. Every refusal is a :class:`SkipImage` with a one-line reason.
:func:`read_rgb` chains these for a whole image (no crop, no resize).

Re-exported by :mod:`l2r_cli.data.ingest`.

This module must not import torch: it is imported by every worker process.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's decompression-bomb warning threshold (about 89.5 MP); larger images are skipped."""

_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


class SkipImage(Exception):
    """This file cannot become a sample; the message is the one-line reason for skipped.tsv."""


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 (1 when absent or unreadable)."""
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - malformed EXIF blocks raise all sorts of errors
        return 1
    return value if value in _TRANSPOSE else 1


def _to_rgb8(im: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """Any Pillow mode -> uint8 (H, W, 3); alpha composited over ``background``."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:  # 16-bit grayscale (PNG/TIFF); 'I' is treated as 16-bit
        a = np.asarray(im).astype(np.float64)
        g = np.clip(np.rint(np.clip(a, 0, 65535) / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":  # float images: [0, 1] if they fit, else 8-bit levels
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        a = a * 255.0 if a.size and a.max() <= 1.0 else a
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    has_alpha = mode in _ALPHA_MODES or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint32)
        a = rgba[..., 3:4]
        bg = np.asarray(background, dtype=np.uint32)
        out = (rgba[..., :3] * a + bg * (255 - a) + 127) // 255
        return out.astype(np.uint8)
    if mode != "RGB":
        im = im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return np.asarray(im)


def _open(path: str, max_pixels: int) -> Image.Image:
    """Open (header only) with the one-line reasons of :class:`SkipImage`."""
    try:
        if os.stat(path).st_size == 0:
            raise SkipImage("empty file")
    except OSError as e:
        raise SkipImage(f"cannot read ({e.strerror or e})") from None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise SkipImage("too large: over Pillow's decompression-bomb limit") from None
        except UnidentifiedImageError:
            raise SkipImage("not an image (format not recognised)") from None
        except OSError as e:
            if e.errno is None and "truncated" in str(e).lower():
                raise SkipImage(f"truncated file ({_why(e)})") from None
            if e.errno is None:  # Pillow's own OSErrors carry no errno
                raise SkipImage(f"cannot read image header ({_why(e)})") from None
            raise SkipImage(f"cannot read ({e.strerror or e})") from None
        except Exception as e:  # noqa: BLE001 - Pillow raises many types on malformed headers
            if "truncated" in str(e).lower():
                raise SkipImage(f"truncated file ({_why(e)})") from None
            raise SkipImage(f"cannot read image header ({_why(e)})") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise SkipImage(f"too large: {w}x{h} is over the {max_pixels:,}-pixel limit")
    if w < 1 or h < 1:
        im.close()
        raise SkipImage(f"empty image ({w}x{h})")
    return im


def _why(e: BaseException) -> str:
    """A short one-line description of an exception."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:160] if text else type(e).__name__


def _decode(im: Image.Image) -> None:
    """Load the first frame's pixels, or raise SkipImage (truncated or corrupt data)."""
    try:
        im.load()  # an image opens on its first frame; animated files keep only that one
    except Exception as e:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError...
        msg = str(e).lower()
        if "truncated" in msg or "broken data stream" in msg or isinstance(e, EOFError):
            raise SkipImage(f"truncated image data ({_why(e)})") from None
        raise SkipImage(f"corrupt image data ({_why(e)})") from None


def read_rgb(
    path: str | Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Any image file -> uint8 (H, W, 3), read as ``l2r degrade`` reads its inputs (EXIF
    orientation applied, first frame, 16-bit/float/palette/CMYK converted, alpha over
    ``background``). Also used by ``l2r reconstruct``.

    Raises:
        SkipImage: the one-line reason the file cannot be read.
    """
    im = _open(str(path), max_pixels)
    with im:
        _decode(im)
        frame: Image.Image = im
        orient = _orientation(im)
        if orient != 1:
            frame = frame.transpose(_TRANSPOSE[orient])
        return _to_rgb8(frame, background)
