"""Texture SSIM: analytic values, identities, a scipy reference, and `l2r benchmark texture`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from l2r_cli.benchmark.texture import gaussian_window, masked_ssim, ssim_map
from l2r_cli.models.stylegan2 import Generator, save_stylegan2
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
    assert (tmp_path / "rep" / "hist.png").is_file()
    assert "proxy + ARN" in r.out and "SSIM" in r.out and "(2)" in r.out
    res = json.loads(out.read_text())["results"]
    assert [x["n"] for x in res] == [4, 4]
    assert all(len(x["per_image"]["ssim"]) == 4 for x in res)
    assert abs(sum(res[1]["per_image"]["ssim"]) / 4 - res[1]["ssim_mean"]) < 1e-5
    assert res[0]["name"].startswith("proxy (") and res[1]["name"].startswith("proxy + ARN")
    assert all(-1 < x["ssim_mean"] < 1 for x in res)
    r = l2r("benchmark", "texture", "--data", inp["data"], inp["proxy"], "--json", out)
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
