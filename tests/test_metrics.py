"""SIDE, MAD and the BFM mask against hand-computed cases."""

import math

import pytest
import torch

from l2r_cli.metrics import bfm_mask, erode, mad, side
from l2r_cli.render import Renderer


def test_side_is_scale_invariant_and_hand_value():
    gt = 1 + 0.05 * torch.rand(1, 8, 8)
    mask = torch.ones(1, 8, 8)
    assert side(gt * 1.07, gt, mask).item() < 1e-6
    # log-difference 0 on half the pixels and log(2) on the other half: std = log(2)/2.
    pred = gt.clone()
    pred[..., :4] *= 2
    assert abs(side(pred, gt, mask).item() - math.log(2) / 2) < 1e-6
    # Masked-out pixels do not count.
    m2 = mask.clone()
    m2[..., :4] = 0
    assert side(pred, gt, m2).item() < 1e-6


def test_mad_tilted_plane():
    r = Renderer(16)
    flat = torch.ones(1, 16, 16)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    n_flat = r.normals(flat)
    n = n_flat.clone()
    ang = math.radians(30)
    n[...] = torch.tensor([math.sin(ang), 0.0, math.cos(ang)])
    mask = torch.ones(1, 16, 16)
    assert abs(mad(n, n_flat, mask).item() - 30.0) < 1e-3
    assert mad(n_flat, n_flat, mask).item() < 1e-3


def test_bfm_mask_excludes_background_and_erodes():
    gt = torch.full((1, 10, 10), 1.1)
    gt[:, 2:8, 2:8] = 1.0  # a 6x6 face on the max-depth background
    m = bfm_mask(gt, torch.ones(1, 10, 10))
    assert m.sum() == 16 and m[0, 3:7, 3:7].all()
    assert erode(torch.ones(1, 5, 5)).sum() == 9  # borders count as outside


def test_normal_accuracy_hand_values():
    import math

    from l2r_cli.metrics import normal_accuracy

    # four pixels at 0, 22, 27 and 40 degrees from the GT normal (0, 0, 1), one masked pixel
    angles = [0.0, 22.0, 27.0, 40.0, 80.0]
    pred = torch.tensor(
        [[[math.sin(math.radians(a)), 0.0, math.cos(math.radians(a))] for a in angles]]
    )
    gt = torch.tensor([[[0.0, 0.0, 1.0]] * 5])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    out = normal_accuracy(pred, gt, mask)
    assert out["mad"].item() == pytest.approx(22.25, abs=1e-3)
    assert out["under_20"].item() == pytest.approx(0.25)
    assert out["under_25"].item() == pytest.approx(0.5)
    assert out["under_30"].item() == pytest.approx(0.75)


def test_keypoint_depth_correlation_hand_values():
    from l2r_cli.metrics import keypoint_depth_correlation

    # keypoint 0: gt = 2 * pred (r = 1); keypoint 1: deviations (-1, 0, 1) vs (1, -1, 0):
    # cov -1, variances 2 and 2 -> r = -0.5; keypoint 2: constant GT -> 0
    pred = torch.tensor([[1.0, 1.0, 5.0], [2.0, 2.0, 6.0], [3.0, 3.0, 7.0]])
    gt = torch.tensor([[2.0, 3.0, 1.0], [4.0, 1.0, 1.0], [6.0, 2.0, 1.0]])
    r = keypoint_depth_correlation(pred, gt)
    torch.testing.assert_close(r, torch.tensor([1.0, 0.5, 0.0]))
    assert r.sum().item() == pytest.approx(1.5)
    with pytest.raises(ValueError):
        keypoint_depth_correlation(pred[:1], gt[:1])


def test_cross_view_identity_hand_value():
    import math

    from l2r_cli.metrics import cross_view_identity

    orig = torch.tensor([[2.0, 0.0]])
    views = torch.tensor([[[1.0, 0.0], [0.0, 3.0], [math.cos(math.pi / 3), math.sin(math.pi / 3)]]])
    # cosines 1, 0, 0.5
    assert cross_view_identity(orig, views).item() == pytest.approx(0.5)


