"""`l2r benchmark photos`: .pts parsing, the generic face, the reference pose's sign convention,
an oracle against the null rows, a face template that must not pass, and the command."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from PIL import Image

from l2r_cli.benchmark.face68 import INNER_68, MIRROR_68, generic_face
from l2r_cli.benchmark.photos import (
    _matrix_onto,
    evaluate_photos,
    fit_reference_pose,
    load_photo_faces,
    pearson_rows,
    read_pts,
    write_pts,
)
from l2r_cli.errors import L2RError
from l2r_cli.weights import DEFAULT_WEIGHTS

#: (yaw, pitch) degrees of the synthetic faces.
POSES = [(-30, 0), (-15, 10), (0, -10), (15, 5), (30, -5), (20, 15), (-25, -15), (5, 20)]
PHOTO = 256


def project_generic(yaw: float, pitch: float, size: int = PHOTO, scale: float = 0.0078):
    """Landmarks (68, 2) of the generic face turned by (yaw, pitch) degrees, through the
    library's own view transform and camera (not the benchmark's fit code). The scale makes
    the aligned crop span about the whole photo, so its camera is the model's."""
    from l2r_cli.render.camera import intrinsics, project
    from l2r_cli.render.transform import transform_points

    g = generic_face()
    g = g - g[list(INNER_68)].mean(0)
    canon = torch.tensor(g * scale + [0.0, 0.0, 1.0])[None]
    view = torch.tensor([[math.radians(pitch), math.radians(yaw), 0, 0, 0, 0]]).double()
    k = intrinsics(size, 10.0, dtype=torch.float64)
    return project(transform_points(canon, view), k)[0, :, :2].numpy()


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Eight noise 'photos' whose .pts files hold the generic face at known poses."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for k, (yaw, pitch) in enumerate(POSES):
        img = rng.integers(0, 256, (PHOTO, PHOTO, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / f"face{k}.png")
        write_pts(root / f"face{k}.pts", project_generic(yaw, pitch))
    return root


@pytest.fixture(scope="module")
def faces(photo_dir):
    found, notes = load_photo_faces(photo_dir, (64,))
    assert notes == [] and len(found) == len(POSES)
    assert all(f.landmark_source == "pts" for f in found)
    return found


@pytest.fixture
def with_photos_command():
    """Register the command on `l2r benchmark` for the test (unless it already is)."""
    from l2r_cli.commands.benchmark import benchmark
    from l2r_cli.commands.benchmark_photos import photos

    added = "photos" not in benchmark.commands
    if added:
        benchmark.add_command(photos)
    yield
    if added:
        benchmark.commands.pop("photos", None)


def test_read_pts_is_one_based_and_round_trips(tmp_path):
    p = tmp_path / "a.pts"
    rows = "\n".join(f"{i + 1} {2 * i + 1}" for i in range(68))
    p.write_text(f"version: 1\nn_points: 68\n{{\n{rows}\n}}\n")
    lm = read_pts(p)
    # iBUG's first pixel centre is (1, 1): the file's "1 1" is l2r's (0, 0)
    np.testing.assert_array_equal(lm[0], [0, 0])
    np.testing.assert_array_equal(lm[5], [5, 10])
    np.testing.assert_array_equal(read_pts(p, origin=0)[5], [6, 11])
    write_pts(tmp_path / "b.pts", lm)
    np.testing.assert_allclose(read_pts(tmp_path / "b.pts"), lm)


@pytest.mark.parametrize(
    "body, message",
    [
        ("version: 1\nn_points: 67\n{\n" + "1 2\n" * 67 + "}\n", "expected 68 points, found 67"),
        ("version: 1\nn_points: 68\n{\n" + "1 2 3\n" * 68 + "}\n", "two numbers"),
        ("version: 1\nn_points: 68\n{\n" + "1 x\n" * 68 + "}\n", "of numbers"),
        ("version: 1\nn_points: 68\n" + "1 2\n" * 68, "not an iBUG .pts file"),
        ("version: 1\nn_points: 60\n{\n" + "1 2\n" * 68 + "}\n", "n_points is 60"),
    ],
)
def test_read_pts_errors_are_one_line(tmp_path, body, message):
    p = tmp_path / "bad.pts"
    p.write_text(body)
    with pytest.raises(L2RError, match=message) as exc:
        read_pts(p)
    assert "\n" not in str(exc.value)


def test_generic_face_is_a_mirror_symmetric_face():
    g = generic_face()
    assert g.shape == (68, 3)
    np.testing.assert_allclose(g[list(MIRROR_68)] * [-1, 1, 1], g)
    inner = g[list(INNER_68)]
    assert g[30, 2] == inner[:, 2].min()  # the nose tip is the nearest inner point
    assert g[36:48, 1].mean() < g[30, 1] < g[48:68, 1].mean()  # eyes, nose, mouth downwards
    assert g[36, 0] < 0 < g[45, 0]  # the subject's right eye on the image left


def test_sign_convention_on_known_poses():
    """Positive yaw turns the face to the image left (the nose tip moves to -x, as
    tests/data/test_synth.py::test_yaw_sign_turns_the_nose), positive pitch moves the nose
    tip down; the fit in the aligned crop recovers the angles the library's transform used."""
    from l2r_cli.faces import Crop, alignment_matrix

    for yaw, pitch in [(20, 0), (-35, 0), (0, 15), (0, -15), (25, 10), (-10, -20)]:
        lm = project_generic(yaw, pitch)
        eyes = (lm[36] + lm[45]) / 2
        if yaw:
            assert np.sign(lm[30, 0] - eyes[0]) == -np.sign(yaw)
        front = project_generic(0, 0)
        if pitch:
            drop = (lm[30, 1] - eyes[1]) - (front[30, 1] - (front[36, 1] + front[45, 1]) / 2)
            assert np.sign(drop) == np.sign(pitch)
        m = alignment_matrix(lm, 64)
        crop = Crop(np.zeros((64, 64, 3), np.uint8), m, lm)
        ref = fit_reference_pose(crop.to_crop(lm), 64)
        assert abs(math.degrees(ref.view[1]) - yaw) < 2.0, (yaw, pitch, ref.view)
        assert abs(math.degrees(ref.view[0]) - pitch) < 2.0, (yaw, pitch, ref.view)
        assert ref.rms_px < 0.1


def test_mirrored_landmarks_mirror_the_reference_yaw():
    # mirrored about the camera's centre column of a 64 px crop: an exactly mirrored view
    lm = project_generic(18, 8, size=64, scale=0.008)
    mirrored = lm[list(MIRROR_68)] * [-1, 1] + [63, 0]
    a = fit_reference_pose(lm, 64)
    b = fit_reference_pose(mirrored, 64)
    assert a.view[1] == pytest.approx(-b.view[1], abs=1e-4)
    assert a.view[0] == pytest.approx(b.view[0], abs=1e-4)


def test_pearson_rows_known_answers():
    a = np.array([[1.0, 2, 3], [1, 2, 3], [1, 1, 1]])
    b = np.array([[2.0, 4, 6], [3, 2, 1], [1, 2, 3]])
    np.testing.assert_allclose(pearson_rows(a, b), [1, -1, 0])


def test_nonface_crops_take_the_face_crops_frame():
    # a 101 x 51 photo and a 201 x 101 image: every photo pixel maps to twice its coordinates
    m = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 5.0]])
    out = _matrix_onto(m, (101, 51), np.zeros((101, 201, 3)))
    np.testing.assert_allclose(out @ [3, 4, 1], 2 * (m @ [3, 4, 1]))


