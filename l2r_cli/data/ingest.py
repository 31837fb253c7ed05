"""Folder and synface ingest for ``l2r degrade``: find the photos, read each one as 8-bit RGB,
crop it and resize it to the ground truth (paper sec. 5: CelebA-HQ and FFHQ at 256x256).

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

This module must not import torch: it is imported by every worker process.
"""

from __future__ import annotations

import math
import os
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".webp",
        ".bmp",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".tif",
        ".tiff",
        ".gif",
    }
)
"""File name endings (any letter case) that ``l2r degrade`` reads from a folder."""

SYNFACE_SPLITS = ("train", "val", "test")
"""Split folders of Unsup3D's synface layout: SPLIT/image/*image.png and SPLIT/depth/*."""

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

DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's decompression-bomb warning threshold (about 89.5 MP); larger images are skipped."""

MIN_DEPTH, MAX_DEPTH = 0.9, 1.1
"""Unsup3D's depth range; synface depth PNGs encode it as 255 (near) .. 0 (far)."""

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
class Source:
    """One candidate file.

    path: filesystem path to open. name: its path relative to SRC with '/' separators, as
    stored in the dataset's ``name`` (undecodable bytes shown as backslash escapes). key: the
    stable sort and seed key (NFC-normalised relative path, utf-8, raw bytes kept).
    depth_path: synface depth PNG. split: a split fixed by the layout or the box list, else
    None (drawn from the seed). box: (x0, y0, w, h) in displayed (EXIF-rotated) pixels.
    """

    path: str
    name: str
    key: bytes
    depth_path: str | None = None
    split: str | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Skipped:
    """A file (or link) left out, with a one-line reason; a row of skipped.tsv."""

    name: str
    reason: str


@dataclass(frozen=True)
class Listing:
    """What :func:`scan` found: sorted sources, scan-time skips, and the layout used."""

    layout: str
    sources: list[Source]
    skipped: list[Skipped]


@dataclass(frozen=True)
class Loaded:
    """One file as GT: image uint8 (S, S, 3); depth float32 (S, S) or None; upscaled: the crop
    region was smaller than S."""

    image: np.ndarray
    depth: np.ndarray | None
    upscaled: bool


# -- names -----------------------------------------------------------------------------------


def display_name(rel: str) -> str:
    """A relative path as valid utf-8 text (bytes that are not utf-8 become backslash escapes)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def name_key(rel: str) -> bytes:
    """Sort/seed key of a relative path: NFC-normalised (the same on Linux and macOS file
    systems), utf-8 encoded, undecodable bytes kept as they were."""
    return unicodedata.normalize("NFC", rel).encode("utf-8", "surrogateescape")


def _source(path: str, rel: str, **kw) -> Source:
    return Source(path=path, name=display_name(rel), key=name_key(rel), **kw)


# -- scanning ----------------------------------------------------------------------------------


def is_synface(src: Path) -> bool:
    """True if SRC looks like Unsup3D's synface layout (some SPLIT/image folder)."""
    return any((src / s / "image").is_dir() for s in SYNFACE_SPLITS)


def _walk(root: Path, exclude: set[tuple[int, int]]) -> Iterator[tuple[str, str] | Skipped]:
    """Yield (path, relative path) of image-suffixed regular files under ``root``, or Skipped.

    Follows symbolic links; every directory (by device and inode) is entered once, so a link
    back up the tree is reported, not followed forever. Directories in ``exclude`` (e.g. OUT
    inside SRC) are left out silently.
    """
    st = os.stat(root)
    seen = {(st.st_dev, st.st_ino)}
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            yield Skipped(display_name(rel or "."), f"cannot list directory ({e.strerror or e})")
            continue
        subdirs = []
        for entry in entries:
            r = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    st = os.stat(entry.path)
                except OSError as e:
                    yield Skipped(display_name(r), f"cannot open directory ({e.strerror or e})")
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident in exclude:
                    continue
                if ident in seen:
                    yield Skipped(
                        display_name(r) + "/",
                        "symbolic link to a directory already scanned (a loop or a second link)",
                    )
                    continue
                seen.add(ident)
                subdirs.append((entry.path, r))
                continue
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
                continue
            try:
                regular = entry.is_file()
            except OSError:
                regular = False
            if regular:
                yield entry.path, r
            elif entry.is_symlink() and not os.path.exists(entry.path):
                yield Skipped(display_name(r), "broken or looping symbolic link")
            else:
                yield Skipped(display_name(r), "not a regular file")
        stack.extend(reversed(subdirs))


def _dedupe(sources: list[Source], skipped: list[Skipped]) -> list[Source]:
    """Sort by key; of several files whose keys collide (names equal after Unicode
    normalisation), keep the first and skip the others."""
    sources = sorted(sources, key=lambda s: s.key)
    out: list[Source] = []
    for s in sources:
        if out and out[-1].key == s.key:
            skipped.append(Skipped(s.name, f"same name as {out[-1].name} after Unicode NFC"))
        else:
            out.append(s)
    return out