def test_keypoint_depth_correlation_edge_cases():
    from l2r_cli.metrics import keypoint_depth_correlation

    # four images, four keypoints (columns):
    # 0: gt = 5 - 3 * pred: r = -1, |r| = 1 (the sign of r does not matter)
    # 1: pred (0, 1, 2, 3), gt (0, 1, 3, 2): deviations (-1.5, -0.5, 0.5, 1.5) and
    #    (-1.5, -0.5, 1.5, 0.5); sum of products 2.25 + 0.25 + 0.75 + 0.75 = 4, sums of squares
    #    5 and 5 -> r = 4 / 5 = 0.8
    # 2: constant prediction (no variance) -> 0; 3: constant prediction and GT -> 0, not NaN
    # sum: 1 + 0.8 + 0 + 0 = 1.8
    pred = torch.tensor(
        [[0.0, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 2.0], [2.0, 2.0, 1.0, 2.0], [3.0, 3.0, 1.0, 2.0]]
    )
    gt = torch.stack([5 - 3 * pred[:, 0], torch.tensor([0.0, 1.0, 3.0, 2.0]),
                      torch.tensor([4.0, 1.0, 3.0, 2.0]), torch.full((4,), 7.0)], 1)  # fmt: skip
    r = keypoint_depth_correlation(pred, gt)
    torch.testing.assert_close(r, torch.tensor([1.0, 0.8, 0.0, 0.0]))
    assert r.sum().item() == pytest.approx(1.8)
    # |r| is unchanged by negating, scaling and shifting either input
    torch.testing.assert_close(keypoint_depth_correlation(-10 * pred + 3, gt), r)
    torch.testing.assert_close(keypoint_depth_correlation(pred, 0.5 * gt - 1), r)
    # and symmetric: a constant GT column counts 0 like a constant prediction
    torch.testing.assert_close(keypoint_depth_correlation(gt, pred), r)
    with pytest.raises(ValueError):  # shapes differ
        keypoint_depth_correlation(pred, gt[:, :3])
    with pytest.raises(ValueError):  # not (N, K)
        keypoint_depth_correlation(pred[:, 0], gt[:, 0])


def test_cross_view_identity_identical_opposite_orthogonal():
    from l2r_cli.metrics import cross_view_identity

    orig = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    views = torch.tensor(
        [
            # identical direction (any length) 1, 1; opposite -1; orthogonal 0:
            # (1 + 1 - 1 + 0) / 4 = 0.25
            [[3.0, 0.0, 0.0], [0.5, 0.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 2.0, 5.0]],
            # against (1, 1, 0): 1/sqrt(2), 1/sqrt(2), opposite -1, identical 1:
            # (2/sqrt(2) - 1 + 1) / 4 = sqrt(2)/4
            [[1.0, 0.0, 0.0], [0.0, 4.0, 0.0], [-1.0, -1.0, 0.0], [7.0, 7.0, 0.0]],
        ]
    )
    got = cross_view_identity(orig, views)
    assert got.shape == (2,)  # one score per face, the mean over its views
    torch.testing.assert_close(got, torch.tensor([0.25, math.sqrt(2) / 4]))


# --- fine detail (docs/benchmarks.md "Detail") -------------------------------------------------

DS = 64  # sigma = 64 / 32 = 2 px, blur radius 6 px


def _detail_face() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth bump (1, DS, DS) around depth 1, fine ripples of periods 4-6 px (well below the
    blur's sigma * 2 pi ~ 12.6 px), and their sum, the 'true' depth. The bump is wide (sd 32
    px) so that its own curvature leaves next to nothing in the high pass."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, DS), torch.linspace(-1, 1, DS), indexing="ij")
    base = 1.0 - 0.06 * torch.exp(-(xs**2 + ys**2) / 2)
    u = torch.arange(DS, dtype=torch.float32)
    ripple = torch.sin(2 * math.pi * u / 4)[None, :] * torch.cos(2 * math.pi * u / 5)[:, None]
    ripple = ripple + 0.5 * torch.sin(2 * math.pi * (u[:, None] + u[None, :]) / 6)
    detail = 0.001 * ripple
    return base[None], detail[None], (base + detail)[None]


def _scores(pred, gt, mask):
    from l2r_cli.metrics import band_side, detail_mad, detail_sigma
    from l2r_cli.render.camera import intrinsics
    from l2r_cli.render.shading import normals_from_depth

    K, s = intrinsics(DS), detail_sigma(DS)
    return {
        "detail_mad": detail_mad(pred, gt, mask, K, s).item(),
        "band_side": band_side(pred, gt, mask, s).item(),
        "side": side(pred, gt, mask).item(),
        "mad": mad(normals_from_depth(pred, K), normals_from_depth(gt, K), mask).item(),
    }


