"""3DFAW loader (DepthNet's layout) and `l2r benchmark 3dfaw` on a small made-up set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from l2r_cli.benchmark.threedfaw import evaluate_3dfaw, load_3dfaw
from l2r_cli.errors import L2RError
from l2r_cli.faces import FaceDetector
from l2r_cli.weights import DEFAULT_WEIGHTS

#: 68-point indices of the 66-point scheme (no inner mouth corners 60 and 64).
KEEP = [i for i in range(68) if i not in (60, 64)]


@pytest.fixture(scope="module")
def faw(tmp_path_factory):
    """Six shifted copies of the astronaut with her dlib keypoints; z: a made-up depth."""
    root = tmp_path_factory.mktemp("3dfaw")
    (root / "valid_img").mkdir()
    (root / "valid_lm").mkdir()
    photo = data.astronaut()
    lm = FaceDetector().detect(photo)[0][0][KEEP]
    rng = np.random.default_rng(0)
    lines = []
    for k in range(6):
        dx, dy = 8 * k, 4 * k
        img = np.roll(photo, (dy, dx), axis=(0, 1))
        Image.fromarray(img).save(root / "valid_img" / f"f{k}.jpg")
        z = rng.normal(size=66)
        rows = [f"{x + dx:.2f},{y + dy:.2f},{zz:.4f}" for (x, y), zz in zip(lm, z, strict=True)]
        (root / "valid_lm" / f"f{k}_lm.csv").write_text("\n".join(rows) + "\n")
        lines.append(f"f{k},{'test' if k < 5 else 'valid'},frontal")
    (root / "list_valid_test.txt").write_text("\n".join(lines) + "\n")
    return root


def test_loader_reads_the_split(faw):
    test = load_3dfaw(faw, "test")
    assert [s.id for s in test] == ["f0", "f1", "f2", "f3", "f4"]
    assert test[0].keypoints.shape == (66, 3) and test[0].orientation == "frontal"
    with pytest.raises(L2RError, match="need at least 2"):
        load_3dfaw(faw, "valid")


def test_loader_errors_are_one_line(tmp_path, faw):
    with pytest.raises(L2RError, match="list_valid_test.txt"):
        load_3dfaw(tmp_path)
    bad = tmp_path / "bad"
    (bad / "valid_img").mkdir(parents=True)
    (bad / "valid_lm").mkdir()
    (bad / "list_valid_test.txt").write_text("a,test\nb,test\n")
    with pytest.raises(L2RError, match="is missing"):
        load_3dfaw(bad)
    for n in "ab":
        Image.new("RGB", (8, 8)).save(bad / "valid_img" / f"{n}.jpg")
        (bad / "valid_lm" / f"{n}_lm.csv").write_text("1,x,3\n")
    with pytest.raises(L2RError, match="x,y,z"):
        load_3dfaw(bad)


def test_evaluate_and_cli(l2r, faw, tmp_path):
    res = evaluate_3dfaw(None, faw)
    assert res.pred.shape == (5, 66) and res.gt.shape == (5, 66)
    assert ((res.r >= 0) & (res.r <= 1)).all()
    # the same image content shifted: predicted keypoint depths nearly equal across faces,
    # the made-up z random: no systematic correlation, so the sum is far below 66
    assert res.summary()["depth_corr"] < 60
    out = tmp_path / "faw.json"
    r = l2r("benchmark", "3dfaw", "--data", faw, "--json", out)
    assert r.code == 0, r.err
    assert json.loads(out.read_text())["results"][0]["n"] == 5
    # --compare: numbered rows and the change against row (1), here the same model twice
    w = str(DEFAULT_WEIGHTS)
    r = l2r("benchmark", "3dfaw", "--data", faw, w, w, "--compare", "--report", tmp_path / "rep")
    assert r.code == 0, r.err
    assert "(2)" in r.out and "+0.00" in r.out
    report = (tmp_path / "rep" / "report.md").read_text()
    assert f"| (1) | {w} | 5 | {res.summary()['depth_corr']:.2f} |" in report
    r = l2r("benchmark", "3dfaw", "--data", tmp_path)
    assert r.code == 2 and "list_valid_test.txt" in r.err
