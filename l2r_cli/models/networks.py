"""Building-block networks of the Unsup3D proxy (paper sec. 3; REFERENCE.md "3D proxy").

All convolutions are bias-free as in Unsup3D. Depth scales with the image size: an encoder
halves the resolution log2(S) - 2 times down to 4x4, then a 4x4 convolution gives 1x1.
At S = 64 the layer stack is exactly Unsup3D's.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _levels(size: int) -> int:
    """Number of stride-2 stages from ``size`` down to 4x4."""
    n = int(round(math.log2(size))) - 2
    if size < 16 or 2 ** (n + 2) != size:
        raise ValueError(f"image size must be a power of two >= 16, got {size}")
    return n


def _width(nf: int, level: int) -> int:
    """Channels at a stage: nf, 2nf, 4nf, then 8nf for every deeper stage."""
    return nf * min(2**level, 8)


def _channels_last(module: nn.Module) -> None:
    """Store the conv weights channels-last: oneDNN's CPU convolutions (and their backward) run
    faster that way (the five proxy nets' fwd+bwd at nf 16 on one thread: 399 -> 338 ms,
    docs/MEASUREMENTS.md "Faster proxy step"). Inputs may stay NCHW; outputs come out
    channels-last, which every later op accepts."""
    module.to(memory_format=torch.channels_last)


def _gn(ch: int) -> nn.GroupNorm:
    # Unsup3D uses GroupNorm(16 * k, 64 * k): groups of four channels.
    return nn.GroupNorm(max(1, ch // 4), ch)


class Encoder(nn.Module):
    """Image (B, cin, S, S) -> vector (B, cout); the light and view nets (ReLU, no norm)."""

    def __init__(self, cin: int, cout: int, size: int = 64, nf: int = 32, activation: bool = True):
        super().__init__()
        n = _levels(size)
        layers: list[nn.Module] = []
        ch = cin
        for i in range(n):  # S -> S/2 each: 64x64 -> 32 -> 16 -> 8 -> 4
            out = _width(nf, i)
            layers += [nn.Conv2d(ch, out, 4, 2, 1, bias=False), nn.ReLU(inplace=True)]
            ch = out
        layers += [nn.Conv2d(ch, ch, 4, 1, 0, bias=False), nn.ReLU(inplace=True)]  # 4x4 -> 1x1
        layers += [nn.Conv2d(ch, cout, 1, 1, 0, bias=False)]
        if activation:
            layers += [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, cin, S, S) -> (B, cout)."""
        return self.net(x).flatten(1)


