"""Loss functions against hand-computed values."""

import math

import torch

from l2r_cli.losses import masked_mean, perceptual_nll, photometric_nll


def test_masked_mean_is_per_sample_then_batch():
    x = torch.tensor([[[[1.0, 3.0]]], [[[10.0, 20.0]]]])  # (2, 1, 1, 2)
    m = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]])
    assert torch.isclose(masked_mean(x, m), torch.tensor((1.0 + 15.0) / 2))
    assert torch.isclose(masked_mean(x, None), torch.tensor((2.0 + 15.0) / 2))


def test_photometric_nll_hand_value():
    pred = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[0.5, -1.0]]]])
    sigma = torch.tensor([[[[2.0, 0.5]]]])
    got = photometric_nll(pred, target, sigma)
    want = ((math.sqrt(2) * 0.5 / 2 + math.log(2)) + (math.sqrt(2) * 1.0 / 0.5 + math.log(0.5))) / 2
    assert abs(float(got) - want) < 1e-5
    assert abs(float(photometric_nll(pred, target)) - 0.75) < 1e-6


def test_perceptual_nll_pools_mask():
    f1 = torch.zeros(1, 1, 2, 2)
    f2 = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :2] = 1  # only the top-left feature cell is valid
    got = perceptual_nll(f1, f2, torch.ones(1, 1, 2, 2), mask)
    assert abs(float(got) - (1.0 / 2 + 0.0)) < 1e-5