@dataclass
class Oracle:
    """Returns each known crop's reference view and a depth map through its reference
    landmark depths; unknown (non-face) crops get a frontal view and a flat plane."""

    table: dict = field(default_factory=dict)
    image_size: int = 64
    name: str = "oracle"
    kind: str = "baseline"

    def predict(self, image):
        s = self.image_size
        imgs = ((image.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
        views, depths = [], []
        for im in imgs:
            view, depth = self.table.get(im.tobytes(), (np.zeros(6), np.ones((s, s))))
            views.append(view)
            depths.append(depth)
        return {"depth": torch.tensor(np.stack(depths)), "view": torch.tensor(np.stack(views))}


@dataclass
class Template:
    """One depth map and one view for every image: a face template."""

    depth: np.ndarray
    image_size: int = 64
    name: str = "template"
    kind: str = "baseline"

    def predict(self, image):
        b = image.shape[0]
        return {
            "depth": torch.tensor(self.depth).expand(b, *self.depth.shape),
            "view": torch.zeros(b, 6),
        }


@pytest.fixture(scope="module")
def oracle(faces):
    return _oracle(faces)


def _oracle(faces) -> Oracle:
    from scipy.interpolate import griddata

    s = 64
    rows, cols = np.mgrid[0:s, 0:s]
    oracle = Oracle()
    for f in faces:
        lm = f.crops[s].to_crop(f.landmarks)
        ref = fit_reference_pose(lm, s)
        z = ref.points[:, 2]
        depth = griddata(lm, z, (cols, rows), method="linear")
        near = griddata(lm, z, (cols, rows), method="nearest")
        depth = np.where(np.isnan(depth), near, depth)
        oracle.table[f.crops[s].image.tobytes()] = (ref.view, depth)
    return oracle


def test_oracle_beats_the_null_rows_and_a_template_does_not(faces, oracle):
    res = evaluate_photos(oracle, faces)
    model = res.scores["model"]
    assert model["yaw_err"].max() < 1e-6 and model["pitch_err"].max() < 1e-6
    assert model["depth_r"].min() > 0.95
    verdict = res.verdict()
    assert all(v["works"] for v in verdict.values()), verdict
    # the references themselves are the poses the landmarks were made with
    np.testing.assert_allclose(np.degrees(res.ref_view[:, [1, 0]]), POSES, atol=2.0)

    template = Template(next(iter(oracle.table.values()))[1])
    res = evaluate_photos(template, faces)
    verdict = res.verdict()
    assert not any(v["works"] for v in verdict.values()), verdict
    # one view for every face: the shuffled row is the same errors in another order
    for key in ("yaw_err", "pitch_err"):
        assert res.scores["shuffled"][key].mean() == pytest.approx(res.scores["model"][key].mean())
    summary = res.summary()
    assert summary["works_on_real_photos"] == {"yaw": False, "pitch": False, "depth r": False}
    assert len(summary["faces"]) == len(POSES)


@dataclass
class PoseOnly:
    """The oracle's pose with one fixed canonical surface: relief that follows the pose and
    nothing else (what the 'posed template' null row stands for)."""

    oracle: Oracle
    image_size: int = 64
    name: str = "pose only"
    kind: str = "baseline"
    canon: torch.Tensor | None = None

    def predict(self, image):
        from scipy.interpolate import griddata

        from l2r_cli.render import Renderer

        s = self.image_size
        view = self.oracle.predict(image)["view"].float()
        if self.canon is None:
            # the generic face seen frontally, as a canonical depth map of the crop
            lm = project_generic(0, 0, size=s, scale=0.008)
            z = fit_reference_pose(lm, s).points[:, 2]
            rows, cols = np.mgrid[0:s, 0:s]
            depth = griddata(lm, z, (cols, rows), method="linear", fill_value=z.max())
            self.canon = torch.tensor(depth, dtype=torch.float32)
        canon = self.canon.expand(len(view), s, s)
        depth = Renderer(s).warp_depth(canon, view).depth
        return {"depth": depth, "view": view, "canon_depth": canon}


def test_relief_that_only_follows_the_pose_fails_the_depth_verdict(faces, oracle):
    res = evaluate_photos(PoseOnly(oracle), faces)
    verdict = res.verdict()
    assert verdict["yaw_err"]["works"] and verdict["pitch_err"]["works"]
    # its relief beats the other null rows (it follows the pose), not its own posed template
    vs = verdict["depth_r"]["vs"]
    assert all(vs[row]["mean"] > 2 * vs[row]["se"] for row in ("shuffled", "non-face", "template"))
    assert vs["posed template"]["mean"] == pytest.approx(0, abs=1e-6)
    assert not verdict["depth_r"]["works"]
    assert "posed template" not in verdict["yaw_err"]["vs"]


def test_command_json_report_and_compare(l2r, with_photos_command, photo_dir, tmp_path):
    out = tmp_path / "photos.json"
    w = str(DEFAULT_WEIGHTS)
    r = l2r("--device", "cpu", "benchmark", "photos", "--data", photo_dir, w, "--compare",
            "--json", out, "--report", tmp_path / "rep")  # fmt: skip
    assert r.code == 0, r.err
    assert "(5)" in r.out and "verdict" in r.out and "+0.000" in r.out
    payload = json.loads(out.read_text())
    assert payload["faces"] == len(POSES) and len(payload["results"]) == 1
    res = payload["results"][0]
    rows = ["model", "shuffled", "non-face", "template", "posed template"]
    assert [row["row"] for row in res["rows"]] == rows
    assert "yaw_err_mean" not in res["rows"][-1]  # the posed template has the model's views
    assert set(res["works_on_real_photos"]) == {"yaw", "pitch", "depth r"}
    assert len(res["faces"]) == len(POSES)
    assert set(res["faces"][0]["nonface"]) == {"coffee", "chelsea", "grey", "noise"}
    assert (tmp_path / "rep" / "report.md").is_file()


def test_command_errors_are_one_line_exit_2(l2r, with_photos_command, photo_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = l2r("benchmark", "photos", "--data", empty)
    assert r.code == 2 and "no image files" in r.err and "Traceback" not in r.err
    r = l2r("benchmark", "photos", "--data", tmp_path / "missing")
    assert r.code == 2 and "no such folder" in r.err
    bad = tmp_path / "bad"
    bad.mkdir()
    Image.new("RGB", (64, 64)).save(bad / "a.png")
    (bad / "a.pts").write_text("version: 1\nn_points: 3\n{\n1 2\n3 4\n5 6\n}\n")
    r = l2r("benchmark", "photos", "--data", bad)
    assert r.code == 2 and "expected 68 points, found 3" in r.err
    assert len(r.err.strip().splitlines()) == 1
    # no .pts and nothing dlib calls a face: skipped with a note; no face at all: an error
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    none = tmp_path / "none"
    none.mkdir()
    Image.fromarray(noise).save(none / "noise.png")
    r = l2r("benchmark", "photos", "--data", none)
    assert r.code == 2 and "no face found in any" in r.err
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for k in range(2):
        Image.open(photo_dir / f"face{k}.png").save(mixed / f"face{k}.png")
        (mixed / f"face{k}.pts").write_text((photo_dir / f"face{k}.pts").read_text())
    Image.fromarray(noise).save(mixed / "sub_noise.png")
    r = l2r("--device", "cpu", "benchmark", "photos", "--data", mixed)
    assert r.code == 0, r.err
    assert "sub_noise.png: no face found, skipped" in r.err.replace("\n", "")
