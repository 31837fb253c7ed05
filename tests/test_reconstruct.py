"""Reconstructor on the bundled sample photo (scikit-image's astronaut) with the bundled weights."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image
from skimage import data

from l2r_cli import Reconstructor
from l2r_cli.errors import L2RError
from l2r_cli.reconstruct import read_photo
from l2r_cli.weights import DEFAULT_L2R_WEIGHTS, DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def rec():
    return Reconstructor(device="cpu")


@pytest.fixture(scope="module")
def astronaut(rec):
    faces = rec.reconstruct(data.astronaut())
    assert len(faces) == 1
    return faces[0]


def test_bundled_weights_fit_the_budget_and_auto_picks_the_path_by_face_size(rec, astronaut):
    assert DEFAULT_WEIGHTS.stat().st_size <= 15_000_000
    assert DEFAULT_WEIGHTS.stat().st_size + DEFAULT_L2R_WEIGHTS.stat().st_size <= 40_000_000
    m = astronaut.model
    assert m["bundled"] and m["kind"] == "proxy" and m["ran"] == "proxy"
    assert m["why"].startswith("--model auto: face crop spans") and m["face_px"] > 64
    # the same face shrunk to 24 px (its crop frame): the L2R path, on the bundled proxy
    x0, y0, x1, y1 = (int(round(v)) for v in astronaut.crop.box)
    tiny = np.asarray(
        Image.fromarray(data.astronaut()[y0:y1, x0:x1]).resize((24, 24), Image.LANCZOS)
    )
    (small,) = Reconstructor(device="cpu", detect=False).reconstruct(tiny)
    assert small.model["ran"] == "l2r" and small.model["bundled"] and small.model["face_px"] == 24
    assert small.model["kind"] in ("grn", "mutual")
    assert small.depth.shape == (64, 64) and np.isfinite(small.canon_points).all()
    (alone,) = Reconstructor(device="cpu", detect=False, model="proxy").reconstruct(tiny)
    assert alone.model["ran"] == "proxy" and alone.model["why"] == "--model proxy"
    assert not np.allclose(small.depth, alone.depth)


def test_astronaut_turned_turns_the_predicted_yaw(rec):
    """The astronaut's photo on her reconstructed surface, rendered turned by -30 and +30
    degrees (l2r's renderer, positive yaw = face to the image left): the model's predicted
    yaw follows the turn, as does the reference yaw fitted to dlib's landmarks on the renders
    (l2r_cli.benchmark.photos). A face template (one pose for every input) fails this; the
    nose-in-front check it replaces passes on a grey square cropped like a face."""
    from l2r_cli.benchmark.photos import fit_reference_pose
    from l2r_cli.render.views import ViewRenderer

    (face,) = Reconstructor(device="cpu", texture="photo").reconstruct(data.astronaut())
    views = ViewRenderer(face.canonical(), size=256, texture="photo")
    pred, ref = {}, {}
    for yaw in (-30, 30):
        (turned,) = rec.reconstruct(views.render(yaw))
        pred[yaw] = np.degrees(turned.view[1])
        lm = turned.crop.to_crop(turned.crop.landmarks)
        ref[yaw] = np.degrees(fit_reference_pose(lm, rec.image_size, turned.fov).view[1])
    assert pred[-30] < -10 and pred[30] > 10 and pred[30] - pred[-30] > 30, pred
    assert ref[-30] < -10 and ref[30] > 10, ref


def test_maps_have_the_crop_size_and_sane_ranges(astronaut):
    s = astronaut.crop.image.shape[0]
    assert astronaut.depth.shape == (s, s) and astronaut.normal.shape == (s, s, 3)
    lo, hi = astronaut.depth_range
    face = astronaut.mask > 0.5
    assert face.mean() > 0.5
    assert (astronaut.depth[face] >= lo - 1e-3).all() and (astronaut.depth[face] <= hi + 1e-3).all()
    np.testing.assert_allclose(np.linalg.norm(astronaut.normal, axis=-1), 1, atol=1e-4)
    assert 0 <= astronaut.albedo.min() and astronaut.albedo.max() <= 1


def test_save_writes_every_file_and_meta(tmp_path, astronaut):
    import open3d as o3d

    files = astronaut.save(tmp_path / "face0", photo_size=(512, 512))
    names = {f.name for f in files}
    want = "mesh.ply mesh.obj mesh.mtl mesh_0.png mesh.glb albedo.png depth.png depth.npy"
    want += " normal.png shading.png canonical.npz meta.json"
    assert set(want.split()) <= names
    for m in ("mesh.ply", "mesh.obj", "mesh.glb"):
        back = o3d.io.read_triangle_mesh(str(tmp_path / "face0" / m))
        assert len(back.triangles) > 1000
    # normal.png shows outward normals: blue (towards the viewer) dominates the face's middle,
    # red (rightward) is higher on the face's right side (picture right) than on its left
    rgb = iio.imread(tmp_path / "face0" / "normal.png").astype(float)
    s = rgb.shape[0]
    mid = rgb[s // 2 - 4 : s // 2 + 4, s // 2 - 4 : s // 2 + 4].reshape(-1, 3).mean(0)
    assert mid[2] > 160 and mid[2] > mid[0] and mid[2] > mid[1]
    assert rgb[s // 2, 3 * s // 4, 0] > rgb[s // 2, s // 4, 0] + 40
    meta = json.loads((tmp_path / "face0" / "meta.json").read_text())
    assert meta["model"]["bundled"] and len(meta["model"]["sha256"]) == 64
    x0, y0, x1, y1 = meta["crop"]["box"]
    assert 0 < x0 < x1 < 512 and y0 < y1
    np.testing.assert_array_equal(np.load(tmp_path / "face0" / "depth.npy"), astronaut.depth)


def test_no_detect_and_no_face(rec, tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
    with pytest.raises(L2RError, match="no face found"):
        rec.reconstruct(noise)
    plain = Reconstructor(device="cpu", detect=False)
    (res,) = plain.reconstruct(noise)
    assert res.crop.landmarks is None and res.is_face_shaped() is None


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"not an image", "not an image"), (None, "truncated")],
)
def test_read_photo_failures_are_one_line(tmp_path, content, message):
    p = tmp_path / "x.png"
    if content is None:
        Image.fromarray(data.astronaut()).save(p)
        p.write_bytes(p.read_bytes()[:5000])
    else:
        p.write_bytes(content)
    with pytest.raises(L2RError, match=message):
        read_photo(p)


def test_without_maps_the_same_geometry_and_meshes_only(tmp_path, astronaut):
    """maps=False skips the view re-render only: depth, canonical surface and mesh agree with
    the full path; saving maps from such a result is a one-line error."""
    (lean,) = Reconstructor(device="cpu", maps=False).reconstruct(data.astronaut())
    assert lean.albedo is None and lean.shading is None
    np.testing.assert_array_equal(lean.depth, astronaut.depth)
    np.testing.assert_array_equal(lean.canon_points, astronaut.canon_points)
    files = lean.save(tmp_path / "lean", formats=("ply",), maps=False)
    assert sorted(p.name for p in files) == ["mesh.ply", "meta.json"]
    full = astronaut.save(tmp_path / "full", formats=("ply",), maps=False)
    assert (full[0].read_bytes() == files[0].read_bytes()) and full[0].name == "mesh.ply"
    with pytest.raises(L2RError, match="without maps"):
        lean.save(tmp_path / "bad")
