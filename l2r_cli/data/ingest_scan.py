"""Scanning for ``l2r degrade`` (main process): find the candidate files under SRC.

:func:`scan` walks SRC recursively (following symbolic links, each directory once, so link
loops end), or reads Unsup3D's synface layout with its depth maps, and returns the candidate
files sorted by a stable key (their NFC-normalised relative path) plus what it had to leave
out, with a reason. With a box list (:func:`read_bbox_file`, CelebA's format) each source gets
its box (:func:`attach_boxes`).

Holds: IMAGE_SUFFIXES, SYNFACE_SPLITS; the :class:`Source`, :class:`Skipped` and
:class:`Listing` records; :func:`display_name`, :func:`name_key`; :func:`scan` and its parts.
Re-exported by :mod:`l2r_cli.data.ingest`.

This module must not import torch: it is imported by every worker process.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
