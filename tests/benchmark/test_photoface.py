"""Photoface benchmark: photometric stereo, light files, the normal frame, the crop warp, the
loader's errors, and the evaluation on a small made-up set in the release's layout."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from l2r_cli.benchmark.photoface import (
    PhotofaceResult,
    evaluate_photoface,
    find_sessions,
    lights_from_angles,
    load_session,
    photometric_stereo,
    prepare_photoface,
    read_lights,
    to_model_frame,
    warp_normals,
)
from l2r_cli.errors import L2RError

ZENITH, AZIMUTHS = 35.0, (45.0, 135.0, 225.0, 315.0)
LIGHTS = lights_from_angles(np.full(4, ZENITH), np.array(AZIMUTHS))


def angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between unit vectors (..., 3)."""
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1, 1)))


def hemisphere(size: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Outward normals (H, W, 3) in frame P (y up) of a hemisphere facing the camera, and the
    radial coordinate (H, W) (1 at the rim)."""
    c = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    x, y = (cols - c) / radius, -(rows - c) / radius
    r2 = x**2 + y**2
    n = np.stack([x, y, np.sqrt(np.clip(1 - r2, 0, None))], -1)
    n[r2 >= 1] = (0.0, 0.0, 1.0)
    return n, np.sqrt(r2)


def render(normal: np.ndarray, albedo: np.ndarray, lights: np.ndarray) -> np.ndarray:
    """Lambertian images (K, H, W) of ``albedo`` (H, W[, 3]) -> (K, H, W[, 3])."""
    shade = np.clip(np.einsum("hwc,kc->khw", normal, lights), 0, None)
    return shade[..., None] * albedo if albedo.ndim == 3 else shade * albedo


def test_photometric_stereo_recovers_a_hemisphere():
    n, r = hemisphere(96, 40.0)
    rows, cols = np.mgrid[0:96, 0:96]
    albedo = 0.4 + 0.5 * (0.5 + 0.5 * np.sin(rows / 7.0) * np.cos(cols / 5.0))
    images = render(n, albedo, LIGHTS)
    ps = photometric_stereo(images, LIGHTS)
    assert ps.valid[r < 0.8].all() and ps.valid[r < 0.95].mean() > 0.9
    v = ps.valid & (r < 0.95)
    assert angle(ps.normal[v], n[v]).max() < 0.5
    np.testing.assert_allclose(ps.albedo[v], albedo[v], atol=1e-9)
    # pixels shadowed from exactly one light are solved from the other three
    one_dark = (images <= 0.02).sum(0) == 1
    assert (one_dark & v).sum() > 50
    # with a light from behind the others it is a hole: shadowed in two images
    assert not ps.valid[(images <= 0.02).sum(0) >= 2].any()


def test_photometric_stereo_rejects_coplanar_lights():
    flat = lights_from_angles(np.full(4, 90.0), np.array(AZIMUTHS))  # all in the x-y plane
    with pytest.raises(L2RError, match="coplanar"):
        photometric_stereo(np.ones((4, 8, 8)) * 0.5, flat)


def test_read_lights_angles_vectors_and_errors(tmp_path):
    f = tmp_path / "LightSource.m"
    f.write_text(
        "% made-up: zenith, azimuth (degrees)\n"
        "LightSource = [35, 45; 35 135 ...\n ; 35 225\n 35 315]; % trailing comment [1 2]\n"
    )
    np.testing.assert_allclose(read_lights(f), LIGHTS, atol=1e-12)
    f.write_text("L = [35 35 35 35; 45 135 225 315];")  # 2 x 4
    np.testing.assert_allclose(read_lights(f), LIGHTS, atol=1e-12)
    f.write_text("L = [1 0 1; 0 2 2; -3 0 3; 0 -1 1]")  # vectors, normalised
    d = read_lights(f)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    np.testing.assert_allclose(d[1], [0, 1 / math.sqrt(2), 1 / math.sqrt(2)])
    # hand value of the angle convention: zenith 90, azimuth 90 is straight up (+y in P)
    np.testing.assert_allclose(lights_from_angles([90.0], [90.0])[0], [0, 1, 0], atol=1e-12)
    for text, msg in [
        ("no matrix here", "no \\[...\\] matrix"),
        ("L = [1 2; 3 x];", "other than numbers"),
        ("L = [1 2; 3 4 5];", "different lengths"),
        ("L = [30 0; 30 90; 30 180];", "got a 3 x 2 matrix"),
        ("L = [0 0 0; 0 1 1; 1 0 1; 1 1 1];", "is zero"),
    ]:
        f.write_text(text)
        with pytest.raises(L2RError, match=msg) as e:
            read_lights(f)
        assert "\n" not in str(e.value)


def test_model_frame_matches_normals_from_depth():
    """A sphere rendered by l2r's camera: its normals_from_depth equal the outward normals in
    frame P converted by to_model_frame."""
    from l2r_cli.render import normals_from_depth
    from l2r_cli.render.camera import intrinsics

    s, centre, rho = 64, np.array([0.01, -0.008, 1.0]), 0.07
    K = intrinsics(s, dtype=torch.float64)
    rows, cols = np.mgrid[0:s, 0:s].astype(float)
    rays = np.stack([cols, rows, np.ones_like(cols)], -1) @ np.linalg.inv(K.numpy()).T
    rc, rr = rays @ centre, (rays**2).sum(-1)
    disc = rc**2 - rr * (centre @ centre - rho**2)
    hit = disc > 0
    t = np.where(hit, (rc - np.sqrt(np.clip(disc, 0, None))) / rr, 1.1)
    pred = normals_from_depth(torch.from_numpy(t)[None], K)[0].numpy()
    outward_cam = (t[..., None] * rays - centre) / rho  # camera frame: x right, y down, z in
    n_p = outward_cam * np.array([1.0, -1.0, -1.0])  # frame P: x right, y up, z to the camera
    inner = hit & (np.linalg.norm(outward_cam[..., :2], axis=-1) < 0.8)
    assert inner.sum() > 500
    assert np.median(angle(to_model_frame(n_p)[inner], pred[inner])) < 1.0
    # the frame is not P itself: without the conversion the cheeks point the wrong way
    assert np.median(angle(n_p[inner], pred[inner])) > 10.0


def test_warp_normals_turns_vectors_with_the_crop():
    """A sphere's normal field seen through a crop rotated by 30 deg is the sphere's field in
    crop coordinates: x, y are turned with the crop."""
    h, w, p0, r = 200, 240, np.array([120.0, 95.0]), 70.0
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    xy = (np.stack([cols, rows], -1) - p0) / r
    inside = (xy**2).sum(-1) < 1
    normal = np.concatenate([xy, np.sqrt(np.clip(1 - (xy**2).sum(-1), 0, None))[..., None]], -1)
    theta, scale, s = math.radians(30), 2.5, 64
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    q0 = np.array([31.0, 33.0])  # crop pixel of the sphere's centre
    matrix = np.concatenate([scale * rot, (p0 - scale * rot @ q0)[:, None]], 1)
    out, ok = warp_normals(normal, inside, matrix, s)
    qr, qc = np.mgrid[0:s, 0:s].astype(float)
    exy = (np.stack([qc, qr], -1) - q0) / (r / scale)
    expect = np.concatenate([exy, np.sqrt(np.clip(1 - (exy**2).sum(-1), 0, None))[..., None]], -1)
    core = ok & ((exy**2).sum(-1) < 0.8)
    assert core.sum() > 1000 and not ok[(exy**2).sum(-1) > 1.05].any()
    assert angle(out[core], expect[core]).max() < 1.0
    # the rotation matters: the unrotated vectors are off by up to the crop's 30 deg
    unrot = np.concatenate([out[..., :2] @ rot.T, out[..., 2:]], -1)
    assert angle(unrot[core], expect[core]).max() > 10.0
    with pytest.raises(ValueError, match="similarity"):
        warp_normals(normal, inside, matrix * np.array([[-1, 1, 1], [1, 1, 1]]), s)


def test_summary_is_in_percent():
    res = PhotofaceResult(
        "m",
        ("a", "b"),
        np.array([10.0, 20.0]),
        {"20": np.array([0.5, 1.0]), "25": np.array([0.75, 1.0]), "30": np.array([1.0, 1.0])},
        np.array([100, 80]),
        (("c", "no face found"),),
    )
    assert res.summary() == {
        "name": "m",
        "n": 2,
        "n_skipped": 1,
        "mad_mean": 15.0,
        "mad_std": 5.0,
        "pct_under_20": 75.0,
        "pct_under_25": 87.5,
        "pct_under_30": 100.0,
    }


def write_session(folder, images: np.ndarray, light_text: str) -> None:
    folder.mkdir(parents=True)
    for k, im in enumerate(images):
        Image.fromarray(im).save(folder / f"im{k}.bmp")
    (folder / "LightSource.m").write_text(light_text)


def test_loader_finds_sessions_and_errors_are_one_line(tmp_path):
    im = np.full((4, 12, 10, 3), 100, np.uint8)
    text = "L = [35 45; 35 135; 35 225; 35 315];\n"
    write_session(tmp_path / "db" / "1002" / "2008-01-02_10-00-00", im, text)
    write_session(tmp_path / "db" / "1001" / "2008-01-01_09-00-00", im, text)
    found = find_sessions(tmp_path / "db")
    assert [s.id for s in found] == ["1001/2008-01-01_09-00-00", "1002/2008-01-02_10-00-00"]
    photos, lights = load_session(found[0])
    assert photos.shape == (4, 12, 10, 3) and photos.dtype == np.uint8
    np.testing.assert_allclose(lights, LIGHTS, atol=1e-12)
    split = tmp_path / "test.txt"
    split.write_text("# test split\n\n1002/2008-01-02_10-00-00/im0.bmp,extra\n")
    assert [s.id for s in find_sessions(tmp_path / "db", split)] == ["1002/2008-01-02_10-00-00"]

    def one_line_error(match: str, fn, *args) -> None:
        with pytest.raises(L2RError, match=match) as e:
            fn(*args)
        assert "\n" not in str(e.value)

    one_line_error("not a folder", find_sessions, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    one_line_error("no Photoface sessions", find_sessions, tmp_path / "empty")
    split.write_text("1003/x\n")
    one_line_error("test.txt:1: no session folder 1003/x", find_sessions, tmp_path / "db", split)
    one_line_error("cannot read", find_sessions, tmp_path / "db", tmp_path / "nolist.txt")
    bad = tmp_path / "db" / "1003" / "s"
    write_session(bad, im, "L = [35 45; 35 135];")
    one_line_error("got a 2 x 2 matrix", load_session, find_sessions(tmp_path / "db")[2])
    (bad / "LightSource.m").unlink()
    one_line_error("session without LightSource.m", find_sessions, tmp_path / "db")
    (bad / "LightSource.m").write_text(text)
    Image.fromarray(np.zeros((12, 11, 3), np.uint8)).save(bad / "im2.bmp")
    one_line_error("different sizes", load_session, find_sessions(tmp_path / "db")[2])
    with pytest.raises(L2RError, match="image must be"):
        prepare_photoface(tmp_path / "db", 64, image="im7")


def ellipsoid(h: int, w: int, centre, axes) -> np.ndarray:
    """Outward normals (H, W, 3) in frame P of a half-ellipsoid (semi-axes a, b in pixels and
    depth c) on a flat background facing the camera."""
    a, b, c = axes
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    x, y = (cols - centre[0]) / a, -(rows - centre[1]) / b
    z = np.sqrt(np.clip(1 - x**2 - y**2, 0, None))
    n = np.stack([x / a, y / b, z / c], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True).clip(min=1e-12)
    n[x**2 + y**2 >= 1] = (0.0, 0.0, 1.0)
    return n


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Two sessions of a made-up face: the astronaut's colours as albedo on a half-ellipsoid
    over her face, lit by the four lights; one light file as angles, one as vectors."""
    root = tmp_path_factory.mktemp("photoface")
    photo = data.astronaut()[0:300, 60:360].astype(float) / 255
    truth = {}
    for sid, shift, text in [
        ("1001/2008-02-23_12-21-31", (0, 0), "LightSource = [35 45; 35 135; 35 225; 35 315];"),
        ("1002/2008-03-01_07-57-06", (6, -9), "L = [" + "; ".join(
            " ".join(f"{v:.9f}" for v in row) for row in LIGHTS) + "]"),
    ]:  # fmt: skip
        albedo = np.roll(photo, shift, axis=(0, 1))
        n = ellipsoid(300, 300, (164 + shift[1], 125 + shift[0]), (75.0, 95.0, 70.0))
        images = np.clip(np.rint(render(n, albedo, LIGHTS) * 255), 0, 255).astype(np.uint8)
        write_session(root / sid, images, text)
        truth[sid] = n
    return root, truth


@pytest.fixture(scope="module")
def prepared(faces):
    return prepare_photoface(faces[0], 64)


def test_prepared_ground_truth_matches_the_made_up_surface(faces, prepared):
    _, truth = faces
    assert [f.id for f in prepared.faces] == sorted(truth) and prepared.skipped == ()
    for f in prepared.faces:
        # the analytic normal at each crop pixel's photo position, in the model's frame and
        # turned by the crop's rotation: an independent route to what warp_normals computes
        m = f.crop.matrix
        q = np.stack(np.meshgrid(np.arange(64.0), np.arange(64.0)), -1)
        p = np.rint(q @ m[:, :2].T + m[:, 2]).astype(int).clip(0, 299)
        n = to_model_frame(truth[f.id][p[..., 1], p[..., 0]])
        rot = m[:, :2] / math.sqrt(np.linalg.det(m[:, :2]))
        n = np.concatenate([n[..., :2] @ rot, n[..., 2:]], -1)
        use = f.gt_valid & f.region
        assert use.sum() > 0.5 * f.region.sum() > 300
        assert np.median(angle(f.gt_normal[use], n[use])) < 3.0


def test_evaluate_bundled_on_made_up_sessions(faces, prepared):
    root, _ = faces
    res = evaluate_photoface(None, root, batch_size=1)
    summary = res.summary()
    assert set(summary) == {"name", "n", "n_skipped", "mad_mean", "mad_std", "pct_under_20",
                            "pct_under_25", "pct_under_30"}  # fmt: skip
    assert summary["name"] == "bundled" and summary["n"] == 2 and summary["n_skipped"] == 0
    assert res.ids == ("1001/2008-02-23_12-21-31", "1002/2008-03-01_07-57-06")
    assert 0 < summary["mad_mean"] < 90 and summary["mad_std"] >= 0
    pct = [summary[f"pct_under_{t}"] for t in (20, 25, 30)]
    assert 0 <= pct[0] <= pct[1] <= pct[2] <= 100
    assert (res.pixels > 300).all()
    # a prepared set is used as given; with its GT mirrored left-right (the frame P's x, not
    # the model's) the bundled model's face-shaped normals agree far less
    mirrored = dataclasses.replace(
        prepared,
        faces=tuple(
            dataclasses.replace(f, gt_normal=f.gt_normal * np.float32([-1, 1, 1]))
            for f in prepared.faces
        ),
    )
    worse = evaluate_photoface(None, root, prepared=mirrored)
    assert (worse.mad > res.mad + 5).all()


def test_no_face_is_skipped_and_nothing_scored_is_an_error(tmp_path):
    n, _ = hemisphere(120, 50.0)
    images = np.clip(np.rint(render(n, np.full((120, 120, 3), 0.7), LIGHTS) * 255), 0, 255)
    write_session(tmp_path / "1" / "s", images.astype(np.uint8), "L = [1 2 3]")  # bad file
    with pytest.raises(L2RError, match="lights must be 4 directions"):
        prepare_photoface(tmp_path, 64, lights=LIGHTS[:3])
    prep = prepare_photoface(tmp_path, 64, image="im1", lights=LIGHTS)  # file overridden
    assert prep.faces == () and prep.skipped == (("1/s", "no face found"),)
    with pytest.raises(L2RError, match="no session could be scored .1 skipped, e.g. 1/s: no face"):
        evaluate_photoface(None, tmp_path, prepared=prep)


def test_cli_table_json_report_and_errors(l2r, tmp_path, faces):
    root, _ = faces
    out = tmp_path / "pf.json"
    (tmp_path / "split.txt").write_text("# one session\n1002/2008-03-01_07-57-06\n")
    r = l2r("benchmark", "photoface", "--data", root, "--list", tmp_path / "split.txt", "--compare",
            "--json", out, "--report", tmp_path / "rep")  # fmt: skip
    assert r.code == 0, r.err
    row = json.loads(out.read_text())["results"][0]
    assert row["name"] == "bundled" and row["n"] == 1
    direct = evaluate_photoface(None, root, list_file=tmp_path / "split.txt").summary()
    assert row["mad_mean"] == pytest.approx(direct["mad_mean"])
    assert "(1)" in r.out and "MAD" in r.out
    report = (tmp_path / "rep" / "report.md").read_text()
    assert f"{row['mad_mean']:.2f} ± {row['mad_std']:.2f}" in report
    assert (tmp_path / "rep" / "hist.png").is_file()
    r = l2r("benchmark", "photoface", "--data", tmp_path / "nowhere")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "nowhere" in r.err
