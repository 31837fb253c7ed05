"""BFM protocol known answers: the true depth scores 0; tilted and mirrored planes score the
angles and log-depth spreads worked out by hand from the camera model; the template and
own-template rows and the shape gain; the detail scores and occluded pixels; the CLI's
baselines and its input errors. (The detail metrics' own known answers: tests/test_metrics.py.)"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from l2r_cli.benchmark.bfm import evaluate_bfm, load_template, synface_stem, true_views
from l2r_cli.data.dataset import DatasetWriter, FieldSpec, L2RDataset
from l2r_cli.data.synth import SynthConfig, generate
from l2r_cli.errors import L2RError
from l2r_cli.predictor import TemplatePredictor
from l2r_cli.render import Renderer

S = 16
FOV = 10.0


@pytest.fixture(scope="module")
def synth_ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bfm") / "ds"
    # version 1: the faces these known answers were worked out on (no occluders)
    generate(SynthConfig(out=str(root), n=16, size=32, supersample=2, batch_size=8, seed=3,
                         splits=(0.5, 0.0, 0.5), version=1))  # fmt: skip
    return root


def _rays_x(size: int = S, fov: float = FOV) -> np.ndarray:
    """x / z of the ray through each pixel column (REFERENCE.md camera: f = (S-1)/2 / tan(fov/2),
    c = (S-1)/2), broadcast to (S, S)."""
    f = (size - 1) / 2 / math.tan(math.radians(fov) / 2)
    u = np.arange(size) - (size - 1) / 2
    return np.broadcast_to(u / f, (size, size))


def _plane(theta_deg: float) -> np.ndarray:
    """Depth (S, S) of the plane n . P = 1 with n = (sin t, 0, cos t): a fronto-parallel plane
    at depth 1 turned by t about the vertical axis; z = 1 / (sin t * x/z + cos t)."""
    t = math.radians(theta_deg)
    return 1 / (math.sin(t) * _rays_x() + math.cos(t))


def _face_region() -> np.ndarray:
    """The 'face': a centre square 10 px wide; the rest is background."""
    m = np.zeros((S, S), bool)
    m[3:13, 3:13] = True
    return m


def _write_gt(root: Path, depths: list[np.ndarray]) -> Path:
    """A test split whose GT depth is each plane on the face region and 1.2 elsewhere."""
    fields = {"depth": FieldSpec((S, S), "float32")}
    with DatasetWriter(root, image_size=S, fields=fields, source={"generator": "test"}) as w:
        for d in depths:
            gt = np.where(_face_region(), d, 1.2).astype(np.float32)
            w.append("test", {"image": np.zeros((S, S, 3), np.uint8), "depth": gt})
    return root


@dataclass
class Fixed:
    """Predicts the given view-space depth maps (in the dataset's order), covering every pixel."""

    depths: list[np.ndarray]
    name: str = "fixed"
    kind: str = "proxy"
    image_size: int = S
    seen: int = 0

    def predict(self, image):
        b = image.shape[0]
        d = torch.tensor(np.stack(self.depths[self.seen : self.seen + b]), dtype=torch.float32)
        self.seen += b
        normal = Renderer(self.image_size).normals(d)
        return {"depth": d, "normal": normal, "mask": torch.ones_like(d)}


def _by_hand_side(pred: np.ndarray, gt: np.ndarray) -> float:
    """SIDE by its definition over the eroded face region (the interior 8 x 8 pixels)."""
    inner = np.zeros((S, S), bool)
    inner[4:12, 4:12] = True
    diff = (np.log(pred) - np.log(gt))[inner]
    return float(np.sqrt(((diff - diff.mean()) ** 2).mean()))


def test_true_depth_scores_zero_and_tilts_score_their_angle(tmp_path):
    front, tilt = _plane(0), _plane(20)
    data = _write_gt(tmp_path / "planes", [front, tilt])
    exact = evaluate_bfm(Fixed([front, tilt]), data)
    np.testing.assert_allclose(exact.side, 0, atol=1e-7)
    np.testing.assert_allclose(exact.mad, 0, atol=0.05)  # float32 acos of ~1
    np.testing.assert_allclose(exact.band_side, 0, atol=1e-7)
    np.testing.assert_allclose(exact.detail_mad, 0, atol=0.05)
    # A prediction turned by 20 deg about the vertical: every normal is 20 deg off, and log
    # depth differs by -log(sin t * x/z + cos t), whose spread over the columns is the SIDE.
    turned = evaluate_bfm(Fixed([tilt, front]), data)
    np.testing.assert_allclose(turned.mad, 20, atol=0.05)
    np.testing.assert_allclose(turned.side, _by_hand_side(tilt, front), rtol=1e-4)
    # planes carry no detail: a turned plane is 20 deg off everywhere, but its detail is right
    assert turned.detail_mad.max() < 0.1 and turned.band_side.max() < 1e-5


def test_a_mirrored_prediction_is_not_the_truth(tmp_path):
    # GT turned by +15 deg; its mirror image is the plane turned by -15 deg: 30 deg apart.
    tilt = _plane(15)
    data = _write_gt(tmp_path / "tilt", [tilt])
    mirrored = evaluate_bfm(Fixed([tilt[:, ::-1].copy()]), data)
    np.testing.assert_allclose(mirrored.mad, 30, atol=0.05)
    np.testing.assert_allclose(mirrored.side, _by_hand_side(_plane(-15), tilt), rtol=1e-4)
    assert mirrored.side[0] > 0.01


@dataclass
class Oracle:
    """Predicts the true canonical depth (or ``template`` for every face) in the true view,
    with the true view-space depth when ``template`` is None."""

    data: Path
    template: torch.Tensor | None = None
    name: str = "oracle"
    kind: str = "proxy"
    image_size: int = 32

    def __post_init__(self):
        ds = L2RDataset(self.data, "test", fields=("image", "view", "canon_depth", "depth"))
        self.truth = next(iter(DataLoader(ds, batch_size=len(ds))))
        self.seen = 0

    def predict(self, image):
        n, t = len(image), self.truth
        idx = slice(self.seen, self.seen + n)
        self.seen += n
        r = Renderer(self.image_size)
        canon = t["canon_depth"][idx] if self.template is None else self.template.expand(n, -1, -1)
        view = t["view"][idx]
        warped = r.warp_depth(canon, view)
        return {"depth": warped.depth, "normal": r.normals(warped.depth), "mask": warped.mask,
                "canon_depth": canon, "view": view}  # fmt: skip


def test_oracle_on_synth_faces_scores_zero_and_gains_shape(synth_ds, tmp_path):
    views = true_views(synth_ds, "test")
    assert views[:, 1].abs().max() > math.radians(5)  # turned faces: a mirror would show
    res = evaluate_bfm(Oracle(synth_ds), synth_ds, own_template=True)
    np.testing.assert_allclose(res.side, 0, atol=1e-6)
    np.testing.assert_allclose(res.mad, 0, atol=0.05)
    np.testing.assert_allclose(res.band_side, 0, atol=1e-6)
    np.testing.assert_allclose(res.detail_mad, 0, atol=0.05)
    assert res.own_template.detail_mad.min() > 0.1  # the mean face lacks each face's detail
    # its own template (mean canonical depth of these faces, in their true views) is the
    # template baseline built from the same mean
    mean = L2RDataset(synth_ds, "test", fields=("canon_depth",))
    mean = torch.stack([mean[i]["canon_depth"] for i in range(len(mean))]).double().mean(0)
    np.save(tmp_path / "mean.npy", mean.float().numpy())
    tpl = evaluate_bfm(TemplatePredictor(load_template(tmp_path / "mean.npy", synth_ds, 32)),
                       synth_ds, views=views)  # fmt: skip
    np.testing.assert_allclose(res.own_template.side, tpl.side, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res.own_template.mad, tpl.mad, rtol=1e-4, atol=1e-3)
    gain = res.shape_gain()
    assert gain["shape_gain_side"] == pytest.approx(1.0) and gain["shape_gain_mad"] > 0.99
    # A model that draws that one template for every face gains no shape: gain exactly 0.
    same = evaluate_bfm(Oracle(synth_ds, template=mean.float()), synth_ds, own_template=True)
    np.testing.assert_allclose(same.side, tpl.side, rtol=1e-4, atol=1e-6)
    g = same.shape_gain()
    assert abs(g["shape_gain_side"]) < 1e-4 and abs(g["shape_gain_mad"]) < 1e-4


def test_template_baseline_poses_each_face_own_canonical_depth_exactly(synth_ds, tmp_path):
    # the template of face 0 in face 0's true view is face 0's GT depth
    ds = L2RDataset(synth_ds, "test", fields=("image", "depth", "canon_depth", "view"))
    b = ds[0]
    out = TemplatePredictor(b["canon_depth"]).predict(b["image"][None], view=b["view"][None])
    face = b["depth"] < b["depth"].max()
    torch.testing.assert_close(out["depth"][0][face], b["depth"][face], rtol=0, atol=1e-6)


def test_views_are_matched_by_name_across_datasets(synth_ds, tmp_path):
    assert synface_stem("test/image/000012_image.png") == "000012"
    assert synface_stem("000012") == "000012"
    src = L2RDataset(synth_ds, "test", fields=("name", "depth", "image"))
    fields = {"depth": FieldSpec((32, 32), "float32")}
    copy = tmp_path / "copy"
    with DatasetWriter(copy, image_size=32, fields=fields, source={"generator": "test"}) as w:
        for i in reversed(range(len(src))):  # another order, synface-style names
            s = src[i]
            img = (s["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            w.append("test", {"image": img, "depth": s["depth"].numpy(),
                              "name": f"test/image/{s['name']}_image.png"})  # fmt: skip
    got = true_views(copy, "test", synth_ds)
    want = true_views(synth_ds, "test")
    torch.testing.assert_close(got, want.flip(0))
    with pytest.raises(L2RError, match="stores no true view"):
        true_views(copy, "test")


def _one_line(r, *needles):
    assert r.code == 2, (r.code, r.out, r.err)
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
    for n in needles:
        assert n in r.err, r.err


def test_cli_baselines_json_and_errors(l2r, synth_ds, tmp_path):
    js = tmp_path / "b.json"
    r = l2r("benchmark", "bfm", "--data", synth_ds, "--baseline", "constant", "--baseline",
            "template", "--json", js)  # fmt: skip
    assert r.code == 0, r.err
    rows = json.loads(js.read_text())["results"]
    assert [x["stage"] for x in rows] == ["baseline", "template"]
    for row in rows:  # the detail scores, per image too (paired comparisons)
        for key in ("detail_mad", "band_side_x100"):
            assert len(row["per_image"][key]) == row["n"]
            assert np.mean(row["per_image"][key]) == pytest.approx(row[f"{key}_mean"], rel=1e-4)
        assert row["band_side_x100_mean"] == pytest.approx(100 * row["band_side_mean"])
    assert "detail" in r.out and "band" in r.out
    # the training faces' mean posed with the true views is far better than a plane
    assert rows[1]["side_mean"] < 0.6 * rows[0]["side_mean"]
    assert rows[1]["mad_mean"] < 0.6 * rows[0]["mad_mean"]
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((4, 5), np.float32))
    _one_line(l2r("benchmark", "bfm", "--data", synth_ds, "--baseline", "template",
                  "--template", bad), "(S, S)", "(4, 5)")  # fmt: skip
    _one_line(l2r("benchmark", "bfm", "--data", synth_ds, "--template", bad), "--baseline")
    flat = tmp_path / "flat"
    _write_gt(flat, [_plane(0)])
    _one_line(l2r("benchmark", "bfm", "--data", synth_ds, "--baseline", "template",
                  "--template", flat), "'train'")  # fmt: skip
    _one_line(l2r("benchmark", "bfm", "--data", flat, "--baseline", "template", "--template",
                  synth_ds), "no true view")  # fmt: skip


