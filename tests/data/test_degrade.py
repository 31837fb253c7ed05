"""The degradation model: shapes, ranges, determinism and each operation against a reference."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import correlate

from l2r_cli.data.degrade import (
    DOWN_FILTERS,
    PARAM_NAMES,
    DegradeConfig,
    _interp_taps,
    _Spectrum,
    degrade,
    degrade_one,
    downsample,
    gaussian_kernel,
    jpeg_roundtrip,
    sample_params,
    variant_rngs,
)

SMALL = DegradeConfig(gt_size=64, lq_size=16, variants=3)


def _image(size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_shapes_dtypes_and_parameter_vector():
    lq, params = degrade(_image(), SMALL, variant_rngs(0, b"a.png", 3))
    assert lq.shape == (3, 16, 16, 3) and lq.dtype == np.uint8
    assert params.shape == (3, len(PARAM_NAMES)) and params.dtype == np.float32
    p = dict(zip(PARAM_NAMES, params[0], strict=True))
    assert p["scale"] == 4 and p["kernel_size"] == SMALL.kernel_px
    one, vec = degrade_one(_image(), SMALL, variant_rngs(0, b"a.png", 1)[0])
    np.testing.assert_array_equal(one, lq[0])
    np.testing.assert_array_equal(vec, params[0])


def test_same_seed_and_key_same_bytes_variants_independent_of_k():
    img = _image()
    a, pa = degrade(img, SMALL, variant_rngs(7, "dir/é.png".encode(), 3))
    b, pb = degrade(img, SMALL, variant_rngs(7, "dir/é.png".encode(), 3))
    assert a.tobytes() == b.tobytes() and pa.tobytes() == pb.tobytes()
    five = replace(SMALL, variants=5)
    c, pc = degrade(img, five, variant_rngs(7, "dir/é.png".encode(), 5))
    np.testing.assert_array_equal(c[:3], a)  # adding variants keeps the first ones
    np.testing.assert_array_equal(pc[:3], pa)
    d, _ = degrade(img, SMALL, variant_rngs(8, "dir/é.png".encode(), 3))
    e, _ = degrade(img, SMALL, variant_rngs(7, b"dir/e.png", 3))
    assert not np.array_equal(a, d) and not np.array_equal(a, e)


def test_parameters_stay_in_their_ranges_and_cover_them():
    cfg = DegradeConfig()
    ps = [sample_params(cfg, r) for r in variant_rngs(0, b"x", 400)]
    sig = np.array([[p.sigma_x, p.sigma_y] for p in ps])
    assert sig.min() >= 0.1 and sig.max() <= 10.0 and sig.max() > 9 and sig.min() < 0.5
    assert {p.kernel for p in ps} == {0, 1}
    assert all(p.sigma_x == p.sigma_y and p.theta == 0 for p in ps if p.kernel == 0)
    assert all(0 <= p.theta < math.pi for p in ps)
    assert {p.down_filter for p in ps} == {0, 1, 2}
    q = [p.jpeg_quality for p in ps]
    assert min(q) == 60 and max(q) == 100
    noise = [p.noise_sigma for p in ps]
    assert 0 <= min(noise) < 1 and 14 < max(noise) <= 15
    # Sigmas scale with the GT size (a 64-pixel GT is a quarter of the reference 256).
    small = [sample_params(SMALL, r) for r in variant_rngs(0, b"x", 50)]
    assert max(p.sigma_x for p in small) <= 2.5


def test_kernel_normalised_symmetric_and_oriented():
    k = gaussian_kernel(3.0, 3.0, 0.0, 21)
    assert k.shape == (21, 21) and abs(k.sum() - 1) < 1e-12
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    wide = gaussian_kernel(4.0, 1.0, 0.0, 21)  # long along x
    assert wide[10].sum() > wide[:, 10].sum()
    turned = gaussian_kernel(4.0, 1.0, math.pi / 2, 21)  # long along y
    np.testing.assert_allclose(turned, wide.T, atol=1e-12)


def test_fft_blur_equals_direct_correlation_with_reflection():
    img = _image(48)
    k = gaussian_kernel(2.5, 1.2, 0.6, 11)
    out = _Spectrum(img, 5).blur(k)
    ref = np.stack([correlate(img[..., c].astype(np.float64), k, mode="mirror") for c in range(3)])
    assert out.shape == (3, 48, 48)
    np.testing.assert_allclose(out, ref, atol=1e-3)


def test_downsampling_filters():
    x = np.random.default_rng(1).random((3, 32, 32)).astype(np.float32)
    area = downsample(x, 4, "area")
    np.testing.assert_allclose(area[:, 1, 2], x[:, 8:16, 16:24].mean(axis=(1, 2)), rtol=1e-5)
    # factor 8, align_corners=False: each output centre falls half-way between pixels 3 and 4
    bil = downsample(x, 4, "bilinear")
    np.testing.assert_allclose(bil[:, 0, 0], x[:, 3:5, 3:5].mean(axis=(1, 2)), rtol=1e-5)
    for cubic in (False, True):
        idx, w = _interp_taps(32, 4, cubic)
        np.testing.assert_allclose(w.sum(0), 1, atol=1e-6)
        assert idx.min() >= 0 and idx.max() < 32
    flat = np.full((3, 32, 32), 7.0, np.float32)
    for f in DOWN_FILTERS:
        np.testing.assert_allclose(downsample(flat, 4, f), 7.0, rtol=1e-6)


def test_jpeg_roundtrip_loses_more_at_low_quality():
    img = _image(32)
    err = {q: np.abs(jpeg_roundtrip(img, q).astype(int) - img).mean() for q in (60, 100)}
    assert jpeg_roundtrip(img, 80).shape == (32, 32, 3)
    assert err[100] < err[60]


def test_mildest_degradation_is_close_to_area_downsampling():
    cfg = replace(
        SMALL,
        sigma_range=(0.1, 0.1),
        down_filters=("area",),
        noise_range=(0.0, 0.0),
        jpeg_range=(100, 100),
    )
    y = np.linspace(0, 255, 64)
    grey = (y[:, None] + y[None, :]) / 2  # grey: no error from JPEG's chroma subsampling
    img = np.repeat(grey[..., None], 3, axis=2).astype(np.uint8)
    lq, params = degrade(img, cfg, variant_rngs(0, b"k", 2))
    ref = img.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))
    assert np.abs(lq[0].astype(float) - ref).max() < 4
    assert (params[:, PARAM_NAMES.index("noise_sigma")] == 0).all()


@pytest.mark.parametrize(
    "kw",
    [
        {"gt_size": 100, "lq_size": 32},
        {"lq_size": 2},
        {"variants": 0},
        {"sigma_range": (0.0, 1.0)},
        {"kernel_size": 40},
        {"down_filters": ("nearest",)},
        {"noise_range": (5.0, 1.0)},
        {"jpeg_range": (50, 101)},
    ],
)
def test_invalid_configs_are_refused(kw):
    with pytest.raises(ValueError):
        DegradeConfig(**kw)


def test_wrong_image_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        degrade(_image(32), SMALL, variant_rngs(0, b"", 1))
