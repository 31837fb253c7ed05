"""`benchmark speed --case reconstruct`: the split adds up, counts faces and photos, and reaches
the JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from l2r_cli.benchmark.reconstruct_speed import run_reconstruct_speed
from l2r_cli.errors import L2RError

STEPS = ("read", "crop", "predict", "write")


def test_split_adds_up_to_the_total():
    ms = run_reconstruct_speed(faces=3, batch_size=2, repeats=1)
    assert ms["unit"] == "face" and ms["units"] == ms["faces"] == 3
    assert ms["total"] == pytest.approx(sum(ms[k] for k in STEPS))
    assert all(ms[k] > 0 for k in (*STEPS, "forward"))
    assert ms["forward_share"] == pytest.approx(ms["forward"] / ms["total"])


def test_photos_are_timed_per_photo_and_faces_counted(tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(tmp_path / "n.png")
    photos = sorted(tmp_path.glob("*.png"))
    ms = run_reconstruct_speed(batch_size=4, repeats=1, photos=photos, maps=False)
    assert ms["unit"] == "photo" and ms["units"] == 2 and ms["faces"] == 1
    # per face, the whole pipeline of the two photos against the forward pass
    assert ms["forward_share"] == pytest.approx(ms["forward"] / (ms["total"] * 2))
    with pytest.raises(L2RError, match="no face found"):
        run_reconstruct_speed(repeats=1, photos=[tmp_path / "n.png"])


def test_cli_case_writes_json(l2r, tmp_path):
    out = tmp_path / "speed.json"
    r = l2r("--device", "cpu", "benchmark", "speed", "--case", "reconstruct", "--faces", "2",
            "-b", "2", "--repeats", "1", "--mesh-format", "obj", "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    rec = json.loads(out.read_text())["reconstruct"]
    assert rec["faces"] == 2 and rec["mesh_format"] == "obj" and rec["total"] > rec["forward"] > 0
    r = l2r("--device", "cpu", "benchmark", "speed", "--case", "reconstruct", "--photos", tmp_path)
    assert r.code == 2 and "no images" in r.err and "Traceback" not in r.err
