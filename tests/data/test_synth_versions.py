"""l2r synth versions: version 1 reproduces the original faces bit for bit (golden hashes recorded
from the generator before version 2 existed); version 2's measures and fields."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2r_cli.data.dataset import open_dataset
from l2r_cli.data.face_template import param_mean
from l2r_cli.data.face_template_v2 import NEUTRAL_P, TRUNC, param_mean_v2, value_from_uniform
from l2r_cli.data.schema import field_kind
from l2r_cli.data.synth import SynthConfig, generate, render_batch, sample_params
from l2r_cli.data.synth_v2_shape import shape_variety
from l2r_cli.errors import L2RError
from tests.data.test_synth import rerender

# sha256 of every field of every split (names joined by newlines) and of every synface PNG of
# `l2r synth OUT --n 6 --size 32 --seed 0`, made by the generator before version 2 was added.
GOLDEN_V1 = {
    "train/canon_albedo": "269b9ef6d65d81a6df670a193c1f9464abfa8149ae13b1e1ef1ea0389447dc09",
    "train/canon_depth": "7089d162bf283dd9fd93a508877eb0a2bdea62029c2f76f9f19e866c04d608a4",
    "train/canon_mask": "fc7e88190484d78276e71154ed8891231bf3f7103608c16da3921cc9ad2d9cbb",
    "train/depth": "3b817b73ac6dce6f7b181999d3fc2223785ae080d297b5d14802b3f4f00dd6cd",
    "train/image": "7c67ae7ee34236824a00d000ddf47689f40e62c35cd3d4c9d011568b8f6494b4",
    "train/light": "bb9e9cd87aa80154a3d04935a29bb6530ecfb1871503aa80ef8e929d5d64c92f",
    "train/mask": "963f678f0fbf4ad795287e155533497cd304ba30dbe31a093b22f734167dd5fa",
    "train/name": "d2ce80d806f47037230e2496c68f467ab88cb57208d25cb8191a5a16be8a4ae1",
    "train/view": "d0a85071ea8c2a7b5c10f005c0d11cbb4daaf9ee0a2a8a395480c3ed5ba91f65",
    "val/canon_albedo": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/canon_depth": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/canon_mask": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/depth": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/image": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/light": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/mask": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/name": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "val/view": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "test/canon_albedo": "5d4b1f5c4276e3d92770e8df1d017b7e7bb81dd75a51f680e364be7d918633c9",
    "test/canon_depth": "f85604792fdb096aa464045b9d6cc0ec65ce8aa51842050a6d93584ef821a6ba",
    "test/canon_mask": "f31eecf39cb1a9a577de4b43063d586c307413f2dace58bd3807c956f4c51c43",
    "test/depth": "e7867a59c8c2ae183b346a5cf59d4f3a2cf1579cede201752bb7123c9e0ff167",
    "test/image": "aa149febe8cbe7f4360954e6a565de314f1fb5898a0ed79c1a360d58962cd238",
    "test/light": "a541e6d22e29a0e96f5aba2702bd70f4dda59e95e97ca2bc6a5f5a8accf4668f",
    "test/mask": "c69d9bc2f5850bb393af40dee72b0cacf96dfa3c153a79a970accb581c73343c",
    "test/name": "da5fd72f957f98e2c456d54b4288e7bece4ca62114c17d866b4a4e1260df064f",
    "test/view": "39525950d67a964ada68f309bf6d3e1fc7cd9c4e5e2589aa551baf7170b10a36",
    "synface/test/depth/000005_depth.png": (
        "b8f2a7562b7b23a2528b902a24bbe015ee5c1b585d39b06cb9f41398fdad34f5"
    ),
    "synface/test/image/000005_image.png": (
        "365bf9ebe925e811eaf23c6159f595aba3de5e4c3e3f0acf9ed14a209e21df11"
    ),
    "synface/train/depth/000000_depth.png": (
        "cb4f8e122ad51e6dcbbe44baae00091b60ce608eb6057397ab1594cdacc58445"
    ),
    "synface/train/depth/000001_depth.png": (
        "43e57b9f18bfdcdccbe7e01bd18aca202c7decf9977473b0d385b4ecc660e04b"
    ),
    "synface/train/depth/000002_depth.png": (
        "ef3d52a2ac96173722efa6304711555462bca2d3c61e923a566aec4bdca05ccf"
    ),
    "synface/train/depth/000003_depth.png": (
        "4b34ddc2347bfcba67bac52e48f22c9f0b24b01f874a52646065092cf3a7c2d9"
    ),
    "synface/train/depth/000004_depth.png": (
        "a720d1fa210cdc916e829130dce5b9267becac1384be2f963d27bf3c6e81b083"
    ),
    "synface/train/image/000000_image.png": (
        "9a8eb51d93205d893d7362d82efc3a80e11bb4165470b7e8449bdada522d7aaf"
    ),
    "synface/train/image/000001_image.png": (
        "afc2525938574e66fcad8503b21c97d65f1844261531474de99919416e57afc4"
    ),
    "synface/train/image/000002_image.png": (
        "58fc40bc763531fab5b11e0d507500ee9399ef10e24a7021c96d32bd970ff14b"
    ),
    "synface/train/image/000003_image.png": (
        "8f08a9f17f5f2f2f7becd1352af9408e90f32f71531f9b8ef4839926e8fb2aff"
    ),
    "synface/train/image/000004_image.png": (
        "c3ee740b0a28b929ba1a58c9c12531ab5ae4eb048540281042678a0530db78c9"
    ),
}


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every array of every split file and of every synface PNG under ``root``."""
    out = {}
    for split in ("train", "val", "test"):
        with h5py.File(root / f"{split}.h5", "r") as f:
            for name in sorted(f.keys()):
                a = f[name][()]
                if a.dtype.kind in "OS":
                    data = "\n".join(x.decode() if isinstance(x, bytes) else x for x in a)
                    data = data.encode()
                else:
                    data = a.tobytes()
                out[f"{split}/{name}"] = hashlib.sha256(data).hexdigest()
    for p in sorted((root / "synface").rglob("*.png")):
        out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_version_1_config_reproduces_golden_bytes(tmp_path):
    generate(SynthConfig(out=str(tmp_path / "v1"), n=6, size=32, seed=0, version=1))
    assert _hashes(tmp_path / "v1") == GOLDEN_V1