def _down_stack(cin: int, zdim: int, size: int, nf: int) -> tuple[list[nn.Module], int]:
    """GroupNorm/LeakyReLU encoder of Unsup3D's EDDeconv and ConfNet: (cin, S) -> (zdim, 1)."""
    n = _levels(size)
    layers: list[nn.Module] = []
    ch = cin
    for i in range(n):  # S -> S/2 per stage down to 4x4
        out = _width(nf, i)
        layers.append(nn.Conv2d(ch, out, 4, 2, 1, bias=False))
        if i < n - 1:  # Unsup3D has no norm on the last stride-2 stage
            layers.append(_gn(out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        ch = out
    layers += [nn.Conv2d(ch, zdim, 4, 1, 0, bias=False), nn.ReLU(inplace=True)]  # 4x4 -> 1x1
    return layers, ch


def up_blocks(zdim: int, top: int, size: int, nf: int) -> tuple[list[list[nn.Module]], list[int]]:
    """The decoder of Unsup3D's EDDeconv without its output layer, block by block: (zdim, 1)
    -> (top, 4), one block per level up to S/2, then S/2 -> S at width nf. Returns the blocks
    (lists of modules, created in this order) and each block's output width. The depth and
    albedo nets chain them; the ARN's albedo encoder reads its guidance maps between them."""
    n = _levels(size)
    blocks: list[list[nn.Module]] = [
        [
            nn.ConvTranspose2d(zdim, top, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.ReLU(inplace=True),
            nn.Conv2d(top, top, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
        ]
    ]
    widths = [top]
    ch = top
    for i in reversed(range(n - 1)):  # 4x4 -> 8 -> 16 -> 32 (up to S/2)
        out = _width(nf, i)
        blocks.append(
            [
                nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False),
                _gn(out),
                nn.ReLU(inplace=True),
                nn.Conv2d(out, out, 3, 1, 1, bias=False),
                _gn(out),
                nn.ReLU(inplace=True),
            ]
        )
        widths.append(out)
        ch = out
    blocks.append(
        [
            nn.Upsample(scale_factor=2, mode="nearest"),  # S/2 -> S
            nn.Conv2d(ch, nf, 3, 1, 1, bias=False),
            _gn(nf),
            nn.ReLU(inplace=True),
            nn.Conv2d(nf, nf, 5, 1, 2, bias=False),
            _gn(nf),
            nn.ReLU(inplace=True),
        ]
    )
    widths.append(nf)
    return blocks, widths


def depth_from_tanh(t: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """t in [-1, 1] (any shape) -> depth in [min_depth, max_depth], linearly (the proxy's and
    the GRN's depth decoding)."""
    return (1 + t) / 2 * max_depth + (1 - t) / 2 * min_depth


def border_mask(size: int, like: Tensor) -> Tensor:
    """(1, size, size) with 1 on the two leftmost and rightmost columns: where the proxy and
    the GRN pin the depth to the border depth (dtype and device of ``like``)."""
    b = torch.zeros(1, size, size, device=like.device, dtype=like.dtype)
    b[..., :2] = 1
    b[..., -2:] = 1
    return b


class EDDeconv(nn.Module):
    """Encoder-decoder (B, cin, S, S) -> (B, cout, S, S): the depth and albedo nets."""

    def __init__(
        self,
        cin: int,
        cout: int,
        size: int = 64,
        nf: int = 64,
        zdim: int = 256,
        activation: bool = True,
    ):
        super().__init__()
        enc, top = _down_stack(cin, zdim, size, nf)
        self.encoder = nn.Sequential(*enc)
        blocks, _ = up_blocks(zdim, top, size, nf)
        dec = [m for block in blocks for m in block]
        dec.append(nn.Conv2d(nf, cout, 5, 1, 2, bias=False))
        if activation:
            dec.append(nn.Tanh())
        self.decoder = nn.Sequential(*dec)
        _channels_last(self)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, cin, S, S) -> (B, cout, S, S)."""
        return self.decoder(self.encoder(x))


class ConfNet(nn.Module):
    """Confidence net: image -> (sigma maps at S (B, 2, S, S), at S/4 (B, 2, S/4, S/4)).

    Channel 0 is for the reconstruction, channel 1 for the flipped one; softplus keeps them > 0.
    """

    def __init__(self, cin: int = 3, size: int = 64, nf: int = 64, zdim: int = 128):
        super().__init__()
        n = _levels(size)
        enc, top = _down_stack(cin, zdim, size, nf)
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [
            nn.ConvTranspose2d(zdim, top, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.ReLU(inplace=True),
        ]
        ch = top
        for i in reversed(range(2, n)):  # 4x4 -> ... -> S/4 (16x16 at S = 64)
            out = _width(nf, i - 1)
            dec += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False), _gn(out), nn.ReLU(True)]
            ch = out
        self.decoder = nn.Sequential(*dec)
        self.out_full = nn.Sequential(
            nn.ConvTranspose2d(ch, nf, 4, 2, 1, bias=False),  # S/4 -> S/2
            _gn(nf),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(nf, nf, 4, 2, 1, bias=False),  # S/2 -> S
            _gn(nf),
            nn.ReLU(inplace=True),
            nn.Conv2d(nf, 2, 5, 1, 2, bias=False),
            nn.Softplus(),
        )
        self.out_quarter = nn.Sequential(nn.Conv2d(ch, 2, 3, 1, 1, bias=False), nn.Softplus())
        _channels_last(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, cin, S, S) -> ((B, 2, S, S), (B, 2, S/4, S/4))."""
        h = self.decoder(self.encoder(x))
        return self.out_full(h), self.out_quarter(h)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of a module."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["ConfNet", "EDDeconv", "Encoder", "count_parameters"]
