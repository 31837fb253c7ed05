"""The building blocks of rosinality's StyleGAN2 that are not style-specific: FIR resampling
(``upfirdn2d``, ``Blur``, ``Upsample``), the fused leaky ReLU, pixel norm, and the
equalized-learning-rate conv and linear layers (paper sec. 4 via StyleGAN2; see
``stylegan2.py`` for the conventions they follow and the networks built from them).

Parameter and buffer names are rosinality's, so checkpoints load with ``strict=True``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BLUR_KERNEL = (1, 3, 3, 1)
"""The FIR low-pass filter of every resampling step (separable, normalised to sum 1)."""


def _make_kernel(k: Sequence[float]) -> Tensor:
    """Separable 1-D taps -> normalised 2-D kernel (K, K)."""
    t = torch.tensor(k, dtype=torch.float32)
    t = t[None, :] * t[:, None]
    return t / t.sum()


def upfirdn2d(
    x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> Tensor:
    """Upsample by zero insertion, pad, FIR-filter (true convolution), downsample.

    x: (B, C, H, W), kernel: (K, K) -> (B, C, (H up + p0 + p1 - K) // down + 1, ...).
    Same definition as the reference CUDA op, restricted to the non-negative pads used here.
    """
    b, c, h, w = x.shape
    p0, p1 = pad
    if p0 < 0 or p1 < 0:
        raise ValueError(f"negative padding is not supported, got {pad}")
    if up > 1:  # each sample followed by up - 1 zeros: H -> H up
        x = F.pad(x.reshape(b, c, h, 1, w, 1), (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, (p0, p1, p0, p1))
    # The FIR step as a sum of K*K shifted slices: a (B*C, 1, H, W) convolution with one tiny
    # kernel is ~100x slower on CPU (forward and above all backward) than these elementwise ops.
    k = kernel.flip(0, 1).to(device=x.device, dtype=x.dtype)
    kh, kw = k.shape
    ho, wo = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    out = x[:, :, :ho, :wo] * k[0, 0]
    for i in range(kh):
        for j in range(kw):
            if i or j:
                out = out + x[:, :, i : i + ho, j : j + wo] * k[i, j]
    return out[:, :, ::down, ::down] if down > 1 else out


def fused_leaky_relu(x: Tensor, bias: Tensor | None = None, slope: float = 0.2) -> Tensor:
    """``leaky_relu(x + bias, 0.2) * sqrt(2)``, bias over dim 1 of x: (B, C, ...)."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, slope) * math.sqrt(2)


class PixelNorm(nn.Module):
    """Normalise each latent to unit RMS: (B, D) -> (B, D)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class FusedLeakyReLU(nn.Module):
    """Learned per-channel bias, then leaky ReLU x sqrt(2). Key: ``bias`` (C,)."""

    def __init__(self, channels: int, bias: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return fused_leaky_relu(x, self.bias)


class Upsample(nn.Module):
    """2x FIR upsampling of the to-RGB skip: (B, C, H, W) -> (B, C, 2H, 2W). Key: ``kernel``."""

    def __init__(self, kernel: Sequence[float] = BLUR_KERNEL, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", _make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    """FIR low-pass with padding (resolution set by ``pad``). Key: ``kernel`` (K, K)."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        # After zero-insertion upsampling the filter needs gain factor^2 to keep the mean.
        self.register_buffer("kernel", _make_kernel(kernel) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Conv with equalized learning rate. Keys: ``weight`` (out, in, k, k), ``bias`` (out,)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1 / math.sqrt(cin * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding
        )


class EqualLinear(nn.Module):
    """Linear with equalized learning rate and lr multiplier, optional fused leaky ReLU.

    Keys: ``weight`` (out, in), ``bias`` (out,). (B, in) -> (B, out).
    """

    def __init__(
        self,
        din: int,
        dout: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dout, din) / lr_mul)
        self.bias = nn.Parameter(torch.full((dout,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(din)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)


__all__ = [
    "BLUR_KERNEL",
    "Blur",
    "EqualConv2d",
    "EqualLinear",
    "FusedLeakyReLU",
    "PixelNorm",
    "Upsample",
    "fused_leaky_relu",
    "upfirdn2d",
]
