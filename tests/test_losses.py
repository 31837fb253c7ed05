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


def test_gan_losses_and_r1_by_hand():
    import math

    import pytest
    import torch

    from l2r_cli.losses import gan_d_loss, gan_g_loss, r1_penalty

    # logits 0: softplus(0) = ln 2 for each term
    zero = torch.zeros(3, 1)
    assert gan_d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert gan_g_loss(zero).item() == pytest.approx(math.log(2))
    # a confident D (real +5, fake -5) has a small loss; the generator's is large
    assert gan_d_loss(zero + 5, zero - 5).item() == pytest.approx(2 * math.log1p(math.exp(-5)))
    assert gan_g_loss(zero - 5).item() == pytest.approx(math.log1p(math.exp(5)))
    # D(x) = w . x has gradient w for every sample: R1 = |w|^2 = 1 + 4 + 9
    w = torch.tensor([1.0, -2.0, 3.0])
    x = torch.randn(4, 3, requires_grad=True)
    assert r1_penalty((x * w).sum(1, keepdim=True), x).item() == pytest.approx(14.0)
