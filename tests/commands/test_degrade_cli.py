"""`l2r degrade` through the real entry point, and training/evaluating on its degraded inputs
(paper sec. 5 compares the proxy on original and degraded images)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from l2r_cli.data.dataset import L2RDataset, open_dataset
from tests.data.test_degrade_run import make_photo_folder
from tests.data.test_ingest import make_hostile_folder

TINY = ["--nf", "8", "--zdim", "16", "--size", "32", "--workers", "0"]


def _one_line_error(r, *needles):
    assert r.code == 2, (r.code, r.out, r.err)
    lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
    text = " ".join(lines)
    assert "Traceback" not in r.err and text.startswith("error:"), r.err
    for n in needles:
        assert n in text, (n, text)


def test_help_has_an_example(l2r):
    r = l2r("degrade", "--help")
    assert r.code == 0 and "Example:" in r.out and "--crop" in r.out and "--variants" in r.out


def test_hostile_folder_through_the_cli(l2r, tmp_path):
    expected = make_hostile_folder(tmp_path / "src")
    out = tmp_path / "out"
    r = l2r("degrade", tmp_path / "src", out, "--gt-size", "32", "--lq-size", "16",
            "--variants", "2", "--workers", "2")  # fmt: skip
    assert r.code == 0, r.err
    n_ok = sum(v is None for v in expected.values())
    n_bad = len(expected) - n_ok
    text = " ".join(r.err.split())
    assert f"wrote {n_ok} images" in text and f"skipped {n_bad}" in text
    assert "peak memory" in text
    # the same command again: nothing to do
    r = l2r("degrade", tmp_path / "src", out, "--gt-size", "32", "--lq-size", "16",
            "--variants", "2", "--workers", "1")  # fmt: skip
    assert r.code == 0 and "already complete" in " ".join(r.err.split())
    r = l2r("degrade", tmp_path / "src", out, "--gt-size", "32", "--lq-size", "16")
    _one_line_error(r, "different arguments", "--overwrite")
    assert l2r("info", out).code == 0


def test_user_errors_are_one_line(l2r, tmp_path):
    (tmp_path / "empty").mkdir()
    _one_line_error(l2r("degrade", tmp_path / "empty", tmp_path / "o"), "no image files")
    _one_line_error(l2r("degrade", tmp_path / "missing", tmp_path / "o"), "SRC not found")
    photos = make_photo_folder(tmp_path / "p", n=4)
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--split", "1,2"), "--split")
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--crop", "bbox"), "box list")
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--crop", "oval"), "--crop")
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--gt-size", "100"), "multiple")
    _one_line_error(
        l2r("degrade", photos, tmp_path / "o", "--crop", "bbox", tmp_path / "nope.txt"),
        "box list not found",
    )
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--background", "1,2"), "--background")
    _one_line_error(l2r("degrade", photos, tmp_path / "o", "--crop-scale", "1.5"), "(0, 1]")
    _one_line_error(
        l2r("degrade", photos, tmp_path / "o", "--crop", "none", "--crop-scale", "0.5"),
        "only used with --crop center",
    )


def test_crop_scale_takes_the_central_part(l2r, tmp_path):
    # a 64 px picture whose central 32 px are green, the rest red: at --crop-scale 0.5 the
    # ground truth is all green
    a = np.zeros((64, 64, 3), np.uint8)
    a[...] = (255, 0, 0)
    a[16:48, 16:48] = (0, 255, 0)
    (tmp_path / "src").mkdir()
    Image.fromarray(a).save(tmp_path / "src" / "x.png")
    r = l2r("degrade", tmp_path / "src", tmp_path / "o", "--gt-size", "16", "--lq-size", "8",
            "--variants", "1", "--split", "1,0,0", "--workers", "0",
            "--crop-scale", "0.5")  # fmt: skip
    assert r.code == 0, r.err
    gt = L2RDataset(tmp_path / "o", "train", fields=("image",), image_size=16)[0]["image"]
    assert gt[1].min() > 0.8 and gt[0].max() < 0.15  # (without the scale: a red border)


@pytest.mark.parametrize("form", ["two words", "colon"])
def test_crop_bbox_file(l2r, tmp_path, form):
    src = tmp_path / "celeba"
    src.mkdir()
    for i in range(3):
        a = np.zeros((60, 50, 3), np.uint8)
        a[20:40, 10:30] = (255, 0, 0)  # the "face"
        Image.fromarray(a).save(src / f"{i:06d}.jpg", quality=95)
    boxes = tmp_path / "list_bbox.txt"
    boxes.write_text(
        "3\nimage_id x_1 y_1 width height\n"
        + "".join(f"{i:06d}.jpg 10 20 20 20\n" for i in range(3))
    )
    crop = ["--crop", "bbox", boxes] if form == "two words" else ["--crop", f"bbox:{boxes}"]
    out = tmp_path / "out"
    r = l2r("degrade", src, out, *crop, "--gt-size", "16", "--lq-size", "8", "--split", "1,0,0")
    assert r.code == 0, r.err
    with h5py.File(out / "train.h5") as f:
        img = f["image"][()].astype(int)
    assert img.shape == (3, 16, 16, 3)
    assert (img[:, 2:-2, 2:-2, 0] > 200).all() and (img[:, 2:-2, 2:-2, 1:] < 60).all()


def make_synface(root: Path, counts: dict[str, int], size: int = 64) -> dict[str, np.ndarray]:
    """Unsup3D's synface layout of bumps on a far background (not faces; for plumbing):
    SPLIT/image/NNNNNN_image.png and SPLIT/depth/NNNNNN_depth.png (255 = depth 0.9, 0 = 1.1).
    Returns {relative image path: the 8-bit depth code}."""
    rng = np.random.default_rng(0)
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    r2 = xs**2 + ys**2
    codes = {}
    i = 0
    for split, n in counts.items():
        (root / split / "image").mkdir(parents=True)
        (root / split / "depth").mkdir()
        for _ in range(n):
            depth = np.where(r2 < 0.6, 1.05 - rng.uniform(0.03, 0.08) * np.exp(-r2 * 3), 1.1)
            code = np.clip(np.round(255 * (1.1 - depth) / 0.2), 0, 255).astype(np.uint8)
            shade = np.clip(1.2 - (depth - 0.95) * 6, 0, 1)
            img = (shade[..., None] * rng.uniform(0.4, 1.0, 3) * 255).astype(np.uint8)
            Image.fromarray(img).save(root / split / "image" / f"{i:06d}_image.png")
            Image.fromarray(np.repeat(code[..., None], 3, 2)).save(
                root / split / "depth" / f"{i:06d}_depth.png"
            )
            codes[f"{split}/image/{i:06d}_image.png"] = code
            i += 1
    return codes


def test_proxy_trains_and_is_evaluated_on_degraded_inputs(l2r, tmp_path):
    codes = make_synface(tmp_path / "synface", {"train": 8, "val": 2, "test": 4})
    deg = tmp_path / "deg"
    r = l2r("degrade", tmp_path / "synface", deg, "--gt-size", "64", "--lq-size", "16",
            "--variants", "3", "--workers", "0")  # fmt: skip
    assert r.code == 0, r.err
    info = open_dataset(deg)
    assert info.manifest["source"]["args"]["layout"] == "synface"
    assert {s: i.n for s, i in info.splits.items()} == {"train": 8, "val": 2, "test": 4}
    for split in info.splits.values():
        assert split.fields["image"].shape == (64, 64, 3)  # GT at --gt-size
        assert split.fields["lq"].shape == (3, 16, 16, 3)  # K variants at --lq-size
        assert split.fields["depth"].shape == (64, 64)  # carried from the depth maps
    test = L2RDataset(deg, "test", fields=("depth", "name"))
    for i in range(len(test)):
        want = 0.9 + 0.2 * (1 - codes[test[i]["name"]] / 255)
        np.testing.assert_allclose(test[i]["depth"].numpy(), want, atol=1e-6)

    run = tmp_path / "run"
    r = l2r("train-proxy", "--data", deg, "--out", run, *TINY, "--batch-size", "4",
            "--max-steps", "2", "--input", "lq")  # fmt: skip
    assert r.code == 0, r.err
    for input_field in ("image", "lq"):
        js = tmp_path / f"bfm_{input_field}.json"
        r = l2r("benchmark", "bfm", "--data", deg, "--ckpt", run, "--baseline",
                "--input", input_field, "--json", js)  # fmt: skip
        assert r.code == 0, r.err
        res = json.loads(js.read_text())
        assert res["input"] == input_field and [x["n"] for x in res["results"]] == [4, 4]


def test_benchmark_speed_degrade_case(l2r, tmp_path):
    js = tmp_path / "speed.json"
    r = l2r("benchmark", "speed", "--case", "degrade", "--images", "6", "--photo-size", "64",
            "--degrade-workers", "0,2", "--json", js)  # fmt: skip
    assert r.code == 0, r.err
    res = json.loads(js.read_text())["degrade"]
    assert res["outputs_identical"] is True
    names = [t["name"] for t in res["timings"]]
    assert names == ["plain", "plain, shared FFT", "degrade --workers 0", "degrade --workers 2"]
    assert all(t["img_per_s"] > 0 and t["rss_peak_mb"] > 0 for t in res["timings"])
    assert res["timings"][3]["worker_rss_peak_mb"] > 0
