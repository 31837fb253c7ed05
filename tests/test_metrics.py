"""SIDE, MAD and the BFM mask against hand-computed cases."""

import math

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
