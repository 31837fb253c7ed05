"""Texture SSIM: analytic values, identities, a scipy reference, the ground-truth face mask, and
`l2r benchmark texture`; its HF ratio on the same mask (known answers: tests/test_metrics.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from l2r_cli.benchmark.texture import (
    evaluate_texture,
    gaussian_window,
    gt_face_mask,
    mask_source,
    masked_ssim,
    ssim_map,
)
from l2r_cli.data.dataset import DatasetWriter, FieldSpec
from l2r_cli.errors import L2RError
from l2r_cli.models.stylegan2 import Generator
from l2r_cli.models.stylegan2_io import save_stylegan2
from tests.stages.test_arn_stage import TINY_ARN, TINY_G, make_lq_dataset, make_proxy_ckpt


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.3, 0.7
    x = torch.full((1, 3, 16, 16), a, dtype=torch.float64)
    y = torch.full((1, 3, 16, 16), b, dtype=torch.float64)
    c1 = 0.01**2
    want = (2 * a * b + c1) / (a * a + b * b + c1)  # contrast/structure terms are c2/c2 = 1
    m = ssim_map(x, y)
    assert m.shape == (1, 6, 6)
    torch.testing.assert_close(m, torch.full_like(m, want))


def test_ssim_identity_symmetry_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    torch.testing.assert_close(ssim_map(x, x), torch.ones(2, 14, 14, dtype=torch.float64))
    torch.testing.assert_close(ssim_map(x, y), ssim_map(y, x))
    s = ssim_map(x, y)
    assert (s < 1).all() and (s > -1).all()
    torch.testing.assert_close(gaussian_window().sum(), torch.tensor(1.0))


def test_ssim_matches_a_scipy_gaussian_filter_reference():
    rng = np.random.default_rng(1)
    x = rng.random((20, 22))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)

    def f(a):  # sigma 1.5, radius int(3.5 * 1.5 + 0.5) = 5: the 11-tap window
        return gaussian_filter(a, 1.5, truncate=3.5)[5:-5, 5:-5]

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    want = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    got = ssim_map(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None])[0]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-10)


def test_masked_ssim_averages_over_the_cropped_mask():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 20, 20, generator=g, dtype=torch.float64)
    y = torch.rand(1, 3, 20, 20, generator=g, dtype=torch.float64)
    mask = torch.zeros(1, 1, 20, 20, dtype=torch.float64)
    mask[..., 5:9, 7:10] = 1
    want = ssim_map(x, y)[0, 0:4, 2:5].mean()
    torch.testing.assert_close(masked_ssim(x, y, mask)[0], want)
    assert torch.isnan(masked_ssim(x, y, torch.zeros_like(mask))).all()


def test_mask_source_prefers_the_mask_field_then_the_depth():
    assert mask_source({"image": 0, "lq": 0, "depth": 0, "mask": 0}) == "gt"
    assert mask_source(("image", "lq", "depth")) == "gt-depth"
    assert mask_source(("image", "lq")) == "render"


def test_gt_face_mask_hand_values():
    # depth 4x4: background 1.1 (the per-image maximum), face values below it in rows/cols 1-2
    depth = torch.full((1, 4, 4), 1.1)
    depth[0, 1:3, 1:3] = torch.tensor([[1.0, 1.05], [1.02, 1.09]])
    want = torch.zeros(1, 1, 4, 4)
    want[..., 1:3, 1:3] = 1
    torch.testing.assert_close(gt_face_mask(depth, "gt-depth", 4), want)
    # 4 -> 8 nearest: each pixel becomes a 2x2 block, the face rows/cols 2-5 (16 pixels)
    big = gt_face_mask(depth, "gt-depth", 8)
    want_big = torch.zeros(1, 1, 8, 8)
    want_big[..., 2:6, 2:6] = 1
    assert torch.equal(big, want_big)
    # 8 -> 4 nearest samples the source pixels 1, 3, 5, 7: back to rows/cols 1-2
    torch.testing.assert_close(gt_face_mask(big[:, 0], "gt", 4), want)
    # a second image keeps its own maximum; a constant depth has no face pixel
    two = torch.stack([depth[0], torch.full((4, 4), 0.9)])
    assert gt_face_mask(two, "gt-depth", 4).flatten(1).sum(1).tolist() == [4.0, 0.0]


def test_masked_ssim_ignores_gt_pixels_beyond_the_window_around_the_face_mask():
    # Face: an 8x8 square (rows/cols 12-19) of a 32x32 depth map. The 11x11 window of a face
    # pixel reaches 5 pixels out, to rows/cols 7-24: pixels beyond that cannot change the SSIM
    # averaged over the face mask.
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 32, 32, generator=g, dtype=torch.float64)
    depth = torch.full((1, 32, 32), 1.1, dtype=torch.float64)
    depth[:, 12:20, 12:20] = 1.0
    face = gt_face_mask(depth, "gt-depth", 32)
    whole = torch.ones_like(face)
    # identical images: SSIM 1 on any mask
    assert masked_ssim(x, x, face).item() == pytest.approx(1.0, abs=1e-12)
    # differ only outside rows/cols 7-24 (rows 5, 6, 25, 26 are still inside the SSIM map)
    y = torch.rand(x.shape, generator=g, dtype=torch.float64)
    y[..., 7:25, 7:25] = x[..., 7:25, 7:25]
    assert masked_ssim(x, y, face).item() == pytest.approx(1.0, abs=1e-12)
    assert masked_ssim(x, y, whole).item() < 0.9


# Scored at 64 px: a face square in rows/cols 16-47 (GT depth), a smaller one in 24-39 (GT mask).
SIZE = 64
DEPTH_FACE = slice(16, 48)
MASK_FACE = slice(24, 40)


def _render_of(proxy_path, lq: np.ndarray) -> np.ndarray:
    """The proxy's render of lq (N, h, h, 3) uint8 at SIZE as uint8, as the benchmark makes it."""
    from l2r_cli.benchmark.texture import _resize
    from l2r_cli.stages.arn import load_frozen_proxy

    proxy = load_frozen_proxy(proxy_path, "cpu")
    lq0 = torch.from_numpy(lq).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        r = proxy.render(proxy.factors(_resize(lq0, proxy.cfg.image_size) * 2 - 1), flip=False)
    img = (_resize(r.recon_image, SIZE) / 2 + 0.5).clamp(0, 1)
    return (img.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def _write(root, images, lq, depth=None, mask=None):
    fields = {"lq": FieldSpec(lq.shape[1:], "uint8")}
    if depth is not None:
        fields["depth"] = FieldSpec((SIZE, SIZE), "float32")
    if mask is not None:
        fields["mask"] = FieldSpec((SIZE, SIZE), "uint8")
    with DatasetWriter(root, image_size=SIZE, fields=fields, source={"generator": "test"}) as w:
        for i in range(len(images)):
            sample = {"image": images[i], "lq": lq[i]}
            if depth is not None:
                sample["depth"] = depth
            if mask is not None:
                sample["mask"] = mask
            w.append("test", sample)
    return root


def test_texture_ssim_is_taken_on_the_ground_truth_face_mask(tmp_path):
    proxy = make_proxy_ckpt(tmp_path / "proxy.pt")
    rng = np.random.default_rng(0)
    lq = rng.integers(0, 256, (2, 1, 16, 16, 3), dtype=np.uint8)
    render = _render_of(proxy, lq[:, 0])
    noise = rng.integers(0, 256, render.shape, dtype=np.uint8)
    depth = np.full((SIZE, SIZE), 1.1, np.float32)
    depth[DEPTH_FACE, DEPTH_FACE] = 1.0
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[MASK_FACE, MASK_FACE] = 1

    def keep_near(face: slice) -> np.ndarray:
        """The render within 5 px (the SSIM window's reach) of the face square, noise beyond."""
        out = noise.copy()
        near = slice(face.start - 5, face.stop + 5)
        out[:, near, near] = render[:, near, near]
        return out

    def score(name, images, **maps):
        (res,) = evaluate_texture(proxy, _write(tmp_path / name, images, lq, **maps))
        return res

    # GT depth (no mask field): the GT image is the render itself (SSIM ~ 1, up to uint8
    # rounding), and changing the GT beyond 5 px from the depth's face changes nothing.
    same = score("same", render, depth=depth)
    far = score("far", keep_near(DEPTH_FACE), depth=depth)
    assert same.mask == far.mask == "gt-depth" and same.label == "SSIM (GT-depth mask)"
    assert (same.ssim > 0.95).all()
    np.testing.assert_allclose(far.ssim, same.ssim, rtol=0, atol=1e-12)
    # the render against itself has the truth's detail: HF ratio 1 (up to uint8 rounding), and
    # noise beyond the mask's reach (1 px for the Laplacian) does not count either
    np.testing.assert_allclose(same.hf_ratio, 1, atol=0.02)
    np.testing.assert_allclose(far.hf_ratio, same.hf_ratio, rtol=0, atol=1e-12)
    # against a blurred GT the render has more detail than the truth: ratio well above 1
    soft = gaussian_filter(render.astype(float), (0, 1.5, 1.5, 0)).round().astype(np.uint8)
    assert (score("soft", soft, depth=depth).hf_ratio > 2).all()
    # A mask field wins over the depth: noise inside the depth's face but beyond 5 px of the
    # mask's changes nothing either.
    same = score("same_m", render, depth=depth, mask=mask)
    far = score("far_m", keep_near(MASK_FACE), depth=depth, mask=mask)
    assert same.mask == far.mask == "gt" and far.summary()["mask"] == "gt"
    np.testing.assert_allclose(far.ssim, same.ssim, rtol=0, atol=1e-12)
    # Without either the render mask stands in, and the result says so.
    plain = score("plain", render)
    assert plain.mask == "render" and plain.label == "SSIM (render mask)"
    # A GT face with no pixel to score is an error, not a NaN.
    with pytest.raises(L2RError, match="gt-depth face-mask"):
        score("flat", render, depth=np.full((SIZE, SIZE), 1.0, np.float32))
    # ... and so is a GT image without any detail to compare the HF ratio with
    with pytest.raises(L2RError, match="flat on its gt-depth face-mask"):
        score("grey", np.full_like(render, 128), depth=depth)


@pytest.fixture
def tex_inputs(tmp_path):
    torch.manual_seed(1)
    save_stylegan2(tmp_path / "prior.pt", Generator(TINY_G), latent_avg=torch.zeros(16))
    return {
        "data": make_lq_dataset(tmp_path / "ds"),
        "proxy": make_proxy_ckpt(tmp_path / "proxy.pt"),
        "prior": tmp_path / "prior.pt",
    }


def test_benchmark_texture_on_smoke_checkpoints(l2r, tmp_path, tex_inputs):
    inp = tex_inputs
    run = tmp_path / "arn"
    r = l2r("train-arn", "--data", inp["data"], "--proxy", inp["proxy"], "--prior", inp["prior"],
            *TINY_ARN, "--out", run, "--max-steps", "2")  # fmt: skip
    assert r.code == 0, r.err
    out = tmp_path / "tex.json"
    r = l2r("benchmark", "texture", "--data", inp["data"], "--ckpt", run, "--json", out,
            "--report", tmp_path / "rep", "--compare")  # fmt: skip
    assert r.code == 0, r.err
    report = (tmp_path / "rep" / "report.md").read_text()
    for row in json.loads(out.read_text())["results"]:
        assert f"{row['ssim_mean']:.4f} ± {row['ssim_std']:.4f}" in report
        assert f"{row['hf_ratio_mean']:.3f} ± {row['hf_ratio_std']:.3f}" in report
        assert len(row["per_image"]["hf_ratio"]) == row["n"] and row["hf_ratio_mean"] > 0
    assert "HF ratio (1 = GT)" in report
    assert (tmp_path / "rep" / "hist.png").is_file()
    assert "proxy + ARN" in r.out and "SSIM" in r.out and "(2)" in r.out
    res = json.loads(out.read_text())["results"]
    assert [x["n"] for x in res] == [4, 4]
    assert all(len(x["per_image"]["ssim"]) == 4 for x in res)
    assert abs(sum(res[1]["per_image"]["ssim"]) / 4 - res[1]["ssim_mean"]) < 1e-5
    assert res[0]["name"].startswith("proxy (") and res[1]["name"].startswith("proxy + ARN")
    assert all(-1 < x["ssim_mean"] < 1 for x in res)
    assert [x["mask"] for x in res] == ["gt-depth"] * 2  # the dataset has GT depth
    r = l2r("benchmark", "texture", "--data", inp["data"], inp["proxy"], "--input", "lq",
            "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    from_lq = json.loads(out.read_text())["results"]
    assert len(from_lq) == 1
    r = l2r("benchmark", "texture", "--data", inp["data"], inp["proxy"], "--input", "image",
            "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    from_gt = json.loads(out.read_text())
    assert from_gt["input"] == "image"
    # the original images give the proxy other inputs, hence other renders and scores
    assert from_gt["results"][0]["ssim_mean"] != from_lq[0]["ssim_mean"]
    r = l2r("benchmark", "texture", "--data", inp["data"])
    assert r.code == 2 and "at least one checkpoint" in r.err
    r = l2r("benchmark", "texture", "--data", inp["data"], "--ckpt", inp["prior"])
    assert r.code != 0 and len(r.err.strip().splitlines()) == 1


def test_a_changed_prior_file_is_refused(l2r, tmp_path, tex_inputs):
    inp = tex_inputs
    run = tmp_path / "arn"
    r = l2r("train-arn", "--data", inp["data"], "--proxy", inp["proxy"], "--prior", inp["prior"],
            *TINY_ARN, "--out", run, "--max-steps", "1")  # fmt: skip
    assert r.code == 0, r.err
    torch.manual_seed(2)
    save_stylegan2(inp["prior"], Generator(TINY_G), latent_avg=torch.zeros(16))
    r = l2r("benchmark", "texture", "--data", inp["data"], "--ckpt", run)
    assert r.code != 0 and "changed" in r.err and len(r.err.strip().splitlines()) == 1
