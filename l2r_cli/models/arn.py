"""Albedo Restoration Network, ARN (paper sec. 4.1, Fig. 2; REFERENCE.md "L2R"; docs/arn.md).

A degraded face image I and the proxy's canonical albedo a_o go in; a restored canonical albedo
a_r comes out, decoded from the features of a frozen, pretrained StyleGAN2:

* style code injection: a style encoder on I (Unsup3D's encoder) and a StyleGAN-style mapping
  MLP give n style codes c_1..c_n, one per generator stage, expanded to the generator's w+;
* spatial guidance injection: an albedo encoder on a_o (Unsup3D's albedo encoder-decoder) gives
  guidance maps g_1..g_k at the resolutions of the first k stages, fused into the generator's
  features as f'_i = Conv([g_i, f_i]);
* prior decoder (eqn. 4): the last m stages' features p_1..p_m (larger than the output are
  average-pooled down to it) are decoded as h_1 = Conv(p_1), h_i = Conv([up(h_{i-1}), p_i]),
  then to RGB with tanh.

Where the paper is silent (w+ expansion, noise, downsampling, widths, initialisation) the choice
is documented here and in docs/arn.md. The ablation switches of :class:`ArnConfig` map to the
rows of the paper's Tables 2 and 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.errors import L2RError
from l2r_cli.models.networks import _down_stack, _levels, up_blocks
from l2r_cli.models.stylegan2 import Generator, GeneratorConfig
from l2r_cli.models.stylegan2_layers import EqualLinear, PixelNorm

NOISE_MODES = ("zero", "stored", "random")
"""Values of :attr:`ArnConfig.noise`, passed to ``Generator.synthesis(noise=...)``."""


def _is_pow2(x: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0 and x & (x - 1) == 0


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ArnConfig:
    """Architecture of the ARN. Defaults are the paper's (see :func:`paper_preset`).

    Every field is checked when the config is built; impossible values raise :class:`L2RError`.
    """

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    """Architecture of the StyleGAN2 prior (default: official FFHQ config-f, 1024 px, 9 stages).
    Must describe the generator passed to :class:`ARN` (``load_stylegan2``'s ``info.generator``)."""
    input_size: int = 64
    """Side of the degraded image as the style encoder sees it (power of two >= 16); any square
    input is resized bilinearly to it (the paper's 32x32 input upsampled, as for the proxy)."""
    albedo_size: int = 64
    """Side of the proxy's canonical albedo (power of two >= 16): the proxy's image size."""
    output_size: int = 256
    """Side of the restored albedo (power of two, 4 <= output_size <= generator size)."""
    n_styles: int | None = None
    """Number of style codes n (1..number of generator stages); None = one per stage (the
    paper's n = 9 at 1024). With n below the stage count, consecutive stages share a code.
    Ignored without ``multi_style``."""
    guided_stages: int = 4
    """k: the first k generator stages (4x4, 8x8, ...) receive spatial guidance; the finest of
    them may not exceed ``albedo_size``. Ignored without ``spatial_guidance``."""
    prior_stages: int = 4
    """m: the last m generator stages' features are the priors of the prior decoder. Ignored
    without ``prior_decoder``."""
    nf: int = 64
    """Base width of the style and albedo encoders (Unsup3D's nf)."""
    zdim: int = 256
    """Bottleneck width of the style and albedo encoders (Unsup3D's zdim)."""
    mapping_layers: int = 8
    """Linear layers of the style mapping MLP (StyleGAN's 8), the last one the linear head that
    emits all n codes."""
    mapping_lr_mul: float = 1.0
    """Equalized-lr multiplier of the mapping layers. StyleGAN uses 0.01 at lr 2e-3; at the
    paper's Adam lr 1e-4 that would all but freeze the MLP, hence 1."""
    noise: str = "zero"
    """Generator noise inputs: ``zero`` (deterministic, no stochastic detail), ``stored`` (the
    checkpoint's fixed noise maps, also deterministic) or ``random`` (fresh every call)."""
    use_prior: bool = True
    """True: the generator is the pretrained one passed in, frozen. False (Table 3 row 2,
    "w/o StyleGAN prior"): same architecture, randomly initialised and trained with the rest."""
    multi_style: bool = True
    """False (Table 3 row 3, "w/o multi-style code"): one style code broadcast to every layer."""
    spatial_guidance: bool = True
    """False (Table 3 row 4, "w/o spatial guidance"): no albedo encoder; a_o is not used."""
    prior_decoder: bool = True
    """False (Table 3 row 5, "w/o prior decoder"): the generator's own RGB output, resized to
    ``output_size`` and clamped to [-1, 1], is the restored albedo."""

    def __post_init__(self) -> None:
        self._check()

    @property
    def num_stages(self) -> int:
        """Resolution stages of the generator (4x4 .. size)."""
        return self.generator.num_stages

    @property
    def num_codes(self) -> int:
        """Style codes actually predicted: 1 without ``multi_style``, else n."""
        if not self.multi_style:
            return 1
        return self.num_stages if self.n_styles is None else self.n_styles

    def _check(self) -> None:
        g = self.generator
        if not isinstance(g, GeneratorConfig):
            raise L2RError(f"arn.generator must be a GeneratorConfig, got {type(g).__name__}")
        try:
            g.widths()
        except ValueError as exc:
            raise L2RError(f"arn.generator: {exc}") from None
        s = g.num_stages
        for name in ("input_size", "albedo_size"):
            v = getattr(self, name)
            if not _is_pow2(v) or v < 16:
                raise L2RError(f"arn.{name} must be a power of two >= 16, got {v!r}")
        if not _is_pow2(self.output_size) or not 4 <= self.output_size <= g.size:
            raise L2RError(
                f"arn.output_size must be a power of two between 4 and the generator size "
                f"{g.size}, got {self.output_size!r}"
            )
        if self.n_styles is not None and not (
            isinstance(self.n_styles, int) and 1 <= self.n_styles <= s
        ):
            raise L2RError(
                f"arn.n_styles must be between 1 and the generator's {s} stages (or unset for "
                f"one per stage), got {self.n_styles!r}"
            )
        if self.spatial_guidance:
            k = self.guided_stages
            if not isinstance(k, int) or not 1 <= k <= s:
                raise L2RError(
                    f"arn.guided_stages must be between 1 and the generator's {s} stages, got "
                    f"{k!r} (set spatial_guidance = false for no guidance)"
                )
            if 4 * 2 ** (k - 1) > self.albedo_size:
                raise L2RError(
                    f"arn.guided_stages = {k} needs guidance at {4 * 2 ** (k - 1)}x"
                    f"{4 * 2 ** (k - 1)}, finer than the {self.albedo_size}x{self.albedo_size} "
                    f"albedo: at most {_levels(self.albedo_size) + 1} stages"
                )
        if self.prior_decoder:
            m = self.prior_stages
            if not isinstance(m, int) or not 1 <= m <= s:
                raise L2RError(
                    f"arn.prior_stages must be between 1 and the generator's {s} stages, got {m!r}"
                )
        for name in ("nf", "zdim", "mapping_layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise L2RError(f"arn.{name} must be a positive integer, got {v!r}")
        if not self.mapping_lr_mul > 0:
            raise L2RError(f"arn.mapping_lr_mul must be > 0, got {self.mapping_lr_mul!r}")
        if self.noise not in NOISE_MODES:
            raise L2RError(f"arn.noise must be one of {', '.join(NOISE_MODES)}, got {self.noise!r}")


def paper_preset() -> ArnConfig:
    """The paper's ARN (sec. 4.1 and 5, "Implementation Details"), every value spelled out.

    FFHQ StyleGAN2 config-f (1024 px, style_dim 512, 8 mapping layers, channel multiplier 2,
    9 stages); n = 9 style codes; guidance at 4..32 (k = 4); the last m = 4 stages as priors
    (128..1024, the two largest average-pooled to 256); 256x256 output; the 32x32 input and the
    proxy's albedo both seen at the proxy's 64x64; encoders with Unsup3D's nf = 64, zdim = 256.
    """
    return ArnConfig(
        generator=GeneratorConfig(size=1024, style_dim=512, n_mlp=8, channel_multiplier=2),
        input_size=64,
        albedo_size=64,
        output_size=256,
        n_styles=9,
        guided_stages=4,
        prior_stages=4,
        nf=64,
        zdim=256,
        mapping_layers=8,
        mapping_lr_mul=1.0,
        noise="zero",
        use_prior=True,
        multi_style=True,
        spatial_guidance=True,
        prior_decoder=True,
    )


def latent_code_index(num_stages: int, num_codes: int) -> list[int]:
    """For each w+ row j = 0..2 num_stages - 1, the style code that drives it.

    Rosinality's synthesis reads row 0 in ``conv1`` (stage 0), row 1 in ``to_rgb1``, and for
    stage s >= 1 rows 2s-1 and 2s in its two convs and row 2s+1 in its to-RGB, which shares the
    row with the first conv of stage s+1. A row belongs to the stage whose conv it drives:
    ``stage(j) = min((j + 1) // 2, num_stages - 1)`` (the last row only feeds the last to-RGB).
    Stages are grouped evenly onto codes: stage s uses code ``s * num_codes // num_stages``
    (the identity when there is one code per stage; all 0 for a single code).
    """
    if not 1 <= num_codes <= num_stages:
        raise ValueError(f"need 1 <= num_codes <= num_stages, got {num_codes}, {num_stages}")
    stages = [min((j + 1) // 2, num_stages - 1) for j in range(2 * num_stages)]
    return [s * num_codes // num_stages for s in stages]


# ----------------------------------------------------------------------------- parts


class StyleEncoder(nn.Module):
    """Degraded image (B, 3, S, S) -> style codes (B, n, style_dim).

    Unsup3D's encoder (that of the depth and albedo nets: conv 4x4/2 + GroupNorm + LeakyReLU,
    then 4x4 -> 1x1) gives a (B, zdim) vector; a StyleGAN-style mapping MLP (PixelNorm, then
    equalized-lr linears with fused leaky ReLU) ends in one linear head that emits all n codes.
    The head has no activation, so codes are signed offsets from ``w_avg`` (added by the ARN).
    """

    def __init__(
        self,
        size: int,
        nf: int,
        zdim: int,
        style_dim: int,
        num_codes: int,
        mapping_layers: int,
        lr_mul: float = 1.0,
    ):
        super().__init__()
        layers, _ = _down_stack(3, zdim, size, nf)  # S x S -> 1 x 1
        self.encoder = nn.Sequential(*layers)
        mlp: list[nn.Module] = [PixelNorm()]
        din = zdim
        for _ in range(mapping_layers - 1):
            mlp.append(EqualLinear(din, style_dim, lr_mul=lr_mul, activation=True))
            din = style_dim
        self.mapping = nn.Sequential(*mlp)
        self.head = EqualLinear(din, num_codes * style_dim, lr_mul=lr_mul)
        self.num_codes = num_codes
        self.style_dim = style_dim

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 3, S, S) -> (B, n, style_dim)."""
        h = self.mapping(self.encoder(x).flatten(1))  # (B, zdim) -> (B, style_dim)
        return self.head(h).view(x.shape[0], self.num_codes, self.style_dim)


class AlbedoEncoder(nn.Module):
    """Proxy albedo (B, 3, S, S) -> k guidance maps, map j: (B, channels[j], 4 2^j, 4 2^j).

    Unsup3D's albedo encoder-decoder (the proxy's Phi^a) without its output layer: the encoder
    to a (B, zdim, 1, 1) code, then the decoder's blocks, whose outputs at 4, 8, ..., S/2 (and
    at S, after the decoder's last upsampling block) are the guidance maps. Only the first k
    blocks are kept (all are created, so initialisation draws the same numbers for every k).
    """

    def __init__(self, size: int, nf: int, zdim: int, num_maps: int):
        super().__init__()
        n = _levels(size)
        if not 1 <= num_maps <= n + 1:
            raise ValueError(f"a {size}x{size} albedo gives 1..{n + 1} guidance maps")
        layers, top = _down_stack(3, zdim, size, nf)  # S x S -> 1 x 1
        self.encoder = nn.Sequential(*layers)
        parts, channels = up_blocks(zdim, top, size, nf)
        blocks = [nn.Sequential(*part) for part in parts]
        self.blocks = nn.ModuleList(blocks[:num_maps])
        self.channels: list[int] = channels[:num_maps]
        """Width of each guidance map."""

    def forward(self, albedo: Tensor) -> list[Tensor]:
        """albedo: (B, 3, S, S) -> [(B, channels[j], 4 2^j, 4 2^j) for j < k]."""
        h = self.encoder(albedo)
        out = []
        for block in self.blocks:
            h = block(h)
            out.append(h)
        return out


class GuidanceFusion(nn.Module):
    """f' = Conv3x3([g, f]): (B, C_g, r, r), (B, C_f, r, r) -> (B, C_f, r, r).

    Initialised so that f' = f + (a random projection of g): the f part is the identity, the
    g part PyTorch's default init, bias 0. The pretrained features pass unchanged at the start,
    while the guidance already has a gradient.
    """

    def __init__(self, guide_channels: int, feat_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(guide_channels + feat_channels, feat_channels, 3, 1, 1)
        with torch.no_grad():
            w = self.conv.weight  # (C_f, C_g + C_f, 3, 3)
            w[:, guide_channels:].zero_()
            idx = torch.arange(feat_channels)
            w[idx, guide_channels + idx, 1, 1] = 1.0
            self.conv.bias.zero_()

    def forward(self, guide: Tensor, feat: Tensor) -> Tensor:
        """guide: (B, C_g, r, r), feat: (B, C_f, r, r) -> (B, C_f, r, r)."""
        return self.conv(torch.cat([guide, feat], 1))


def _downsample_to(x: Tensor, size: int) -> Tensor:
    """Average-pool (B, C, r, r) by the integer factor r / size (identity when r <= size)."""
    r = x.shape[-1]
    return F.avg_pool2d(x, r // size) if r > size else x


class PriorDecoder(nn.Module):
    """Generator features p_1..p_m -> restored albedo (B, 3, out, out) in [-1, 1] (eqn. 4).

    Each p_i (B, C_i, r_i, r_i) larger than the output is average-pooled to it. Then
    h_1 = Conv(p_1) and h_i = Conv([up(h_{i-1}), p_i]), ``up`` bilinear to the size of p_i when
    it is larger; every Conv is 3x3 + LeakyReLU(0.2) with the width C_i of its prior; a final
    3x3 conv to RGB and tanh. The last prior is at the output size, hence so is h_m.
    """

    def __init__(self, prior_channels: Sequence[int], output_size: int):
        super().__init__()
        self.output_size = output_size
        convs = []
        prev = 0
        for c in prior_channels:
            convs.append(nn.Sequential(nn.Conv2d(prev + c, c, 3, 1, 1), nn.LeakyReLU(0.2)))
            prev = c
        self.convs = nn.ModuleList(convs)
        self.to_albedo = nn.Conv2d(prev, 3, 3, 1, 1)

    def forward(self, priors: Sequence[Tensor]) -> Tensor:
        """priors: m tensors (B, C_i, r_i, r_i), r_i non-decreasing -> (B, 3, out, out)."""
        if len(priors) != len(self.convs):
            raise ValueError(f"expected {len(self.convs)} priors, got {len(priors)}")
        h: Tensor | None = None
        for conv, p in zip(self.convs, priors, strict=True):
            p = _downsample_to(p, self.output_size)  # 512, 1024 -> 256 in the paper
            if h is None:
                h = conv(p)
                continue
            if h.shape[-1] != p.shape[-1]:  # r_{i-1} -> r_i
                h = F.interpolate(h, size=p.shape[-2:], mode="bilinear", align_corners=False)
            h = conv(torch.cat([h, p], 1))
        assert h is not None
        return torch.tanh(self.to_albedo(h))


# ----------------------------------------------------------------------------- ARN


@dataclass(frozen=True)
class ArnOutput:
    """What :meth:`ARN.restore` returns for a batch of B images."""

    albedo: Tensor
    """(B, 3, out, out) in [-1, 1]: the restored canonical albedo a_r."""
    styles: Tensor
    """(B, n, style_dim): the predicted style codes (``w_avg`` included)."""
    latents: Tensor
    """(B, n_latent, style_dim): the w+ the generator was run with."""
    generator_image: Tensor
    """(B, 3, G, G): the generator's own RGB output (roughly [-1, 1]), for inspection."""


class ARN(nn.Module):
    """Albedo Restoration Network: (I, a_o) -> a_r (paper sec. 4.1, Fig. 2).

    ``generator``: the pretrained StyleGAN2 (``load_stylegan2(path)[0]``), required when
    ``cfg.use_prior``; its architecture must equal ``cfg.generator``. It is frozen in place
    (``requires_grad`` False, always in eval mode) but gradients flow through it to the
    encoders. Without ``use_prior`` a randomly initialised generator is built from
    ``cfg.generator`` and trained (its mapping MLP, which the ARN bypasses, stays frozen, as do
    its to-RGB layers when the prior decoder is used).
    ``latent_avg``: (style_dim,) mean w of the generator (the checkpoint's ``latent_avg`` or
    ``generator.mean_latent()``); the style codes are offsets from it. Zeros if not given.
    It is kept as the buffer ``w_avg``, so checkpoints carry it.
    """

    def __init__(
        self,
        cfg: ArnConfig,
        generator: Generator | None = None,
        latent_avg: Tensor | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        gcfg = cfg.generator
        if cfg.use_prior:
            if generator is None:
                raise L2RError(
                    "the ARN with use_prior needs the pretrained StyleGAN2 generator: load it "
                    "with load_stylegan2 and pass it (or set use_prior = false)"
                )
            _check_generator(generator, gcfg)
        elif generator is not None:
            raise L2RError(
                "use_prior = false trains the generator from scratch; do not pass pretrained "
                "weights (build ARN(cfg) and load an ARN checkpoint to resume)"
            )
        else:
            generator = Generator(gcfg)
        self.generator = generator
        widths = gcfg.widths()
        stage_res = [4 * 2**s for s in range(gcfg.num_stages)]

        self.style_encoder = StyleEncoder(
            cfg.input_size,
            cfg.nf,
            cfg.zdim,
            gcfg.style_dim,
            cfg.num_codes,
            cfg.mapping_layers,
            cfg.mapping_lr_mul,
        )
        self.register_buffer("w_avg", torch.zeros(gcfg.style_dim))
        if latent_avg is not None:
            if not isinstance(latent_avg, Tensor) or latent_avg.numel() != gcfg.style_dim:
                got = tuple(latent_avg.shape) if isinstance(latent_avg, Tensor) else latent_avg
                raise L2RError(f"latent_avg must have {gcfg.style_dim} elements, got {got}")
            self.w_avg.copy_(latent_avg.detach().reshape(-1).float())
        index = latent_code_index(gcfg.num_stages, cfg.num_codes)
        self.register_buffer("code_index", torch.tensor(index), persistent=False)

        self.albedo_encoder: AlbedoEncoder | None = None
        self.fusion: nn.ModuleList | None = None
        if cfg.spatial_guidance:
            k = cfg.guided_stages
            self.albedo_encoder = AlbedoEncoder(cfg.albedo_size, cfg.nf, cfg.zdim, k)
            self.fusion = nn.ModuleList(
                GuidanceFusion(cg, widths[r])
                for cg, r in zip(self.albedo_encoder.channels, stage_res[:k], strict=True)
            )

        self.decoder: PriorDecoder | None = None
        if cfg.prior_decoder:
            m = cfg.prior_stages
            self.decoder = PriorDecoder([widths[r] for r in stage_res[-m:]], cfg.output_size)

        if cfg.use_prior:
            self.generator.requires_grad_(False)
            self.generator.eval()
        else:
            self.generator.requires_grad_(True)
            self.generator.style.requires_grad_(False)  # bypassed: the ARN predicts w+ itself
            if cfg.prior_decoder:  # the RGB output is not used
                self.generator.to_rgb1.requires_grad_(False)
                self.generator.to_rgbs.requires_grad_(False)

    def train(self, mode: bool = True) -> ARN:
        """Set train/eval mode; a frozen (``use_prior``) generator always stays in eval."""
        super().train(mode)
        if self.cfg.use_prior:
            self.generator.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters to optimise: everything but the frozen generator (and, without
        ``use_prior``, the generator's unused mapping MLP and to-RGB layers)."""
        return [p for p in self.parameters() if p.requires_grad]

    # -- pieces

    def prepare_input(self, lq: Tensor) -> Tensor:
        """lq: (B, 3, H, H) in [-1, 1] -> (B, 3, input_size, input_size), bilinear (with
        antialiasing when shrinking)."""
        if lq.ndim != 4 or lq.shape[1] != 3 or lq.shape[2] != lq.shape[3]:
            raise ValueError(f"lq must be (B, 3, H, H), got {tuple(lq.shape)}")
        s = self.cfg.input_size
        if lq.shape[-1] == s:
            return lq
        return F.interpolate(
            lq, size=(s, s), mode="bilinear", align_corners=False, antialias=lq.shape[-1] > s
        )

    def style_codes(self, lq: Tensor) -> Tensor:
        """lq: (B, 3, H, H) in [-1, 1] -> style codes (B, n, style_dim), ``w_avg`` included."""
        return self.style_encoder(self.prepare_input(lq)) + self.w_avg

    def expand_codes(self, styles: Tensor) -> Tensor:
        """styles: (B, n, style_dim) -> w+ (B, n_latent, style_dim) (:func:`latent_code_index`)."""
        return styles[:, self.code_index]

    # -- forward

    def restore(self, lq: Tensor, proxy_albedo: Tensor | None = None) -> ArnOutput:
        """lq: (B, 3, H, H) in [-1, 1]; proxy_albedo: (B, 3, A, A) in [-1, 1], A =
        ``albedo_size`` (ignored, and may be None, without spatial guidance) -> :class:`ArnOutput`.
        """
        styles = self.style_codes(lq)
        latents = self.expand_codes(styles)
        feature_fn = None
        if self.albedo_encoder is not None and self.fusion is not None:
            a = self.cfg.albedo_size
            if proxy_albedo is None:
                raise ValueError("proxy_albedo is required with spatial guidance")
            if proxy_albedo.ndim != 4 or proxy_albedo.shape[1:] != (3, a, a):
                raise ValueError(
                    f"proxy_albedo must be (B, 3, {a}, {a}), got {tuple(proxy_albedo.shape)}"
                )
            if proxy_albedo.shape[0] != lq.shape[0]:
                raise ValueError(
                    f"lq and proxy_albedo batch sizes differ: {lq.shape[0]}, "
                    f"{proxy_albedo.shape[0]}"
                )
            guides = self.albedo_encoder(proxy_albedo)
            fusion = self.fusion

            def feature_fn(stage: int, feat: Tensor) -> Tensor:
                if stage < len(guides):
                    return fusion[stage](guides[stage], feat)
                return feat

        out = self.generator.synthesis(
            latents, noise=self.cfg.noise, return_features=True, feature_fn=feature_fn
        )
        if self.decoder is not None:
            albedo = self.decoder(out.features[-self.cfg.prior_stages :])
        else:
            albedo = _downsample_to(out.image, self.cfg.output_size).clamp(-1, 1)
        return ArnOutput(albedo=albedo, styles=styles, latents=latents, generator_image=out.image)

    def forward(self, lq: Tensor, proxy_albedo: Tensor | None = None) -> Tensor:
        """lq: (B, 3, H, H) in [-1, 1], proxy_albedo: (B, 3, A, A) in [-1, 1] -> restored
        canonical albedo a_r: (B, 3, out, out) in [-1, 1]."""
        return self.restore(lq, proxy_albedo).albedo


def _check_generator(generator: Generator, want: GeneratorConfig) -> None:
    if not isinstance(generator, Generator):
        raise L2RError(f"generator must be a StyleGAN2 Generator, got {type(generator).__name__}")
    got = generator.cfg
    same = (
        got.size == want.size
        and got.style_dim == want.style_dim
        and got.n_mlp == want.n_mlp
        and got.widths() == want.widths()
    )
    if not same:
        raise L2RError(
            f"the generator (size {got.size}, style_dim {got.style_dim}, n_mlp {got.n_mlp}, "
            f"widths {got.widths()}) does not match arn.generator (size {want.size}, style_dim "
            f"{want.style_dim}, n_mlp {want.n_mlp}, widths {want.widths()}); use "
            f"dataclasses.replace(cfg, generator=info.generator) with load_stylegan2's info"
        )


__all__ = [
    "ARN",
    "NOISE_MODES",
    "AlbedoEncoder",
    "ArnConfig",
    "ArnOutput",
    "GuidanceFusion",
    "PriorDecoder",
    "StyleEncoder",
    "latent_code_index",
    "paper_preset",
]
