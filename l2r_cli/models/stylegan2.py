"""StyleGAN2 generator and discriminator: the frozen face prior of the ARN and the adversarial
loss of L2R (paper sec. 4; REFERENCE.md "L2R" and "StyleGAN2 weights people already have").

Written for l2r, with the module layout and parameter names of rosinality's
``stylegan2-pytorch`` (model.py), so its checkpoints — above all the converted official FFHQ
model ``stylegan2-ffhq-config-f.pt`` — load with ``load_state_dict(strict=True)``
(REFERENCE.md "StyleGAN2 weights people already have"; docs/weights.md). Pure PyTorch, no custom
CUDA ops. Conventions (as the reference, which the fixture tests pin to float tolerance):

* equalized learning rate: weights are stored N(0, 1) and scaled by ``1/sqrt(fan_in)`` at run
  time; mapping layers use ``lr_mul = 0.01`` (weights stored divided by it);
* modulated 3x3 convs with weight demodulation (eps 1e-8), none in to-RGB; upsampling convs are
  a stride-2 transposed conv followed by a [1, 3, 3, 1] blur (x4 gain);
* noise ``x + strength * noise``; fused leaky ReLU ``leaky_relu(x + b, 0.2) * sqrt(2)``;
* to-RGB outputs are summed across resolutions (skip generator); the discriminator is residual,
  ``(main + skip) / sqrt(2)``, with a minibatch-stddev feature (group ``min(B, 4)``).

Channel widths are a per-resolution table; rosinality's table (``default_channels``) is the
special case, and a checkpoint's widths are read from its tensor shapes, so narrow custom models
(e.g. l2r's own priors) load through the same path.

This file holds the width tables, the architecture configs and the networks. The
equalized-lr layers and FIR resampling they are built from are in ``stylegan2_layers.py``;
reading and writing weight files (rosinality's checkpoint layout) is in ``stylegan2_io.py``,
whose public names are still importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.lazy import lazy_attributes
from l2r_cli.models.stylegan2_layers import (
    BLUR_KERNEL,
    Blur,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    PixelNorm,
    Upsample,
)

# Importable from here before the layers had their own module (not used below).
from l2r_cli.models.stylegan2_layers import fused_leaky_relu as fused_leaky_relu
from l2r_cli.models.stylegan2_layers import upfirdn2d as upfirdn2d

FeatureFn = Callable[[int, Tensor], Tensor]
"""``feature_fn(stage, features) -> features``: called after each synthesis stage."""

NoiseSpec = Literal["random", "stored", "zero"] | Sequence[Tensor | None]


# ----------------------------------------------------------------------------- widths


def default_channels(size: int, channel_multiplier: int = 2) -> dict[int, int]:
    """Rosinality's width table for resolutions 4..size: 512 up to 32x32, then
    ``256 m, 128 m, 64 m, 32 m, 16 m`` at 64..1024 (continued by halving above 1024)."""
    _log2_size(size)
    out = {}
    res = 4
    while res <= size:
        out[res] = 512 if res <= 32 else max(1, 16384 * channel_multiplier // res)
        res *= 2
    return out


def _log2_size(size: int) -> int:
    log = int(round(math.log2(size))) if size > 0 else 0
    if size < 8 or 2**log != size:
        raise ValueError(f"StyleGAN2 size must be a power of two >= 8, got {size}")
    return log


def _resolve_channels(
    size: int, channel_multiplier: int, channels: Mapping[int, int] | None
) -> dict[int, int]:
    if channels is None:
        return default_channels(size, channel_multiplier)
    log = _log2_size(size)
    want = [2**i for i in range(2, log + 1)]
    got = {int(k): int(v) for k, v in channels.items()}
    if sorted(got) != want or min(got.values()) < 1:
        raise ValueError(f"channels must give a positive width for each of {want}, got {got}")
    return got


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a StyleGAN2 generator (rosinality's ``Generator`` arguments)."""

    size: int = 1024
    """Output resolution: a power of two >= 8."""
    style_dim: int = 512
    """Width of z, w and of every mapping layer."""
    n_mlp: int = 8
    """Number of mapping layers (equalized-lr linear + fused leaky ReLU)."""
    channel_multiplier: int = 2
    """Widths from rosinality's table (2 = official config-f); ignored if ``channels`` is set."""
    channels: Mapping[int, int] | None = field(default=None, hash=False)
    """Explicit width per resolution {4: c, 8: c, ..., size: c}, for custom models."""
    lr_mlp: float = 0.01
    """Learning-rate multiplier of the mapping layers (also scales their stored weights)."""

    def widths(self) -> dict[int, int]:
        """Channel width at each resolution 4..size."""
        return _resolve_channels(self.size, self.channel_multiplier, self.channels)

    @property
    def n_latent(self) -> int:
        """Number of per-layer latents (w+ rows): 2 log2(size) - 2 (18 at 1024)."""
        return 2 * _log2_size(self.size) - 2

    @property
    def num_layers(self) -> int:
        """Number of noise inputs: 1 at 4x4 plus 2 per higher resolution (17 at 1024)."""
        return 2 * (_log2_size(self.size) - 2) + 1

    @property
    def num_stages(self) -> int:
        """Number of resolution stages 4x4, 8x8, ..., size (9 at 1024)."""
        return _log2_size(self.size) - 1


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Architecture of a StyleGAN2 residual discriminator (rosinality's ``Discriminator``)."""

    size: int = 1024
    """Input resolution: a power of two >= 8."""
    channel_multiplier: int = 2
    """Widths from rosinality's table; ignored if ``channels`` is set."""
    channels: Mapping[int, int] | None = field(default=None, hash=False)
    """Explicit width per resolution {4: c, ..., size: c}."""
    stddev_group: int = 4
    """Minibatch-stddev group size (the batch is split into groups of min(B, this))."""

    def widths(self) -> dict[int, int]:
        """Channel width at each resolution 4..size."""
        return _resolve_channels(self.size, self.channel_multiplier, self.channels)


# ----------------------------------------------------------------------------- style blocks


class ModulatedConv2d(nn.Module):
    """Style-modulated conv, optionally demodulated and/or 2x upsampling.

    Keys: ``weight`` (1, out, in, k, k), ``modulation.weight`` (in, style_dim),
    ``modulation.bias`` (in,), ``blur.kernel`` (4, 4) when upsampling.
    x: (B, in, H, W), style: (B, style_dim) -> (B, out, H, W) or (B, out, 2H, 2W).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[float] = BLUR_KERNEL,
    ):
        super().__init__()
        self.cin, self.cout, self.kernel_size = cin, cout, kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            # The stride-2 transposed conv gives 2H + k - 2; the blur's padding brings it to 2H.
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            pad = ((p + 1) // 2 + factor - 1, p // 2 + 1)
            self.blur = Blur(blur_kernel, pad=pad, upsample_factor=factor)
        self.scale = 1 / math.sqrt(cin * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        b, cin, h, w = x.shape
        k = self.kernel_size
        s = self.modulation(style).view(b, 1, cin, 1, 1)
        weight = self.scale * self.weight * s  # (B, out, in, k, k): one kernel per sample
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(b, self.cout, 1, 1, 1)
        x = x.reshape(1, b * cin, h, w)  # the batch becomes conv groups
        if self.upsample:  # HxW -> 2Hx2W
            weight = weight.transpose(1, 2).reshape(b * cin, self.cout, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=b)
            out = self.blur(out.reshape(b, self.cout, out.shape[2], out.shape[3]))
        else:
            out = F.conv2d(
                x, weight.reshape(b * self.cout, cin, k, k), padding=self.padding, groups=b
            )
            out = out.reshape(b, self.cout, out.shape[2], out.shape[3])
        return out


class NoiseInjection(nn.Module):
    """``x + strength * noise``; noise (B or 1, 1, H, W), fresh N(0, 1) if None. Key: ``weight``."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4x4 start tensor, repeated over the batch. Key: ``input`` (1, C, 4, 4)."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class StyledConv(nn.Module):
    """Modulated conv + noise + bias/leaky ReLU: (B, in, H, W) -> (B, out, H or 2H, ...)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = BLUR_KERNEL,
    ):
        super().__init__()
        self.conv = ModulatedConv2d(
            cin, cout, 3, style_dim, upsample=upsample, blur_kernel=blur_kernel
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x: Tensor, style: Tensor, noise: Tensor | None = None) -> Tensor:
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) plus the upsampled skip of the stage below.

    x: (B, C, H, W), style: (B, style_dim), skip: (B, 3, H/2, W/2) -> (B, 3, H, W).
    """

    def __init__(
        self,
        cin: int,
        style_dim: int,
        upsample: bool = True,
        blur_kernel: Sequence[float] = BLUR_KERNEL,
    ):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


# ----------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class SynthesisOutput:
    """What ``Generator.synthesis(..., return_features=True)`` returns."""

    image: Tensor
    """(B, 3, S, S), roughly in [-1, 1]."""
    features: list[Tensor]
    """Per stage s = 0..num_stages-1: (B, C_r, r, r) at r = 4 * 2**s, as passed to to-RGB
    (after ``feature_fn``)."""
    latents: Tensor
    """(B, n_latent, style_dim): the per-layer latents used (after truncation)."""


class Generator(nn.Module):
    """StyleGAN2 generator: z (B, style_dim) -> w (B, style_dim) -> image (B, 3, S, S).

    Layer order (rosinality): ``conv1`` and ``to_rgb1`` at 4x4, then per resolution
    ``convs[2i]`` (upsampling), ``convs[2i + 1]`` and ``to_rgbs[i]``. Latent row j of
    w+ (B, n_latent, style_dim) drives, in order: conv1, to_rgb1, then (conv, conv, to_rgb)
    per stage with the to-RGB sharing its row with the next stage's first conv.
    """

    def __init__(self, cfg: GeneratorConfig | None = None):
        super().__init__()
        cfg = cfg or GeneratorConfig()
        ch = cfg.widths()
        self.cfg = cfg
        self.size = cfg.size
        self.style_dim = cfg.style_dim
        self.n_latent = cfg.n_latent
        self.num_layers = cfg.num_layers
        self.num_stages = cfg.num_stages
        # style.0 is the parameter-free PixelNorm, so the linear layers are style.1..n_mlp.
        self.style = nn.Sequential(
            PixelNorm(),
            *(
                EqualLinear(cfg.style_dim, cfg.style_dim, lr_mul=cfg.lr_mlp, activation=True)
                for _ in range(cfg.n_mlp)
            ),
        )
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], cfg.style_dim)
        self.to_rgb1 = ToRGB(ch[4], cfg.style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):  # noise_0 at 4x4, then two per resolution
            r = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        cin = ch[4]
        for s in range(1, self.num_stages):  # r/2 x r/2 -> r x r
            cout = ch[4 * 2**s]
            self.convs.append(StyledConv(cin, cout, cfg.style_dim, upsample=True))
            self.convs.append(StyledConv(cout, cout, cfg.style_dim))
            self.to_rgbs.append(ToRGB(cout, cfg.style_dim))
            cin = cout

    # -- latents

    def mapping(self, z: Tensor) -> Tensor:
        """z: (B, style_dim) -> w: (B, style_dim)."""
        if z.ndim != 2 or z.shape[1] != self.style_dim:
            raise ValueError(f"z must be (B, {self.style_dim}), got {tuple(z.shape)}")
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n: int = 4096, generator: torch.Generator | None = None) -> Tensor:
        """Mean of mapping(z) over n random z: (style_dim,) (a stand-in for latent_avg)."""
        dev = self.input.input.device
        z = torch.randn(n, self.style_dim, generator=generator, device="cpu").to(dev)
        return self.mapping(z).mean(0)

    def stored_noise(self) -> list[Tensor]:
        """The noise buffers, one per layer: (1, 1, r, r)."""
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def _noise_list(self, noise: NoiseSpec) -> list[Tensor | None]:
        if isinstance(noise, str):
            if noise == "random":
                return [None] * self.num_layers
            if noise == "stored":
                return self.stored_noise()
            if noise == "zero":
                return [torch.zeros_like(t) for t in self.stored_noise()]
            raise ValueError(f"noise must be 'random', 'stored', 'zero' or a list, got {noise!r}")
        out = list(noise)
        if len(out) != self.num_layers:
            raise ValueError(f"need {self.num_layers} noise maps, got {len(out)}")
        return out

    def _latents(self, w: Tensor, truncation: float, truncation_latent: Tensor | None) -> Tensor:
        if w.ndim == 2:
            w = w.unsqueeze(1).repeat(1, self.n_latent, 1)
        if w.ndim != 3 or w.shape[1:] != (self.n_latent, self.style_dim):
            raise ValueError(
                f"w must be (B, {self.style_dim}) or (B, {self.n_latent}, {self.style_dim}), "
                f"got {tuple(w.shape)}"
            )
        if truncation < 1:
            if truncation_latent is None:
                raise ValueError("truncation < 1 needs truncation_latent (e.g. latent_avg)")
            w = truncation_latent + truncation * (w - truncation_latent)
        return w

    # -- synthesis

    @overload
    def synthesis(
        self,
        w: Tensor,
        noise: NoiseSpec = ...,
        truncation: float = ...,
        truncation_latent: Tensor | None = ...,
        return_features: Literal[False] = ...,
        feature_fn: FeatureFn | None = ...,
    ) -> Tensor: ...

    @overload
    def synthesis(
        self,
        w: Tensor,
        noise: NoiseSpec = ...,
        truncation: float = ...,
        truncation_latent: Tensor | None = ...,
        *,
        return_features: Literal[True],
        feature_fn: FeatureFn | None = ...,
    ) -> SynthesisOutput: ...

    def synthesis(
        self,
        w: Tensor,
        noise: NoiseSpec = "random",
        truncation: float = 1.0,
        truncation_latent: Tensor | None = None,
        return_features: bool = False,
        feature_fn: FeatureFn | None = None,
    ) -> Tensor | SynthesisOutput:
        """w (B, style_dim) or w+ (B, n_latent, style_dim) -> image (B, 3, S, S).

        noise: ``"random"`` (fresh each call, rosinality's default), ``"stored"`` (the
        ``noises`` buffers: deterministic), ``"zero"``, or one map per layer (None = random),
        each broadcastable to (B, 1, r, r).
        truncation: ``w <- t_latent + truncation (w - t_latent)`` when < 1;
        truncation_latent (style_dim,) or (1, style_dim) is usually the checkpoint's latent_avg.
        feature_fn(stage, x) -> x: applied to each stage's features (B, C_r, r, r) before its
        to-RGB and before the next stage reads them (stage 0 = 4x4); it must keep the shape.
        This is where the ARN injects spatial guidance into the first stages.
        return_features: return a :class:`SynthesisOutput` with every stage's features.
        """
        latent = self._latents(w, truncation, truncation_latent)
        noises = self._noise_list(noise)
        b = latent.shape[0]
        features: list[Tensor] = []

        def stage_out(s: int, x: Tensor) -> Tensor:
            if feature_fn is not None:
                y = feature_fn(s, x)
                if y.shape != x.shape:
                    raise ValueError(
                        f"feature_fn changed stage {s} features {tuple(x.shape)} -> "
                        f"{tuple(y.shape)}"
                    )
                x = y
            if return_features:
                features.append(x)
            return x

        x = self.conv1(self.input(b), latent[:, 0], noise=noises[0])  # 4x4
        x = stage_out(0, x)
        skip = self.to_rgb1(x, latent[:, 1])
        j = 1
        for s in range(1, self.num_stages):  # r/2 -> r, r = 8 .. S
            x = self.convs[2 * s - 2](x, latent[:, j], noise=noises[2 * s - 1])
            x = self.convs[2 * s - 1](x, latent[:, j + 1], noise=noises[2 * s])
            x = stage_out(s, x)
            skip = self.to_rgbs[s - 1](x, latent[:, j + 2], skip)
            j += 2
        if return_features:
            return SynthesisOutput(image=skip, features=features, latents=latent)
        return skip

    def forward(
        self,
        z: Tensor,
        noise: NoiseSpec = "random",
        truncation: float = 1.0,
        truncation_latent: Tensor | None = None,
    ) -> Tensor:
        """z (B, style_dim) -> image (B, 3, S, S): ``synthesis(mapping(z), ...)``."""
        return self.synthesis(self.mapping(z), noise, truncation, truncation_latent)