def test_detail_metrics_known_answers():
    from l2r_cli.metrics import gaussian_blur

    base, detail, gt = _detail_face()
    mask = torch.ones_like(gt)
    truth = _scores(gt, gt, mask)
    assert truth["detail_mad"] < 0.05 and truth["band_side"] == 0  # float32 acos of ~1
    flat = _scores(torch.ones_like(gt), gt, mask)
    low = _scores(gaussian_blur(gt, 2.0), gt, mask)  # the truth with its detail blurred away
    # all detail removed scores what a flat plane scores, far from the truth's 0
    assert low["band_side"] == pytest.approx(flat["band_side"], rel=0.05)
    assert low["detail_mad"] == pytest.approx(flat["detail_mad"], rel=0.05)
    assert low["band_side"] > 5e-4 and low["detail_mad"] > 5
    # ... although its SIDE and MAD are better than the plane's
    assert low["side"] < 0.5 * flat["side"]
    # doubled or sign-flipped detail is wrong detail
    double = _scores(base + 2 * detail, gt, mask)
    flip = _scores(base - detail, gt, mask)
    for bad in (double, flip):
        assert bad["detail_mad"] > 0.5 * flat["detail_mad"]
        assert bad["band_side"] > 0.5 * flat["band_side"]
    assert flip["band_side"] == pytest.approx(2 * flat["band_side"], rel=0.05)
    # a smooth tilt (about 9 and 6 degrees of slope) moves SIDE and MAD a lot, the detail not
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, DS), torch.linspace(-1, 1, DS), indexing="ij")
    tilted = _scores(gt * (1 + 0.15 * xs + 0.1 * ys), gt, mask)
    assert tilted["detail_mad"] < 1 and tilted["band_side"] < 0.02 * flat["band_side"]
    assert tilted["side"] > 0.05 and tilted["mad"] > 20
    # a global scale changes nothing (SIDE and the normals are scale-invariant too)
    scaled = _scores(gt * 1.3, gt, mask)
    assert scaled["detail_mad"] < 0.05 and scaled["band_side"] < 1e-6


def test_detail_constants_blur_and_mask_hand_values():
    from l2r_cli.metrics import (
        blur_radius,
        detail_mask,
        detail_sigma,
        erode_by,
        gaussian_blur,
        high_pass,
    )

    assert detail_sigma(64) == 2.0 and detail_sigma(32) == 1.0 and blur_radius(2.0) == 6
    assert blur_radius(0.5) == 2
    # constants and ramps pass the blur unchanged away from the border: no high pass
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = (1 + 0.01 * xs - 0.02 * ys)[None].double()
    inner = (slice(None), slice(6, 26), slice(6, 26))
    torch.testing.assert_close(high_pass(ramp, 2.0)[inner], torch.zeros(1, 20, 20).double())
    with pytest.raises(ValueError, match="too small"):
        gaussian_blur(torch.ones(1, 5, 5), 2.0)
    # a 20 x 20 square eroded by 3 -> 14 x 14; the image border counts as outside
    sq = torch.zeros(1, 32, 32)
    sq[:, 6:26, 6:26] = 1
    assert erode_by(sq, 3).sum() == 14 * 14 and erode_by(sq, 3)[0, 9:23, 9:23].all()
    assert erode_by(torch.ones(1, 10, 10), 2).sum() == 36
    assert detail_mask(sq, 1.0).sum() == 12 * 12  # radius 3 + 1 for the normals


def test_detail_metrics_see_nothing_outside_the_mask():
    # a face (20 x 20 square) on a background: changing the prediction off the face, even
    # within the blur's reach of it, changes neither detail score
    _, _, gt = _detail_face()
    mask = torch.zeros_like(gt)
    mask[:, 20:44, 20:44] = 1
    pred = gt * 1.01 + 0.002 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(0))
    wild = pred.clone()
    wild[mask == 0] = 1.1
    a, b = _scores(pred, gt, mask), _scores(wild, gt, mask)
    assert a["detail_mad"] == b["detail_mad"] and a["band_side"] == b["band_side"]
    assert a["detail_mad"] > 1


def test_hf_ratio_known_answers():
    from l2r_cli.metrics import gaussian_blur, hf_ratio, laplacian_energy

    g = torch.Generator().manual_seed(0)
    gt = (0.5 + 0.2 * torch.rand(2, 3, 32, 32, generator=g)).double()
    mask = torch.zeros(2, 1, 32, 32, dtype=torch.float64)
    mask[..., 4:28, 4:28] = 1
    torch.testing.assert_close(hf_ratio(gt, gt, mask), torch.ones(2, dtype=torch.float64))
    blurred = gaussian_blur(gt.flatten(0, 1), 1.0).view_as(gt)
    assert (hf_ratio(blurred, gt, mask) < 0.2).all()
    noisy = gt + 0.05 * torch.randn(gt.shape, generator=g, dtype=torch.float64)
    assert (hf_ratio(noisy, gt, mask) > 1.1).all()
    assert (hf_ratio(torch.full_like(gt, 0.4), gt, mask) == 0).all()
    # checkerboard c + a (-1)^(i+j): Laplacian -8 a (-1)^(i+j) per channel, energy 3 * 64 a^2
    i, j = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    checker = (0.5 + 0.1 * (-1.0) ** (i + j)).expand(1, 3, 32, 32).double()
    assert laplacian_energy(checker, mask[:1]).item() == pytest.approx(3 * 64 * 0.01)
    # a flat GT has no energy: NaN, which the benchmark turns into an error
    assert torch.isnan(hf_ratio(checker * 0 + 0.5, checker * 0 + 0.5, mask[:1])).all()
