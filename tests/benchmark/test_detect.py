"""Detection benchmark: matching by hand, the low-resolution copy, labels and the CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from l2r_cli.benchmark.detect import (
    LabelledPhoto,
    LowResConfig,
    detect_capped,
    load_labelled,
    lowres_version,
    match,
)
from l2r_cli.detectors import Detection, make_detector, merge_overlapping
from l2r_cli.errors import L2RError

LABELS = np.array([[0, 0, 100, 100], [200, 0, 300, 100]], float)


def test_match_by_hand():
    dets = [
        Detection((10, 10, 90, 90), 0.9),  # centre in label 0, width 0.8x: found
        Detection((220, 20, 520, 80), 0.8),  # centre (370, 50) outside label 1: false
        Detection((150, 0, 350, 100), 0.7),  # centre in label 1 but 2x... = 200/100 = 2: found
        Detection((500, 500, 510, 510), 0.6),  # nowhere: false
    ]
    assert match(dets, LABELS) == (2, 2, [])
    too_wide = [Detection((140, 0, 360, 100), 0.9)]  # 2.2x label 1's width
    assert match(too_wide, LABELS) == (0, 1, [0, 1])
    # two detections on one face: one found, one false; no detection for a non-face photo
    twice = [Detection((0, 0, 100, 100), 0.9), Detection((5, 5, 95, 95), 0.5)]
    assert match(twice, LABELS) == (1, 1, [1])
    assert match([], np.zeros((0, 4))) == (0, 0, [])
    assert match(twice, np.zeros((0, 4))) == (0, 2, [])


def test_merge_overlapping_keeps_the_best_of_nested_boxes():
    a, b, c = (
        Detection((0, 0, 100, 100), 0.6),
        Detection((10, 10, 90, 90), 0.9),
        Detection((200, 0, 260, 60), 0.5),
    )
    assert merge_overlapping([a, b, c]) == [b, c]


def _photos() -> list[LabelledPhoto]:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    return [
        LabelledPhoto("a.png", img, np.array([[50, 50, 150, 150], [200, 40, 280, 120]], float)),
        LabelledPhoto("b.png", img[:200], np.array([[10, 10, 210, 210]], float)),
        LabelledPhoto("empty.png", img, np.zeros((0, 4))),
    ]


def test_lowres_copy_scales_boxes_with_the_photo_and_is_seeded():
    cfg = LowResConfig(face_range=(20, 30), seed=3)
    photos = _photos()
    small = lowres_version(photos, cfg)
    for p, s in zip(photos, small, strict=True):
        fy, fx = s.image.shape[0] / p.image.shape[0], s.image.shape[1] / p.image.shape[1]
        assert fx == pytest.approx(fy, rel=0.05) and fx < 1  # sizes round to pixels
        np.testing.assert_allclose(s.boxes, p.boxes * [fx, fy, fx, fy])
    widths = [np.median(s.boxes[:, 2] - s.boxes[:, 0]) for s in small[:2]]
    assert all(20 - 0.5 <= w <= 30 + 0.5 for w in widths)
    # the non-face photo takes the median scale of the face photos
    f_empty = small[2].image.shape[1] / 400
    scales = sorted(
        s.image.shape[1] / p.image.shape[1] for p, s in zip(photos[:2], small[:2], strict=True)
    )
    assert f_empty == pytest.approx(np.median(scales), rel=0.01)
    again = lowres_version(photos, cfg)
    assert all((x.image == y.image).all() for x, y in zip(small, again, strict=True))
    other = lowres_version(photos, LowResConfig(face_range=(20, 30), seed=4))
    assert any(x.image.shape != y.image.shape or (x.image != y.image).any()
               for x, y in zip(small, other, strict=True))  # fmt: skip
    # a photo whose faces are already small is not enlarged
    tiny = LabelledPhoto("t.png", photos[0].image[:40, :40], np.array([[5, 5, 15, 15]], float))
    assert lowres_version([tiny], cfg)[0].image.shape == (40, 40, 3)


def test_detect_capped_maps_boxes_back_to_the_photo():
    seen = []

    def det(img):
        seen.append(img.shape)
        h, w = img.shape[:2]
        return [Detection((w / 4, h / 4, w / 2, h / 2), 1.0)]

    img = np.zeros((1000, 2000, 3), np.uint8)
    (d,) = detect_capped(det, img, 500)
    assert seen[-1] == (250, 500, 3)
    assert d.box == pytest.approx((500, 250, 1000, 500))
    (d,) = detect_capped(det, img, 0)
    assert seen[-1] == (1000, 2000, 3) and d.box == pytest.approx((500, 250, 1000, 500))


def _write_set(root: Path, labels: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in labels:
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(root / name)
    (root / "labels.json").write_text(json.dumps({"photos": labels}))
    return root


def test_load_labelled_one_line_errors(tmp_path):
    with pytest.raises(L2RError, match="no labels.json"):
        load_labelled(tmp_path)
    root = _write_set(tmp_path / "s", {"a.png": [[0, 0, 10, 10]]})
    assert load_labelled(root)[0].boxes.shape == (1, 4)
    (root / "labels.json").write_text(json.dumps({"photos": {"b.png": []}}))
    with pytest.raises(L2RError, match="'b.png' is not in"):
        load_labelled(root)
    (root / "labels.json").write_text(json.dumps({"photos": {"a.png": [[10, 0, 5, 10]]}}))
    with pytest.raises(L2RError, match="x1 <= x0"):
        load_labelled(root)
    (root / "labels.json").write_text("[1, 2]")
    with pytest.raises(L2RError, match="not a labels file"):
        load_labelled(root)


def test_make_detector_specs():
    assert make_detector("hog").name == "hog-up1" and make_detector("hog:2").name == "hog-up2"
    assert make_detector("hog:0+cnn:2").name == "hog-up0+cnn-up2"
    assert make_detector("mtcnn").name == "mtcnn-12"
    assert make_detector("mtcnn:20").name == "mtcnn-20"
    for bad in ("sift", "hog:x", "hog:9", "mediapipe:2", "hog+", "+cnn", "mtcnn:3", "mtcnn:x"):
        with pytest.raises(L2RError):
            make_detector(bad)


def test_cli_detect_runs_and_rejects_bad_input(l2r, tmp_path):
    root = _write_set(tmp_path / "set", {"noise.png": [], "b.png": [[10, 10, 60, 60]]})
    out = tmp_path / "det.json"
    r = l2r("benchmark", "detect", "--data", root, "--detector", "hog:0", "--json", out,
            "--save-lowres", tmp_path / "low")  # fmt: skip
    assert r.code == 0, r.err
    rows = json.loads(out.read_text())["results"]
    assert [(x["version"], x["faces"], x["photos"]) for x in rows] == [
        ("full", 1, 2),
        ("16-40 px", 1, 2),
    ]
    assert all(0 <= x["found"] <= 1 and x["seconds_per_photo"] >= 0 for x in rows)
    assert len(load_labelled(tmp_path / "low")) == 2
    for args, msg in (
        (["--detector", "sift"], "unknown detector"),
        (["--face-px", "40"], "--face-px takes MIN,MAX"),
        (["--face-px", "30,20"], "MIN <= MAX"),
    ):
        r = l2r("benchmark", "detect", "--data", root, *args)
        assert r.code == 2 and msg in r.err and "Traceback" not in r.err
    r = l2r("benchmark", "detect", "--data", tmp_path)
    assert r.code == 2 and "no labels.json" in r.err


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe installed")
def test_mediapipe_missing_is_a_one_line_error(l2r, tmp_path):
    root = _write_set(tmp_path / "set", {"noise.png": []})
    r = l2r("benchmark", "detect", "--data", root, "--detector", "mediapipe")
    assert r.code == 2 and "needs mediapipe" in r.err and "Traceback" not in r.err