# ----------------------------------------------------------------------------- discriminator


class ConvLayer(nn.Sequential):
    """[Blur] + EqualConv2d + [FusedLeakyReLU], numbered like rosinality's ``ConvLayer``.

    Keys: ``0.weight`` + ``1.bias`` (plain), ``0.kernel`` + ``1.weight`` + ``2.bias``
    (downsampling), ``0.kernel`` + ``1.weight`` (downsampling, no activation, no bias).
    (B, in, H, W) -> (B, out, H, W) or (B, out, H/2, W/2).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = BLUR_KERNEL,
        bias: bool = True,
        activate: bool = True,
    ):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        # With an activation the bias lives in the FusedLeakyReLU, as in the reference.
        layers.append(
            EqualConv2d(cin, cout, kernel_size, stride, padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(cout, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual down block: (B, in, H, W) -> (B, out, H/2, W/2), ``(main + skip) / sqrt(2)``."""

    def __init__(self, cin: int, cout: int, blur_kernel: Sequence[float] = BLUR_KERNEL):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(
            cin, cout, 1, downsample=True, blur_kernel=blur_kernel, activate=False, bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


def minibatch_stddev(x: Tensor, group_size: int = 4) -> Tensor:
    """Append the mean over features of the per-group std: (B, C, H, W) -> (B, C + 1, H, W).

    Samples i and i + B/G share a group (G = min(B, group_size)), as in the reference. When G
    does not divide B (where the reference fails) the largest divisor of B below it is used.
    """
    b, c, h, w = x.shape
    g = min(b, group_size)
    while b % g:
        g -= 1
    y = x.reshape(g, -1, 1, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8)  # (B/G, 1, C, H, W)
    y = y.mean([2, 3, 4], keepdim=True).squeeze(2)  # (B/G, 1, 1, 1)
    return torch.cat([x, y.repeat(g, 1, h, w)], 1)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: image (B, 3, S, S) -> realness logit (B, 1).

    ``convs.0`` is a 1x1 from-RGB conv, ``convs.1..`` halve the resolution down to 4x4, then
    minibatch stddev, ``final_conv`` (3x3) and ``final_linear`` (two equalized linears).
    """

    def __init__(self, cfg: DiscriminatorConfig | None = None):
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        ch = cfg.widths()
        self.cfg = cfg
        self.size = cfg.size
        self.stddev_group = cfg.stddev_group
        convs: list[nn.Module] = [ConvLayer(3, ch[cfg.size], 1)]
        cin = ch[cfg.size]
        r = cfg.size
        while r > 4:  # r x r -> r/2 x r/2
            convs.append(ResBlock(cin, ch[r // 2]))
            cin = ch[r // 2]
            r //= 2
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(cin + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation=True), EqualLinear(ch[4], 1)
        )

    def forward(self, img: Tensor) -> Tensor:
        """img: (B, 3, S, S) -> (B, 1)."""
        if img.ndim != 4 or img.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"expected (B, 3, {self.size}, {self.size}), got {tuple(img.shape)}")
        x = self.convs(img)  # S x S -> 4 x 4
        x = self.final_conv(minibatch_stddev(x, self.stddev_group))
        return self.final_linear(x.flatten(1))


# ----------------------------------------------------------------------------- weight files

# Loading and saving live in stylegan2_io.py, which imports this module; its public names are
# still importable from here, resolved on first use so that neither module imports the other
# while it loads.
_IO_NAMES = (
    "StyleGAN2Info",
    "discriminator_from_state_dict",
    "generator_from_state_dict",
    "infer_discriminator_config",
    "infer_generator_config",
    "load_stylegan2",
    "save_stylegan2",
    "stylegan2_from_checkpoint",
)


__getattr__ = lazy_attributes(__name__, dict.fromkeys(_IO_NAMES, "l2r_cli.models.stylegan2_io"))


__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "SynthesisOutput",
    "default_channels",
    "minibatch_stddev",
    *_IO_NAMES,
]