def scan_folder(src: Path, exclude: set[tuple[int, int]] = frozenset()) -> Listing:
    """Every image-suffixed file under ``src`` (recursive), sorted by key."""
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for item in _walk(src, set(exclude)):
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            sources.append(_source(*item))
    return Listing("folder", _dedupe(sources, skipped), skipped)


def scan_synface(src: Path) -> Listing:
    """Unsup3D's synface layout: SPLIT/image/<x>image<y>.png with SPLIT/depth/<x>depth<y>.png.

    The split of each sample is its folder's. Images without a depth map are skipped.
    """
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for split in SYNFACE_SPLITS:
        folder = src / split / "image"
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
                continue
            rel = f"{split}/image/{entry.name}"
            depth_name = entry.name.replace("image", "depth")
            depth = src / split / "depth" / depth_name
            if not entry.is_file():
                skipped.append(Skipped(display_name(rel), "not a regular file"))
            elif depth_name == entry.name or not depth.is_file():
                skipped.append(
                    Skipped(display_name(rel), f"no depth map {split}/depth/{depth_name}")
                )
            else:
                sources.append(_source(entry.path, rel, depth_path=str(depth), split=split))
    return Listing("synface", _dedupe(sources, skipped), skipped)


def read_bbox_file(path: Path) -> dict[str, tuple[str | None, tuple[float, float, float, float]]]:
    """Parse a box list: lines ``fname x0 y0 w h`` (CelebA's list_bbox_celeba.txt) or
    ``fname split x0 y0 w h`` (split 0/1/2 as in list_eval_partition.txt, or train/val/test).

    Up to two leading lines that do not parse (CelebA's count and header lines), blank lines
    and lines starting with '#' are ignored. Returns {fname: (split or None, (x0, y0, w, h))}.

    Raises:
        ValueError: one line naming the line number and what is wrong.
    """
    splits = {"0": "train", "1": "val", "2": "test", "train": "train", "val": "val"}
    splits["test"] = "test"
    boxes: dict[str, tuple[str | None, tuple[float, float, float, float]]] = {}
    parsed_any = False
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            try:
                if len(parts) == 5:
                    split, nums = None, parts[1:]
                elif len(parts) == 6:
                    split, nums = splits[parts[1].lower()], parts[2:]
                else:
                    raise ValueError
                x0, y0, w, h = (float(v) for v in nums)
            except (KeyError, ValueError):
                if not parsed_any and lineno <= 2:
                    continue  # CelebA's count line and column header
                raise ValueError(
                    f"line {lineno}: expected 'fname [split] x0 y0 w h' with split 0/1/2 or "
                    f"train/val/test, got {line.strip()[:60]!r}"
                ) from None
            if not (w > 0 and h > 0 and all(map(math.isfinite, (x0, y0, w, h)))):
                raise ValueError(f"line {lineno}: box width and height must be positive")
            parsed_any = True
            boxes[parts[0]] = (split, (x0, y0, w, h))
    return boxes


def attach_boxes(listing: Listing, boxes: dict, bbox_name: str) -> Listing:
    """Give each source its box (matched by relative path, else by file name); sources without
    one, or whose file name is ambiguous, are skipped. A box's split, if given, is used."""
    by_base: dict[str, int] = {}
    for s in listing.sources:
        base = s.name.rsplit("/", 1)[-1]
        by_base[base] = by_base.get(base, 0) + 1
    sources: list[Source] = []
    skipped = list(listing.skipped)
    for s in listing.sources:
        base = s.name.rsplit("/", 1)[-1]
        entry = boxes.get(s.name)
        if entry is None and base in boxes:
            if by_base[base] > 1:
                reason = f"{bbox_name} names {base!r} but several files in SRC have that name"
                skipped.append(Skipped(s.name, reason))
                continue
            entry = boxes[base]
        if entry is None:
            skipped.append(Skipped(s.name, f"no bounding box in {bbox_name}"))
            continue
        split, box = entry
        sources.append(
            Source(s.path, s.name, s.key, s.depth_path, split if split else s.split, box)
        )
    return Listing(listing.layout, sources, skipped)


def scan(
    src: Path,
    layout: str = "auto",
    exclude: set[tuple[int, int]] = frozenset(),
    bbox_file: Path | None = None,
) -> Listing:
    """Candidates under ``src``: ``layout`` is ``auto`` (synface if it looks like it, else
    folder), ``folder`` or ``synface``. With ``bbox_file``, boxes are attached (see
    :func:`attach_boxes`). Skips are sorted by name."""
    if layout == "auto":
        layout = "synface" if is_synface(src) else "folder"
    listing = scan_synface(src) if layout == "synface" else scan_folder(src, exclude)
    if bbox_file is not None:
        listing = attach_boxes(listing, read_bbox_file(bbox_file), bbox_file.name)
    skipped = sorted(listing.skipped, key=lambda s: name_key(s.name))
    return Listing(listing.layout, listing.sources, skipped)


# -- loading ---------------------------------------------------------------------------------


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 (1 when absent or unreadable)."""
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - malformed EXIF blocks raise all sorts of errors
        return 1
    return value if value in _TRANSPOSE else 1


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
