"""`l2r reconstruct`, `l2r render-views`, `l2r export-weights` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data

from l2r_cli.weights import DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """astronaut.png, an already-cropped 112 px face, a noise picture and a text file."""
    d = tmp_path_factory.mktemp("photos")
    astro = data.astronaut()
    Image.fromarray(astro).save(d / "astronaut.png")
    Image.fromarray(astro[10:230, 130:350]).resize((112, 112)).save(d / "cropped112.jpg")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 90, 3), dtype=np.uint8)).save(d / "noise.png")
    (d / "notes.jpg").write_text("not an image\n")
    return d


@pytest.fixture(scope="module")
def astronaut_result(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    r = subprocess.run(
        [sys.executable, "-m", "l2r_cli", "--device", "cpu", "reconstruct",
         str(photos / "astronaut.png"), "--out", str(out), "--mesh", str(out / "a.glb")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def test_reconstruct_one_photo_with_mesh(astronaut_result):
    import open3d as o3d

    face = astronaut_result / "astronaut" / "face0"
    for name in ("mesh.ply", "mesh.obj", "mesh.glb", "depth.npy", "meta.json"):
        assert (face / name).is_file()
    assert len(o3d.io.read_triangle_mesh(str(astronaut_result / "a.glb")).triangles) > 1000
    meta = json.loads((face / "meta.json").read_text())
    assert meta["photo_size"] == [512, 512] and meta["model"]["bundled"]


def test_folder_with_bad_files_goes_on_and_exits_2(l2r, photos, tmp_path):
    res = l2r("--device", "cpu", "reconstruct", photos, "--out", tmp_path, "--format", "ply")
    assert res.code == 2
    assert "Traceback" not in res.err
    errs = [line for line in res.err.splitlines() if line.startswith("error:")]
    assert len(errs) == 2 and any("noise.png: no face found" in e for e in errs)
    assert any("notes.jpg: not an image" in e for e in errs)
    assert (tmp_path / "astronaut" / "face0" / "mesh.ply").is_file()
    # the already-cropped 112 px face is found by the detector too
    assert (tmp_path / "cropped112" / "face0" / "mesh.ply").is_file()
    assert not (tmp_path / "astronaut" / "face0" / "mesh.glb").exists()


def test_no_detect_takes_the_image_as_the_face(l2r, photos, tmp_path):
    res = l2r("--device", "cpu", "reconstruct", photos / "noise.png", "--no-detect",
              "--out", tmp_path, "--format", "obj")  # fmt: skip
    assert res.code == 0, res.err
    meta = json.loads((tmp_path / "noise" / "face0" / "meta.json").read_text())
    assert meta["crop"]["detector"] == "none" and meta["crop"]["box"] == [0.0, 0.0, 89.0, 89.0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.png"], "no such file or folder"),
        (["*.nothing"], "pattern matches no files"),
        (["{a}", "{a}x", "--mesh", "m.ply"], "--mesh names one file"),
        (["{a}", "--mesh", "m.stl"], "unknown mesh format"),
        (["{a}", "--format", "fbx"], "comma list"),
        (["{a}", "--ckpt", "nowhere.pt"], "nowhere.pt"),
        (["{a}", "--detector", "sift"], "unknown detector 'sift'"),
    ],
)
def test_bad_arguments_are_one_line_errors(l2r, photos, tmp_path, args, message):
    a = str(photos / "astronaut.png")
    if "{a}x" in args:
        (tmp_path / "copy.png").write_bytes((photos / "astronaut.png").read_bytes())
    args = [x.replace("{a}x", str(tmp_path / "copy.png")).replace("{a}", a) for x in args]
    res = l2r("--device", "cpu", "reconstruct", *args, "--out", tmp_path / "o")
    assert res.code == 2
    assert message in res.err and "Traceback" not in res.err


def test_detector_choice_reaches_meta(l2r, photos, tmp_path):
    """--detector picks the boxes the 68 landmarks start from; meta.json names it."""
    res = l2r("--device", "cpu", "reconstruct", photos / "astronaut.png", "--detector", "cnn:0",
              "--out", tmp_path, "--format", "ply")  # fmt: skip
    assert res.code == 0, res.err
    meta = json.loads((tmp_path / "astronaut" / "face0" / "meta.json").read_text())
    assert meta["crop"]["detector"] == "cnn-up0+shape_predictor_68"
    assert not (tmp_path / "astronaut" / "face1").exists()


def test_no_maps_writes_meshes_and_meta_only(l2r, photos, tmp_path):
    res = l2r("--device", "cpu", "reconstruct", photos / "cropped112.jpg", "--no-detect",
              "--no-maps", "--format", "ply,obj", "--out", tmp_path)  # fmt: skip
    assert res.code == 0, res.err
    face = tmp_path / "cropped112" / "face0"
    names = sorted(p.name for p in face.iterdir())
    assert "mesh.ply" in names and "mesh.obj" in names and "meta.json" in names
    assert not [n for n in names if n.endswith((".npy", ".npz")) or n.startswith("depth")]
    assert sorted(json.loads((face / "meta.json").read_text())["files"]) == names
    res = l2r("--device", "cpu", "render-views", face)  # needs the maps: a one-line error
    assert res.code == 2 and "--no-maps" in res.err and "Traceback" not in res.err


def test_huge_and_tiny_photos(l2r, tmp_path):
    Image.new("L", (11000, 10000)).save(tmp_path / "huge.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "tiny.png")
    res = l2r("--device", "cpu", "reconstruct", tmp_path / "huge.png", tmp_path / "tiny.png",
              "--out", tmp_path / "o")  # fmt: skip
    assert res.code == 2
    assert "huge.png: too large" in res.err and "tiny.png: no face found" in res.err


def test_render_views_grid_and_turntables(l2r, astronaut_result, tmp_path):
    face = astronaut_result / "astronaut" / "face0"
    res = l2r("render-views", face, "--yaw", "-30:30:3", "--pitch", "0,15", "--light", "predicted",
              "--light", "-0.6,0.3", "--size", "64", "--grid", tmp_path / "g.png",
              "--turntable", tmp_path / "t.gif", "--frames", "4")  # fmt: skip
    assert res.code == 0, res.err
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape[:2] == (4 * 68 + 4, 3 * 68 + 4)  # rows: 2 lights x 2 pitches
    gif = Image.open(tmp_path / "t.gif")
    assert gif.n_frames == 4
    res = l2r("render-views", face, "--size", "48", "--grid", tmp_path / "g2.png",
              "--turntable", tmp_path / "t.mp4", "--frames", "6")  # fmt: skip
    assert res.code == 0, res.err
    assert (tmp_path / "t.mp4").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}"], "not an l2r reconstruct result"),
        (["{bad}"], "unreadable or corrupt"),
        (["{face}", "--yaw", "a:b"], "expected DEG"),
        (["{face}", "--light", "left"], "expected 'predicted' or DX,DY"),
        (["{face}", "--turntable", "x.avi"], "must end in .gif or .mp4"),
    ],
)
def test_render_views_errors(l2r, astronaut_result, tmp_path, args, message):
    face = astronaut_result / "astronaut" / "face0"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "canonical.npz").write_bytes((face / "canonical.npz").read_bytes()[:100])
    args = [
        x.replace("{tmp}", str(tmp_path)).replace("{face}", str(face)).replace("{bad}", str(bad))
        for x in args
    ]
    res = l2r("render-views", *args)
    assert res.code == 2 and message in res.err


def test_export_weights_round_trip(l2r, tmp_path):
    import torch

    from l2r_cli.predictor import load_predictor

    res = l2r("export-weights", DEFAULT_WEIGHTS, tmp_path / "w32.pt", "--float32")
    assert res.code == 0, res.err
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    a = load_predictor(DEFAULT_WEIGHTS, torch.device("cpu")).predict(x)["canon_depth"]
    b = load_predictor(tmp_path / "w32.pt", torch.device("cpu")).predict(x)["canon_depth"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    res = l2r("export-weights", tmp_path / "missing.pt", tmp_path / "x.pt")
    assert res.code == 2 and "missing.pt" in res.err


def test_torchrun_shares_the_photos_out(photos, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "l2r_cli", "--device", "cpu", "reconstruct", str(photos / "astronaut.png"),
         str(photos / "cropped112.jpg"), "--out", str(tmp_path), "--format", "ply"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "astronaut" / "face0" / "mesh.ply").is_file()
    assert (tmp_path / "cropped112" / "face0" / "mesh.ply").is_file()


def test_photo_texture_meshes_and_views(l2r, photos, tmp_path):
    import open3d as o3d

    res = l2r("--device", "cpu", "reconstruct", photos / "astronaut.png", "--texture", "photo",
              "--out", tmp_path, "--format", "obj")  # fmt: skip
    assert res.code == 0, res.err
    face = tmp_path / "astronaut" / "face0"
    meta = json.loads((face / "meta.json").read_text())
    assert meta["texture"] == "photo"
    tex = np.asarray(Image.open(face / "mesh_0.png"))
    photo_tex = np.asarray(Image.open(face / "texture_photo.png"))
    assert tex.shape == photo_tex.shape == (256, 256, 3)
    np.testing.assert_array_equal(tex, photo_tex[::-1])  # open3d stores the rows bottom-up
    assert len(o3d.io.read_triangle_mesh(str(face / "mesh.obj")).triangles) > 1000
    # the OBJ's texture, looked up at each vertex's UV, gives that vertex's colour
    import trimesh

    tm = trimesh.load(face / "mesh.obj", force="mesh", process=False)
    by_uv = tm.visual.to_color().vertex_colors[:, :3].astype(float)
    ply = tmp_path / "m.ply"
    assert l2r("--device", "cpu", "reconstruct", photos / "astronaut.png", "--texture", "photo",
               "--out", tmp_path / "p", "--mesh", ply, "--format", "ply").code == 0  # fmt: skip
    pm = trimesh.load(ply, process=False)
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(pm.vertices).query(tm.vertices)
    assert dist.max() < 1e-5
    vc = pm.visual.vertex_colors[idx, :3].astype(float)
    # PLY vertex colours = the texture at the vertex UVs (trimesh looks up the nearest texel,
    # the vertex colours are bilinear: small differences at edges; a flipped or shifted
    # texture would be off by tens of levels everywhere)
    err = np.abs(vc - by_uv)
    assert err.mean() < 2 and np.percentile(err, 99) < 12
    res = l2r("render-views", face, "--texture", "photo", "--size", "48", "--light", "-0.5,0.2",
              "--grid", tmp_path / "g.png", "--turntable", "none")  # fmt: skip
    assert res.code == 0, res.err


def test_photo_views_need_a_photo_texture(l2r, astronaut_result):
    res = l2r("render-views", astronaut_result / "astronaut" / "face0", "--texture", "photo")
    assert res.code == 2 and "no photo texture" in res.err