OS = 32  # occluder tests: sigma 1 px, detail mask 4 px inside the face


def _write_occluded(root: Path, gt: np.ndarray, occluder: np.ndarray | None, *more) -> Path:
    """Test images: GT depth ``gt`` (OS, OS), with an ``occluder_mask`` field if given; ``more``
    GT depths follow as further images (without occluder field)."""
    fields = {"depth": FieldSpec((OS, OS), "float32")}
    samples = [{"image": np.zeros((OS, OS, 3), np.uint8), "depth": d.astype(np.float32)}
               for d in (gt, *more)]  # fmt: skip
    if occluder is not None:
        fields["occluder_mask"] = FieldSpec((OS, OS), "uint8")
        samples[0]["occluder_mask"] = occluder.astype(np.uint8)
    with DatasetWriter(root, image_size=OS, fields=fields, source={"generator": "test"}) as w:
        for sample in samples:
            w.append("test", sample)
    return root


def test_occluded_pixels_are_left_out_of_every_metric(tmp_path):
    # GT: a bumpy face (rows/cols 4-27) on the background; 'hair' over rows 4-10. The prediction
    # is the truth, except for a wrong bulge under the hair.
    rng = np.random.default_rng(0)
    gt = np.full((OS, OS), 1.1)
    gt[4:28, 4:28] = 1.0 + 0.002 * rng.standard_normal((24, 24))
    hair = np.zeros((OS, OS))
    hair[4:11, 4:28] = 1
    pred = gt.copy()
    pred[4:11, 4:28] -= 0.03
    f = lambda: Fixed([pred], image_size=OS)  # noqa: E731
    seen = evaluate_bfm(f(), _write_occluded(tmp_path / "hair", gt, hair))
    assert seen.side[0] < 1e-7 and seen.mad[0] < 0.05  # float32 acos of ~1
    bare = evaluate_bfm(f(), _write_occluded(tmp_path / "bare", gt, None))
    assert bare.side[0] > 0.005 and bare.mad[0] > 5 and bare.detail_mad[0] > 5
    # the detail masks leave the hair out but are not eroded around it: only the blur's reach
    # (3 px) below the hair still sees the bulge
    assert seen.detail_mad[0] < 0.5 * bare.detail_mad[0]
    assert seen.band_side[0] < 0.5 * bare.band_side[0]
    far = gt.copy()
    far[4:11, 4:28] -= 0.03
    far[11:14, 4:28] = gt[11:14, 4:28]  # the bulge kept 4+ px above the first scored row
    hair[11:14] = 1
    clean = evaluate_bfm(Fixed([far], image_size=OS), _write_occluded(tmp_path / "h2", gt, hair))
    assert clean.detail_mad[0] < 0.05 and clean.band_side[0] < 1e-7
    # an occluder field that occludes nothing changes nothing
    none = evaluate_bfm(f(), _write_occluded(tmp_path / "none", gt, np.zeros((OS, OS))))
    for key in ("side", "mad", "detail_mad", "band_side"):
        assert np.array_equal(getattr(none, key), getattr(bare, key)), key
    # a face all under hair: a one-line error
    with pytest.raises(L2RError, match="no unoccluded face pixels"):
        evaluate_bfm(f(), _write_occluded(tmp_path / "all", gt, np.ones((OS, OS))))