def test_version_1_cli_reproduces_golden_bytes(tmp_path, l2r):
    out = tmp_path / "cli"
    res = l2r("synth", out, "--n", "6", "--size", "32", "--seed", "0", "--version", "1")
    assert res.code == 0, res.err
    assert _hashes(out) == GOLDEN_V1


# -- version 2 ------------------------------------------------------------------------------------

V2_FIELDS = ("detail_depth", "occluder_mask", "light_color", "expression", "shape_modes")


def _canonical(version: int, n: int = 16, size: int = 32):
    from l2r_cli.data.synth import _stack, canonical_depth, ray_grid, sample_params
    from l2r_cli.data.synth_v2_shape import canonical_depth_v2

    p, noise = _stack([sample_params(1, i, size, 1, version) for i in range(n)])
    u, v = ray_grid(size)
    if version == 1:
        depth, mask = canonical_depth(p, u, v)
        return depth.numpy(), np.zeros_like(depth.numpy()), mask.numpy()
    depth, detail, mask = canonical_depth_v2(p, noise, u, v)
    return depth.numpy(), detail.numpy(), mask.numpy()


def test_shape_variety_known_answers():
    rng = np.random.default_rng(0)
    face = 1 + 0.05 * rng.standard_normal((8, 8))
    masks = np.ones((3, 8, 8), dtype=np.uint8)
    masks[1, 0, 0] = 0  # only pixels inside every mask count
    same = np.stack([face] * 3)
    assert shape_variety(same, masks) == pytest.approx(0, abs=1e-12)
    scaled = np.stack([face, 2 * face + 0.1, 0.5 * face - 0.02])
    assert shape_variety(scaled, masks) == pytest.approx(0, abs=1e-12)
    other = np.stack([face, face + 0.01 * rng.standard_normal((8, 8)), face])
    assert shape_variety(other, masks) > 1e-3
    with pytest.raises(L2RError, match="common"):
        shape_variety(same, np.zeros_like(masks))
    with pytest.raises(L2RError, match="N >= 2"):
        shape_variety(face[None], masks[:1])


def test_version_2_faces_vary_more_than_version_1():
    d1, _, m1 = _canonical(1)
    d2, detail, m2 = _canonical(2)
    v1, v2 = shape_variety(d1, m1), shape_variety(d2, m2)
    assert v2 > 1.5 * v1, (v1, v2)
    # the detail layer is a small, fine part of the depth: a few % of its variance over the face
    share = [detail[i][m2[i]].var() / d2[i][m2[i]].var() for i in range(len(d2))]
    assert 0 < np.mean(share) < 0.1
    # and an 8x box degradation removes most of it
    det = torch.from_numpy(detail)[:, None]
    low = F.interpolate(F.avg_pool2d(det, 8), scale_factor=8, mode="bilinear")
    assert float((det - low).var()) > 0.5 * float(det.var())


