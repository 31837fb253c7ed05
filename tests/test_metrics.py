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
