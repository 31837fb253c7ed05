"""Loss functions as pure functions (paper eqns. 3 and 7; Unsup3D's perceptual NLL).

Every loss is reduced per sample first (masked mean over that sample's pixels) and then averaged
over the batch. Unsup3D takes one masked mean over the whole batch instead; the per-sample form
differs only in how images with different mask areas are weighted, and it makes the gradient of a
batch split across torchrun processes equal to the single-process one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-7


def masked_mean(x: Tensor, mask: Tensor | None) -> Tensor:
    """Per-sample masked mean, then batch mean. x: (B, C, H, W); mask: (B, 1, H, W) or None."""
    if mask is None:
        return x.flatten(1).mean(1).mean()
    m = mask.expand_as(x)
    return ((x * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(min=1.0)).mean()


def photometric_nll(
    pred: Tensor, target: Tensor, sigma: Tensor | None = None, mask: Tensor | None = None
) -> Tensor:
    """Eqn. (3): Laplacian NLL sqrt(2)|I - I_hat| / sigma + log(sigma) (plain L1 without sigma).

    pred, target: (B, C, H, W); sigma: (B, 1, H, W) > 0; mask: (B, 1, H, W) in {0, 1}.
    """
    loss = (pred - target).abs()
    if sigma is not None:
        loss = loss * math.sqrt(2) / (sigma + _EPS) + (sigma + _EPS).log()
    return masked_mean(loss, mask)


def perceptual_nll(
    feat_pred: Tensor, feat_target: Tensor, sigma: Tensor | None = None, mask: Tensor | None = None
) -> Tensor:
    """Gaussian NLL on features (f1 - f2)^2 / (2 sigma^2) + log(sigma).

    feats: (B, C, h, w); sigma: (B, 1, h, w); mask: (B, 1, H, W), average-pooled down to h x w.
    """
    loss = (feat_pred - feat_target) ** 2
    if sigma is not None:
        loss = loss / (2 * sigma**2 + _EPS) + (sigma + _EPS).log()
    if mask is not None:
        h, w = loss.shape[-2:]
        mh, mw = mask.shape[-2:]
        mask = F.avg_pool2d(mask, kernel_size=(mh // h, mw // w))
    return masked_mean(loss, mask)


def gan_d_loss(real_logit: Tensor, fake_logit: Tensor) -> Tensor:
    """The discriminator's non-saturating logistic GAN loss (StyleGAN2; the prior and the
    cross-view loss of eqn. 7): softplus(-D(real)) + softplus(D(fake)), each a batch mean.
    Logits: (B, 1)."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def gan_g_loss(fake_logit: Tensor) -> Tensor:
    """The generator's side of :func:`gan_d_loss`: softplus(-D(fake)), a batch mean."""
    return F.softplus(-fake_logit).mean()


def r1_penalty(real_logit: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): the batch mean of |grad_x D(x)|^2 on real images ``real``
    (B, ...), which must require grad and be what ``real_logit`` (B, 1) was computed from; the
    graph is kept so the penalty can be backpropagated."""
    (grad,) = torch.autograd.grad(real_logit.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()