def test_version_2_layout_means_keep_the_crop_convention():
    for name in ("eye_x", "eye_v", "nose_len", "mouth_gap", "mouth_dv", "head_cy", "head_a"):
        assert param_mean_v2(name) == pytest.approx(param_mean(name), abs=1e-9), name
    assert param_mean_v2("head_b") == pytest.approx(param_mean("head_b"))
    # truncated normals: the median is the mean, the ends are +-TRUNC standard deviations
    assert value_from_uniform("n", 0.3, 0.1, 0.5) == pytest.approx(0.3, abs=1e-9)
    assert value_from_uniform("n", 0.3, 0.1, 0.0) == pytest.approx(0.3 - TRUNC * 0.1, abs=1e-6)
    assert value_from_uniform("n", 0.3, 0.1, 1.0) == pytest.approx(0.3 + TRUNC * 0.1, abs=1e-6)


def test_version_2_expressions_are_neutral_with_their_probability():
    from l2r_cli.data.synth import sample_params

    draws = [sample_params(2, i, 8, 1, 2).values for i in range(300)]
    for short, name in (("mouth", "mouth_open"), ("smile", "smile"), ("brow", "brow_raise")):
        neutral = np.mean([d[f"{short}_e"] == 0 for d in draws])
        assert abs(neutral - NEUTRAL_P[name]) < 0.1, (name, neutral)
        assert max(d[f"{short}_e"] for d in draws) <= 1.0


def test_version_2_image_is_explained_by_stored_factors_outside_occluders():
    s = 32
    cfg = SynthConfig(size=s, supersample=2, version=2)
    b = render_batch([sample_params(5, i, s, 2, 2) for i in range(8)], cfg)
    out = rerender(b, s)
    tint = torch.from_numpy(b.light_color).view(8, 3, 1, 1)
    mask = torch.from_numpy(b.mask).float()[:, None]
    occ = torch.from_numpy(b.occluder_mask).float()[:, None]
    occ = F.max_pool2d(occ, 5, stride=1, padding=2)  # dilated by 2 pixels
    inner = -F.max_pool2d(-F.pad(mask, (2, 2, 2, 2)), 5, stride=1) * (1 - occ)
    image = torch.from_numpy(b.image).permute(0, 3, 1, 2).float() / 255
    err = ((out.image + 1) / 2 * tint - image).abs() * inner
    assert float(err.sum() / inner.sum() / 3) < 0.03
    both = (out.mask[:, 0] > 0) & (mask[:, 0] > 0)
    assert torch.equal(out.depth[both], torch.from_numpy(b.depth)[both])
    # the stored detail layer is part of the canonical depth, zero off the mask
    assert (b.detail_depth[b.canon_mask == 0] == 0).all()
    assert np.abs(b.detail_depth).max() < 0.01


def test_version_2_dataset_fields_and_manifest(tmp_path):
    out = tmp_path / "v2"
    generate(SynthConfig(out=str(out), n=4, size=16, supersample=1, seed=1))
    source = json.loads((out / "manifest.json").read_text())["source"]
    assert source["version"] == 2 and source["args"]["version"] == 2
    info = open_dataset(out)
    fields = info.splits["train"].fields
    assert field_kind("detail_depth", fields["detail_depth"]) == "depth"
    assert field_kind("occluder_mask", fields["occluder_mask"]) == "mask"
    with h5py.File(out / "train.h5", "r") as f:
        for name in V2_FIELDS:
            assert name in f, name
        assert f["expression"].shape[1:] == (4,) and f["light_color"].shape[1:] == (3,)
        assert ((f["light_color"][()] > 0) & (f["light_color"][()] <= 1)).all()
        assert set(np.unique(f["occluder_mask"][()])) <= {0, 1}


def test_version_errors_are_one_line(tmp_path, l2r):
    with pytest.raises(L2RError, match="version"):
        generate(SynthConfig(out=str(tmp_path / "x"), n=2, size=16, version=3))
    with pytest.raises(L2RError, match="version"):
        render_batch([sample_params(0, 0, 16, 1, 1)], SynthConfig(size=16, supersample=1))
    res = l2r("synth", tmp_path / "y", "--n", "2", "--version", "3")
    assert res.code == 2 and "--version" in res.err and "1<=x<=2" in res.err
