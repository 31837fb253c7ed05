"""Folder scan and image normalisation of `l2r degrade`, on a folder of hostile files."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from l2r_cli.data.ingest import (
    IngestConfig,
    SkipImage,
    Source,
    attach_boxes,
    crop_region,
    decode_depth,
    load_source,
    name_key,
    read_bbox_file,
    scan,
)

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
CFG = IngestConfig(gt_size=32, min_size=16)


def _halves(w: int, h: int, left=RED, right=BLUE) -> Image.Image:
    """Left half ``left``, right half ``right``."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = left
    a[:, w // 2 :] = right
    return Image.fromarray(a)


def _exif_rotated_jpeg() -> bytes:
    """60 x 40 stored, red left / blue right, EXIF orientation 6 (display rotated 90 deg
    clockwise: 40 x 60 with red on top)."""
    im = _halves(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95, exif=exif)
    return buf.getvalue()


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in (RED, BLUE, GREEN)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def _png16(a: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one): uint16 (H, W, 3)."""
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


# name -> expected: None (written) or a substring of its skip reason
HOSTILE: dict[str, str | None] = {
    "plain.png": None,
    "UPPER.JPG": None,
    "gray.png": None,
    "rgba.png": None,
    "deep16.png": None,
    "rgb16.png": None,
    "palette.gif": None,
    "cmyk.jpg": None,
    "animated.gif": None,
    "animated.webp": None,
    "exif_rotated.jpg": None,
    "still.webp": None,
    "still.bmp": None,
    "still.ppm": None,
    "still.tif": None,
    "ünïcödé/顔 😀.png": None,
    "a/face.png": None,
    "b/face.png": None,
    "big/huge.png": None,
    "empty.jpg": "empty file",
    "truncated.jpg": "truncated",
    "truncated.png": "truncated",
    "notes.png": "not an image",
    "tiny.png": "too small",
    "broken.png": "broken",
    "a/loop/": "already scanned",
}


def make_hostile_folder(root: Path) -> dict[str, str | None]:
    """Build every case of docs/degradation.md "Input normalisation" under ``root``; returns
    HOSTILE (name -> None if it must be written, else a substring of its skip reason)."""
    root.mkdir(parents=True)
    for sub in ("a", "b", "big", "ünïcödé"):
        (root / sub).mkdir()
    _halves(80, 64).save(root / "plain.png")  # not square: centre-cropped
    _halves(48, 48).save(root / "UPPER.JPG", format="JPEG", quality=95)
    Image.new("L", (40, 40), 100).save(root / "gray.png")
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 20:, 3] = 255  # left half transparent: shows the background
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    Image.fromarray(np.full((40, 40), 40000, np.uint16)).save(root / "deep16.png")
    (root / "rgb16.png").write_bytes(_png16(np.full((40, 40, 3), (40000, 200, 65535), np.uint16)))
    Image.new("RGB", (40, 40), GREEN).convert("P").save(root / "palette.gif")
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(root / "cmyk.jpg", quality=95)
    (root / "animated.gif").write_bytes(_animated("GIF"))
    (root / "animated.webp").write_bytes(_animated("WEBP"))
    (root / "exif_rotated.jpg").write_bytes(_exif_rotated_jpeg())
    for ext in ("webp", "bmp", "ppm", "tif"):
        _halves(40, 40).save(root / f"still.{ext}")
    _halves(40, 40, GREEN, BLUE).save(root / "ünïcödé" / "顔 😀.png")
    _halves(40, 40).save(root / "a" / "face.png")
    _halves(40, 40, BLUE, RED).save(root / "b" / "face.png")
    Image.new("RGB", (6000, 6000), (10, 200, 30)).save(root / "big" / "huge.png", compress_level=1)
    (root / "empty.jpg").write_bytes(b"")
    full = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(full, format="JPEG", quality=95)
    (root / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    full = io.BytesIO()
    Image.fromarray(noise).save(full, format="PNG")
    (root / "truncated.png").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    (root / "notes.png").write_text("not an image, just text\n")
    Image.new("RGB", (12, 12), RED).save(root / "tiny.png")
    os.symlink("nowhere.png", root / "broken.png")
    os.symlink("..", root / "a" / "loop")
    (root / "readme.txt").write_text("ignored: not an image suffix\n")
    expected = dict(HOSTILE)
    if os.geteuid() != 0:  # root reads anything: an unreadable file needs a normal user
        _halves(40, 40).save(root / "locked.png")
        os.chmod(root / "locked.png", 0)
        expected["locked.png"] = "Permission denied"
    return expected


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "src"
    make_hostile_folder(root)
    return root


def _load(root: Path, name: str, cfg: IngestConfig = CFG) -> np.ndarray:
    src = Source(path=str(root / name), name=name, key=name_key(name))
    return load_source(src, cfg).image


def test_scan_finds_candidates_sorted_and_reports_links(hostile):
    listing = scan(hostile)
    names = [s.name for s in listing.sources]
    assert listing.layout == "folder"
    assert names == sorted(names, key=lambda n: n.encode())
    assert "readme.txt" not in names and "UPPER.JPG" in names
    assert {"a/face.png", "b/face.png", "ünïcödé/顔 😀.png", "big/huge.png"} <= set(names)
    skips = {s.name: s.reason for s in listing.skipped}
    assert "broken" in skips["broken.png"]
    assert "already scanned" in skips["a/loop/"]
    # every hostile case is either a source or a scan-time skip
    assert set(names) | set(skips) == set(HOSTILE) | ({"locked.png"} & set(names))


def test_exif_orientation_is_applied(hostile):
    gt = _load(hostile, "exif_rotated.jpg")
    assert gt.shape == (32, 32, 3)
    top, bottom = gt[2, 16].astype(int), gt[-3, 16].astype(int)
    assert top[0] > 200 and top[2] < 60  # red on top: rotated like a viewer shows it
    assert bottom[2] > 200 and bottom[0] < 60


def test_modes_become_8bit_rgb(hostile):
    np.testing.assert_array_equal(_load(hostile, "gray.png"), 100)
    rgba = _load(hostile, "rgba.png").astype(int)
    np.testing.assert_array_equal(rgba[16, 2], (255, 255, 255))  # transparent: background
    np.testing.assert_array_equal(rgba[16, -3], RED)
    black = _load(hostile, "rgba.png", IngestConfig(gt_size=32, min_size=16, background=(0, 0, 0)))
    np.testing.assert_array_equal(black[16, 2], (0, 0, 0))
    np.testing.assert_array_equal(_load(hostile, "deep16.png"), round(40000 / 257))
    # 16-bit colour: Pillow keeps the high byte of each sample
    np.testing.assert_array_equal(_load(hostile, "rgb16.png")[0, 0], (40000 >> 8, 0, 255))
    np.testing.assert_array_equal(
        _load(hostile, "palette.gif"), np.broadcast_to(GREEN, (32, 32, 3))
    )
    cmyk = _load(hostile, "cmyk.jpg").astype(int)
    assert np.abs(cmyk - RED).max() < 12
    for name in ("animated.gif", "animated.webp"):  # first frame
        assert np.abs(_load(hostile, name).astype(int) - RED).max() < 12, name


def test_huge_image_is_read_and_downscaled(hostile):
    gt = _load(hostile, "big/huge.png")
    np.testing.assert_array_equal(gt, np.broadcast_to((10, 200, 30), (32, 32, 3)))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.jpg", "empty file"),
        ("truncated.jpg", "truncated"),
        ("notes.png", "not an image"),
        ("tiny.png", "too small"),
    ],
)
def test_bad_files_raise_skip_with_reason(hostile, name, reason):
    with pytest.raises(SkipImage, match=reason):
        _load(hostile, name)


def test_pixel_limit(hostile):
    with pytest.raises(SkipImage, match="too large"):
        _load(hostile, "big/huge.png", IngestConfig(gt_size=32, min_size=16, max_pixels=10**6))


def test_crop_modes_and_border_replication(tmp_path):
    assert crop_region(80, 64, "center", None) == (8, 0, 72, 64)
    # Unsup3D's BFM test crop: the central 170 of 256 pixels
    assert crop_region(256, 256, "center", None, 170 / 256) == (43, 43, 213, 213)
    assert crop_region(80, 64, "none", None) == (0, 0, 80, 64)
    assert crop_region(80, 64, "bbox", (10, 10, 20, 40)) == (0, 10, 40, 50)
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = RED
    a[:, 20:] = BLUE
    Image.fromarray(a).save(tmp_path / "x.png")
    cfg = IngestConfig(gt_size=16, min_size=8, crop="bbox")
    # a box hanging over the left edge: the left column is replicated
    src = Source(str(tmp_path / "x.png"), "x.png", b"x.png", box=(-10, 0, 40, 40))
    gt = load_source(src, cfg).image.astype(int)
    np.testing.assert_array_equal(gt[8, 0], RED)
    np.testing.assert_array_equal(gt[8, -1], BLUE)
    assert gt.shape == (16, 16, 3)
    stretched = load_source(
        Source(str(tmp_path / "x.png"), "x.png", b"x.png"), IngestConfig(gt_size=16, min_size=8)
    )
    assert not stretched.upscaled
    outside = Source(str(tmp_path / "x.png"), "x.png", b"x.png", box=(100, 100, 20, 20))
    with pytest.raises(SkipImage, match="outside"):
        load_source(outside, cfg)


def test_jpeg_draft_keeps_the_geometry(tmp_path):
    _halves(400, 400).save(tmp_path / "big.jpg", quality=95)
    gt = _load(tmp_path, "big.jpg", IngestConfig(gt_size=32, min_size=16)).astype(int)
    assert np.abs(gt[16, :14] - RED).max() < 20 and np.abs(gt[16, 18:] - BLUE).max() < 20


def test_bbox_file_formats_and_matching(tmp_path):
    f = tmp_path / "boxes.txt"
    f.write_text(
        "3\nimage_id x_1 y_1 width height\n"
        "a.jpg 1 2 30 40\n"
        "b.jpg 2 5 6 20 20\n"  # with a split column (CelebA's 0/1/2)
        "sub/c.jpg test 0 0 10 10\n"
    )
    boxes = read_bbox_file(f)
    assert boxes["a.jpg"] == (None, (1.0, 2.0, 30.0, 40.0))
    assert boxes["b.jpg"][0] == "test" and boxes["sub/c.jpg"][0] == "test"
    f.write_text("a.jpg 1 2 30 40\nb.jpg 1 2\n")
    with pytest.raises(ValueError, match="line 2"):
        read_bbox_file(f)
    for name in ("x/a.jpg", "y/a.jpg", "b.jpg", "sub/c.jpg", "d.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (40, 40)).save(tmp_path / name)
    f.write_text("a.jpg 1 2 30 40\nb.jpg 1 5 6 20 20\nsub/c.jpg 0 0 10 10\n")
    listing = scan(tmp_path, bbox_file=f)
    by_name = {s.name: s for s in listing.sources}
    assert set(by_name) == {"b.jpg", "sub/c.jpg"}
    assert by_name["b.jpg"].split == "val" and by_name["sub/c.jpg"].split is None
    skips = {s.name: s.reason for s in listing.skipped}
    assert "several files" in skips["x/a.jpg"] and "no bounding box" in skips["d.jpg"]
    assert attach_boxes(listing, {}, "f").sources == []


def test_synface_layout_carries_depth(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "image").mkdir(parents=True)
        (tmp_path / split / "depth").mkdir()
    Image.new("RGB", (32, 32), RED).save(tmp_path / "train" / "image" / "000_image.png")
    code = np.tile(np.arange(32, dtype=np.uint8)[None] * 8, (32, 1))
    Image.fromarray(np.repeat(code[..., None], 3, 2)).save(
        tmp_path / "train" / "depth" / "000_depth.png"
    )
    Image.new("RGB", (32, 32), RED).save(tmp_path / "test" / "image" / "001_image.png")
    listing = scan(tmp_path)
    assert listing.layout == "synface"
    assert [s.name for s in listing.sources] == ["train/image/000_image.png"]
    assert listing.sources[0].split == "train"
    assert "no depth map" in listing.skipped[0].reason
    loaded = load_source(listing.sources[0], IngestConfig(gt_size=32, min_size=8))
    np.testing.assert_allclose(loaded.depth, np.broadcast_to(decode_depth(code), (32, 32)))
    from l2r_cli.data.synth import decode_depth as synth_decode

    np.testing.assert_allclose(decode_depth(code), synth_decode(code), atol=1e-6)


def test_unreadable_file_reason(hostile, monkeypatch):
    # (the hostile folder has a chmod-000 file only when the tests do not run as root)
    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("l2r_cli.data.ingest.Image.open", denied)
    with pytest.raises(SkipImage, match=r"cannot read \(Permission denied\)"):
        _load(hostile, "plain.png")