def test_face_too_small_for_detail_is_left_out_of_the_detail_metrics_only(tmp_path, capsys):
    """An image with no pixel deep enough inside the face for the high pass keeps its SIDE and
    MAD but is NaN in detail MAD and band SIDE, None in the JSON's per-image lists, and out of
    the detail means (n_detail); the run goes on and says so."""
    rng = np.random.default_rng(0)
    big = np.full((OS, OS), 1.1)
    big[4:28, 4:28] = 1.0 + 0.002 * rng.standard_normal((24, 24))
    small = np.full((OS, OS), 1.1)
    small[13:19, 13:19] = 1.0  # 6 px: 4 px after the face mask's erosion, none after 4 more
    pred_big = big.copy()
    pred_big[8:24, 8:24] += 0.001 * rng.standard_normal((16, 16))
    root = _write_occluded(tmp_path / "two", big, None, small)
    res = evaluate_bfm(Fixed([pred_big, small], image_size=OS), root)
    assert np.isfinite(res.side).all() and np.isfinite(res.mad).all()
    assert np.isfinite(res.detail_mad[0]) and res.detail_mad[0] > 0.1
    assert np.isnan(res.detail_mad[1]) and np.isnan(res.band_side[1])
    s = res.summary()
    assert s["n"] == 2 and s["n_detail"] == 1
    assert s["detail_mad_mean"] == pytest.approx(res.detail_mad[0])
    assert s["per_image"]["detail_mad"][1] is None and s["per_image"]["side_x100"][1] is not None
    assert "1 of 2 images keep no face pixel" in capsys.readouterr().err
    only_small = _write_occluded(tmp_path / "one", small, None)
    s = evaluate_bfm(Fixed([small], image_size=OS), only_small).summary()
    assert s["n_detail"] == 0 and s["detail_mad_mean"] is None
