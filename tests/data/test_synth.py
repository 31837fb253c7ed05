"""l2r synth: determinism, layouts, encodings, geometry conventions and the command."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

from l2r_cli.commands.synth import synth as synth_command
from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.data.face_template import layout
from l2r_cli.data.synth import (
    MAX_DEPTH,
    MIN_DEPTH,
    SynthConfig,
    _mask_faces,
    _stack,
    canonical_depth,
    decode_depth,
    encode_depth,
    generate,
    render_batch,
    sample_params,
    split_counts,
)
from l2r_cli.data.synth_face import _eye_centres
from l2r_cli.errors import L2RError
from l2r_cli.render import Light, Renderer, shade

SMALL = {"n": 10, "size": 32, "supersample": 2, "batch_size": 4}
FIELDS = ("image", "depth", "mask", "canon_depth", "canon_albedo", "canon_mask", "view", "light")


def _make(root: Path, **kw) -> Path:
    generate(SynthConfig(out=str(root), **{**SMALL, **kw}))
    return root


def _arrays(root: Path) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train", "val", "test"):
        with h5py.File(root / f"{split}.h5", "r") as f:
            for name in (*FIELDS, "name"):
                out[f"{split}/{name}"] = f[name][()]
    return out


def _pngs(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "synface").rglob("*.png"))
    }


@pytest.fixture(scope="module")
def synth_ds(tmp_path_factory) -> Path:
    return _make(tmp_path_factory.mktemp("synth") / "a", seed=3)


def test_same_seed_same_bytes_other_seed_differs(synth_ds, tmp_path):
    again = _make(tmp_path / "b", seed=3, batch_size=3)  # batching must not matter
    assert _pngs(again) == _pngs(synth_ds)
    a, b = _arrays(synth_ds), _arrays(again)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    other = _make(tmp_path / "c", seed=4)
    assert not np.array_equal(_arrays(other)["train/image"], a["train/image"])


def test_layout_names_and_manifest(synth_ds):
    counts = dict(zip(("train", "val", "test"), split_counts(10, (0.8, 0.1, 0.1)), strict=True))
    assert counts == {"train": 8, "val": 1, "test": 1}
    info = open_dataset(synth_ds)
    assert {s: v.n for s, v in info.splits.items()} == counts
    ids = iter(range(10))
    for split, n in counts.items():
        names = [next(ids) for _ in range(n)]
        images = sorted(p.name for p in (synth_ds / "synface" / split / "image").iterdir())
        depths = sorted(p.name for p in (synth_ds / "synface" / split / "depth").iterdir())
        assert images == [f"{i:06d}_image.png" for i in names]
        assert depths == [f"{i:06d}_depth.png" for i in names]
        with h5py.File(synth_ds / f"{split}.h5", "r") as f:
            assert [x.decode() for x in f["name"][()]] == [f"{i:06d}" for i in names]
            assert f["view"].shape == (n, 6) and f["light"].shape == (n, 4)
    source = json.loads((synth_ds / "manifest.json").read_text())["source"]
    assert source["generator"] == "l2r-synth" and source["args"]["seed"] == 3
    assert source["args"]["yaw_range"] == 60.0
    # the reader the trainer uses gets every field
    ds = L2RDataset(synth_ds, "train", fields=("image", "depth", "mask", "canon_albedo"))
    assert ds[0]["image"].shape == (3, 32, 32)


def test_pngs_match_hdf5_and_decode_within_8_bits(synth_ds):
    with h5py.File(synth_ds / "train.h5", "r") as f:
        image, depth, mask = f["image"][()], f["depth"][()], f["mask"][()]
    for k in range(len(image)):
        png = np.array(Image.open(synth_ds / "synface/train/image" / f"{k:06d}_image.png"))
        np.testing.assert_array_equal(png, image[k])
        code = np.array(Image.open(synth_ds / "synface/train/depth" / f"{k:06d}_depth.png"))
        assert code.shape == (32, 32, 3) and (code == code[..., :1]).all()
        decoded = decode_depth(code[..., 0])
        assert np.abs(decoded - depth[k]).max() <= 0.5 * 0.2 / 255 + 1e-6
        # Unsup3D's mask convention survives 8 bits: background is code 0 = max depth
        np.testing.assert_array_equal(code[..., 0] > 0, mask[k] > 0)
    d = np.array([0.9, 1.0, 1.1, 1.05])
    np.testing.assert_array_equal(encode_depth(d), [255, 128, 0, 64])  # c = round(255 (1.1-d)/0.2)
    assert np.allclose(decode_depth(encode_depth(d)), d, atol=0.1 / 255 + 1e-7)


def test_depth_ranges_and_background(synth_ds):
    a = _arrays(synth_ds)
    for split in ("train", "val", "test"):
        depth, mask = a[f"{split}/depth"], a[f"{split}/mask"] > 0
        assert depth.dtype == np.float32 and mask.any()
        assert (depth >= MIN_DEPTH).all() and (depth <= MAX_DEPTH).all()
        assert (depth[~mask] == np.float32(MAX_DEPTH)).all()
        assert (depth[mask] < MAX_DEPTH - 0.5 * 0.2 / 255).all()
        cd, cm = a[f"{split}/canon_depth"], a[f"{split}/canon_mask"] > 0
        assert (cd[~cm] == np.float32(MAX_DEPTH)).all() and (cd[cm] < MAX_DEPTH).all()
        assert (cd >= MIN_DEPTH).all()
        # a face crop: the head covers a large part of the frame
        assert cm.mean() > 0.4
        assert (a[f"{split}/canon_albedo"][~cm] == 0).all()
        # faces are centred near depth 1 (the rotation pivot)
        means = [d[m].mean() for d, m in zip(cd, cm, strict=True)]
        assert np.allclose(means, 1.0, atol=0.02)


def test_nose_tip_is_nearest():
    params = [sample_params(11, i, 64, 1) for i in range(16)]
    p, _ = _stack(params)
    L = layout(p)

    def at(cu, cv) -> torch.Tensor:  # canonical depth at per-sample points
        u = torch.as_tensor(cu, dtype=torch.float32).reshape(-1, 1, 1) * torch.ones(16, 1, 1)
        v = torch.as_tensor(cv, dtype=torch.float32).reshape(-1, 1, 1) * torch.ones(16, 1, 1)
        return canonical_depth(p, u.view(16, 1, 1), v.view(16, 1, 1))[0].view(16)

    tip = at(p["nose_dx"], L["tip_v"])
    for side in (-1, 1):
        cu, cv = _eye_centres(p, side)
        assert (tip < at(side * 0.4, cv + 0.25) - 0.01).all()  # cheeks
        assert (tip < at(cu + side * p["eye_w"], cv) - 0.01).all()  # outer eye corners
        assert (tip < at(cu - side * p["eye_w"], cv) - 0.01).all()  # inner eye corners
    # and it is the minimum of the whole surface, on the centre column, below the eyes
    from l2r_cli.data.synth import ray_grid

    u, v = ray_grid(64)
    depth, mask = canonical_depth(p, u, v)
    flat = torch.where(mask, depth, 9.0).view(16, -1)
    assert torch.allclose(flat.min(1).values, tip, atol=2e-3)
    row, col = flat.argmin(1) // 64, flat.argmin(1) % 64
    assert ((col - 31.5).abs() < 4).all() and (row > 32).all()


def test_view_and_light_ranges(tmp_path):
    cfg = SynthConfig(size=16, supersample=1, yaw_range=20, pitch_range=5, roll_range=0, version=1)
    b = render_batch([sample_params(0, i, 16, 1) for i in range(24)], cfg)
    deg = np.degrees(b.view[:, :3])
    assert np.abs(deg[:, 1]).max() <= 20 + 1e-4 and np.abs(deg[:, 1]).max() > 10
    assert np.abs(deg[:, 0]).max() <= 5 + 1e-4 and (deg[:, 2] == 0).all()
    assert np.abs(b.view[:, 3:5]).max() <= 0.01 and (b.view[:, 5] == 0).all()
    ambient, diffuse = b.light[:, 0], b.light[:, 1]
    assert (ambient >= 0.3).all() and (ambient + diffuse <= 1.05 + 1e-6).all()
    assert (diffuse >= 0.2 - 1e-6).all()
    # the default range reaches large yaws
    cfg = replace(cfg, yaw_range=60.0)
    b = render_batch([sample_params(0, i, 16, 1) for i in range(24)], cfg)
    assert 45 < np.degrees(np.abs(b.view[:, 1])).max() <= 60 + 1e-4


def test_image_is_explained_by_stored_factors():
    """Re-rendering the stored canonical depth/albedo with the stored view and light reproduces
    the image (the data obeys the proxy's image formation) and exactly the stored depth."""
    s = 32
    cfg = SynthConfig(size=s, supersample=2, version=1)
    b = render_batch([sample_params(5, i, s, 2) for i in range(6)], cfg)
    out = rerender(b, s)
    mask = torch.from_numpy(b.mask).float()[:, None]
    inner = -F.max_pool2d(-F.pad(mask, (2, 2, 2, 2)), 5, stride=1)  # eroded by 2 pixels
    image = torch.from_numpy(b.image).permute(0, 3, 1, 2).float() / 255
    err = ((out.image + 1) / 2 - image).abs() * inner
    assert float(err.sum() / inner.sum() / 3) < 0.02
    both = (out.mask[:, 0] > 0) & (mask[:, 0] > 0)
    assert torch.equal(out.depth[both], torch.from_numpy(b.depth)[both])
    assert torch.equal(out.mask[:, 0] > 0, mask[:, 0] > 0)


def rerender(b, s: int):
    """The proxy's image formation applied to a SynthBatch's stored factors (canonical depth,
    albedo, light, view; faces only on the canonical mask) with a Renderer(s): RenderOutput."""
    r = Renderer(s)
    n = b.view.shape[0]
    cd, cm = torch.from_numpy(b.canon_depth), torch.from_numpy(b.canon_mask) > 0
    albedo = torch.from_numpy(b.canon_albedo).permute(0, 3, 1, 2).float() / 255
    raw = torch.from_numpy(b.light)
    d = torch.cat([raw[:, 2:], torch.ones(n, 1)], 1)
    light = Light(raw[:, 0], raw[:, 1], d / d.norm(dim=1, keepdim=True))
    canon_image, _ = shade(albedo * 2 - 1, r.normals(cd), light)
    return r.render(canon_image, cd, torch.from_numpy(b.view), faces=_mask_faces(r, cm))


def test_faces_look_like_faces_statistically():
    """Cheap sanity on the albedo: eyes and mouth are darker than the cheeks of the same face."""
    from l2r_cli.data.synth import canonical_albedo, ray_grid

    params = [sample_params(2, i, 64, 1) for i in range(8)]
    p, noise = _stack(params)
    u, v = ray_grid(64)
    albedo = canonical_albedo(p, noise, u, v, aa=0.03).mean(1)  # (B, H, W)
    L = layout(p)

    def at(cu, cv) -> torch.Tensor:
        col = ((cu.view(-1) + 1) * 31.5).round().long().clamp(0, 63)
        row = ((cv.view(-1) + 1) * 31.5).round().long().clamp(0, 63)
        return albedo[torch.arange(8), row, col]

    cu, cv = _eye_centres(p, 1)
    cheek = at(torch.full_like(cu, 0.42), cv + 0.3)
    assert (at(cu + p["gaze_x"], cv + p["gaze_y"]) < cheek).all()  # pupil
    assert (at(torch.zeros_like(cu), L["mouth_v"] + p["smile"] * 0) < cheek).all()


def test_overwrite_rules(tmp_path):
    root = _make(tmp_path / "d", n=2)
    with pytest.raises(L2RError, match="overwrite"):
        _make(root, n=2)
    _make(root, n=3, overwrite=True)
    assert sum(1 for _ in (root / "synface").rglob("*_image.png")) == 3
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(L2RError, match="did not make"):
        _make(foreign, n=2, overwrite=True)
    assert (foreign / "notes.txt").exists()


def test_bad_config_is_one_line_error(tmp_path):
    with pytest.raises(L2RError, match="yaw"):
        _make(tmp_path / "e", yaw_range=120)
    with pytest.raises(L2RError, match="splits"):
        _make(tmp_path / "e", splits=(0.0, 0.0, 0.0))


def test_cli_runs_and_reports(tmp_path):
    out = tmp_path / "cli"
    preview = tmp_path / "sheet.png"
    args = [str(out), "--n", "4", "--size", "16", "--seed", "7", "--supersample", "1"]
    res = CliRunner().invoke(synth_command, [*args, "--split", "2,1,1", "--preview", str(preview)])
    assert res.exit_code == 0, res.output
    assert "wrote 4 faces" in res.output
    assert {s: v.n for s, v in open_dataset(out).splits.items()} == {
        "train": 2,
        "val": 1,
        "test": 1,
    }
    assert Image.open(preview).size == (4 * 16, 4 * 16)
    source = json.loads((out / "manifest.json").read_text())["source"]
    assert source["args"]["seed"] == 7 and source["args"]["splits"] == [2.0, 1.0, 1.0]
    bad = CliRunner().invoke(synth_command, [str(tmp_path / "x"), "--split", "1,2"])
    assert bad.exit_code == 2 and "three" in bad.output


def test_cli_errors_through_main(tmp_path, l2r):
    out = tmp_path / "m"
    assert l2r("synth", out, "--n", "2", "--size", "16", "--supersample", "1").code == 0
    res = l2r("synth", out, "--n", "2", "--size", "16", "--supersample", "1")
    assert res.code == 2 and "--overwrite" in res.err and len(res.err.strip().splitlines()) == 1
    assert l2r("synth", "--help").code == 0
    # without its own --seed, synth takes the global one
    args = ("--n", "2", "--size", "16", "--supersample", "1")
    assert l2r("--seed", "5", "synth", tmp_path / "g", *args).code == 0
    assert l2r("synth", tmp_path / "s", "--seed", "5", *args).code == 0
    assert _pngs(tmp_path / "g") == _pngs(tmp_path / "s") != _pngs(out)


def test_yaw_sign_turns_the_nose():
    """Positive yaw (R = Ry about the pivot) turns the face to the image left: the nose tip,
    still the nearest point at moderate yaw, moves to -x (as in Unsup3D)."""
    cfg = SynthConfig(
        size=32,
        supersample=1,
        yaw_range=25,
        pitch_range=0,
        roll_range=0,
        xy_trans_range=0,
        version=1,
    )
    b = render_batch([sample_params(0, i, 32, 1) for i in range(8)], cfg)
    checked = 0
    for depth, view in zip(b.depth, b.view, strict=True):
        if abs(view[1]) > math.radians(10):
            col = np.unravel_index(np.argmin(depth), depth.shape)[1]
            assert np.sign(col - 15.5) == -np.sign(view[1])
            checked += 1
    assert checked >= 3
