"""Typed, frozen run configurations and their TOML/flag resolution.

Every stage's configuration is a tree of frozen dataclasses. A run's configuration is resolved
from, in order: the dataclass defaults, a TOML file (``--config``), then command-line flags.
Unknown keys are an error (one line, naming the key), never silently ignored. The resolved
configuration is saved beside every run and inside every checkpoint.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from l2r_cli.errors import L2RError

T = TypeVar("T")


@dataclass(frozen=True)
class ProxyModelConfig:
    """Unsup3D proxy networks and their output post-processing (REFERENCE.md, paper sec. 3)."""

    image_size: int = 64
    """Input/output resolution of the proxy (a power of two >= 16)."""
    nf: int = 64
    """Base width of the depth, albedo and confidence nets."""
    zdim: int = 256
    """Bottleneck width of the depth and albedo encoder-decoders."""
    nf_pose: int = 32
    """Base width of the light and view encoders."""
    conf_zdim: int = 128
    """Bottleneck width of the confidence net."""
    min_depth: float = 0.9
    """Near end of the canonical depth range."""
    max_depth: float = 1.1
    """Far end of the canonical depth range."""
    border_depth_mix: float = 0.7
    """Border columns get depth mix*max + (1-mix)*min."""
    fov: float = 10.0
    """Horizontal and vertical field of view in degrees."""
    rot_range: float = 60.0
    """Maximum rotation of the view net about each axis, degrees."""
    xy_trans_range: float = 0.1
    """Maximum x/y translation of the view net."""
    z_trans_range: float = 0.0
    """Maximum z translation of the view net (0 for faces)."""
    use_conf: bool = True
    """Predict confidence maps (sigma) for the photometric loss."""
    depth_init_scale: float = 1.0
    """Scale of the depth net's output-layer initial weights (1 = PyTorch's default init, as
    Unsup3D; 0 starts from a flat depth, which never breaks the symmetry: see docs/proxy.md)."""
    depth_smooth: int = 1
    """Average-pool the raw depth by this factor and upsample it bicubically back, so the
    depth has S/depth_smooth degrees of freedom per side (1 = Unsup3D's per-pixel depth)."""
    basrelief_gain: bool = False
    """Learn one global scalar g that moves every prediction along the bas-relief family: the
    relief (mean-free raw depth, before tanh) times exp(-g), pitch and yaw times exp(g), the
    light's lateral components (dx, dy) times exp(g). A face twice as deep, turned half as far
    and lit from half as far to the side looks almost the same, so the nets drift along that
    family only slowly; g moves along it at ``optim.gain_lr`` (see docs/proxy.md)."""
    basrelief_gain_init: float = 1.0
    """Starting value of the bas-relief gain exp(g) (with ``basrelief_gain``)."""
    albedo_symmetric: bool = False
    """Make the canonical albedo exactly left-right symmetric (mean of the albedo net's output
    and its mirror image). Unsup3D only encourages this through the flipped reconstruction;
    forcing it sends lateral shading to the light and view nets (docs/proxy.md)."""
    depth_detilt: bool = False
    """Remove the vertical linear trend (least squares over the grid) from the raw canonical
    depth, so that a per-image pitch must come from the view net rather than from a tilted
    canonical face; a constant tilt of the true face becomes a constant pitch offset, which
    leaves the depth in the input view unchanged to first order (docs/proxy.md)."""

    def __post_init__(self) -> None:
        s = self.image_size
        if s < 16 or s & (s - 1):
            raise L2RError(f"model.image_size must be a power of two >= 16, got {s}")
        if not 0 < self.min_depth < self.max_depth:
            raise L2RError(
                f"model.min_depth must be > 0 and < model.max_depth, got "
                f"{self.min_depth} and {self.max_depth}"
            )
        if not 0 < self.fov < 180:
            raise L2RError(f"model.fov must be in (0, 180) degrees, got {self.fov}")
        if self.depth_smooth < 1:
            raise L2RError(f"model.depth_smooth must be >= 1, got {self.depth_smooth}")
        if not self.basrelief_gain_init > 0:
            raise L2RError(f"model.basrelief_gain_init must be > 0, got {self.basrelief_gain_init}")


@dataclass(frozen=True)
class ProxyLossConfig:
    """Weights of the proxy objective."""

    lam_flip: float = 0.5
    """Weight of the flipped reconstruction's loss."""
    lam_perc: float = 1.0
    """Weight of the VGG16 perceptual term (used only with vgg_weights)."""
    vgg_weights: str = ""
    """Path of a VGG16 ImageNet state_dict (torchvision key names); empty = perceptual term off."""


@dataclass(frozen=True)
class OptimConfig:
    """Adam settings."""

    lr: float = 1e-4
    """Learning rate."""
    beta1: float = 0.9
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    weight_decay: float = 5e-4
    """L2 weight decay."""
    gain_lr: float = 1e-2
    """Learning rate of the proxy's bas-relief gain (``model.basrelief_gain``); no weight decay."""
    pose_lr_mult: float = 1.0
    """The view and light nets learn at ``lr`` times this (1 = one rate for every net)."""
    gain_refit_batches: int = 0
    """When training ends, refit the bas-relief gain alone by a line search of the plain
    photometric L1 on this many training batches, nets frozen (0 = off; docs/proxy.md)."""


@dataclass(frozen=True)
class TrainConfig:
    """What every stage's training loop shares."""

    epochs: int = 30
    """Passes over the training split."""
    batch_size: int = 64
    """Global batch size (split evenly over torchrun processes)."""
    num_workers: int = 2
    """DataLoader worker processes per training process."""
    ckpt_every: int = 500
    """Write a checkpoint every this many steps (and always at the end of an epoch)."""
    keep_last: int = 3
    """How many step checkpoints to keep (epoch-end checkpoints are kept too)."""
    log_every: int = 10
    """Refresh the progress line every this many steps."""
    max_steps: int = 0
    """Stop after this many optimizer steps in total (0 = no limit)."""
    max_minutes: float = 0.0
    """Stop at the first step boundary after this many minutes of training wall time in total
    (summed over resumed sessions; 0 = no limit). A run stopped by it ends like a finished one
    (the stage's end-of-training step runs); where it stops depends on the host's speed."""
    lr_cosine_steps: int = 0
    """Anneal every learning rate along a half cosine from its start to ``lr_final_ratio``
    times it over this many steps, then hold it there (0 = constant rates). The rate depends on
    the step alone, so a resumed run follows the same schedule."""
    lr_final_ratio: float = 0.1
    """Where ``lr_cosine_steps`` ends, as a fraction of each starting rate."""
    input: str = "image"
    """Which images the network sees: 'image' (original) or 'lq' (degraded, when present)."""
    panels: bool = True
    """Write an image panel at the end of every epoch."""


@dataclass(frozen=True)
class ProxyRunConfig:
    """Everything `l2r train-proxy` needs."""

    model: ProxyModelConfig = field(default_factory=ProxyModelConfig)
    loss: ProxyLossConfig = field(default_factory=ProxyLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class PriorModelConfig:
    """l2r's own StyleGAN2 prior: generator and discriminator architecture (docs/training.md)."""

    size: int = 64
    """Resolution S the prior generates and the discriminator reads (a power of two >= 8);
    the dataset's ground-truth images are resized to it."""
    style_dim: int = 512
    """Width of z, w and of every mapping layer (official StyleGAN2: 512)."""
    n_mlp: int = 8
    """Number of mapping layers (official: 8)."""
    channel_multiplier: int = 2
    """Widths from rosinality's table: 512 up to 32x32, then 256 m, 128 m, ... (2 = config-f)."""
    max_channels: int = 0
    """Cap every width of that table at this many channels (0 = no cap); small CPU priors use
    e.g. 32. Generator and discriminator share the widths."""
    lr_mlp: float = 0.01
    """Learning-rate multiplier of the mapping layers (official: 0.01)."""
    mbstd_group: int = 4
    """Minibatch-stddev group size of the discriminator (per process: groups never span ranks)."""


@dataclass(frozen=True)
class PriorLossConfig:
    """StyleGAN2's objective: non-saturating logistic loss, lazy R1, optional path-length term."""

    r1_gamma: float = 10.0
    """R1 weight gamma: the penalty is gamma/2 * E|grad_x D(x)|^2 on reals (0 = off)."""
    d_reg_every: int = 16
    """Lazy R1: apply it every this many steps, scaled by the interval (official: 16)."""
    pl_weight: float = 0.0
    """Path-length regularisation weight (0 = off, the default; official config-f: 2)."""
    g_reg_every: int = 4
    """Lazy path-length regularisation interval in steps (official: 4)."""
    pl_batch_shrink: int = 2
    """The path-length batch is the (per-process) batch divided by this (official: 2)."""
    pl_decay: float = 0.01
    """Decay of the running mean path length a (official: 0.01)."""
    mixing_prob: float = 0.9
    """Probability that a generated batch mixes two latents at a random layer (0 = off)."""


@dataclass(frozen=True)
class PriorOptimConfig:
    """The two Adams (G and D) and the generator's exponential moving average."""

    lr: float = 0.002
    """Learning rate of G and D (official: 0.002)."""
    beta1: float = 0.0
    """Adam beta1 (official: 0)."""
    beta2: float = 0.99
    """Adam beta2 (official: 0.99)."""
    ema_kimg: float = 10.0
    """Half-life of g_ema in thousands of images: decay per step 0.5 ** (B / (1000 ema_kimg))
    (official: 10)."""
    ema_rampup: float = 0.05
    """Cap the half-life at this fraction of the images seen so far, so g_ema follows g early
    in short runs (StyleGAN2-ADA; 0 = off, the original StyleGAN2)."""


@dataclass(frozen=True)
class PriorEvalConfig:
    """The per-epoch quality readout and the sample grid (not part of the training)."""

    n_images: int = 256
    """Generated and held-out images compared after every epoch (0 = no readout); at most the
    size of the held-out split ('val', else 'test') is used."""
    k: int = 3
    """Neighbourhood size of the k-NN manifold estimate (Kynkaanniemi et al. 2019: 3)."""
    features: str = "pixels"
    """Feature space: 'pixels' (images area-averaged to 16x16, 768 values) or 'randconv'
    (three fixed random 3x3 stride-2 convs, pooled to 4x4)."""
    samples: int = 32
    """Images in the per-epoch sample grid (fixed z, g_ema), 8 per row."""
    seed: int = 0
    """Seed of the fixed latents of the grid and the readout (independent of --seed)."""


@dataclass(frozen=True)
class PriorRunConfig:
    """Everything `l2r train-prior` needs."""

    model: PriorModelConfig = field(default_factory=PriorModelConfig)
    loss: PriorLossConfig = field(default_factory=PriorLossConfig)
    optim: PriorOptimConfig = field(default_factory=PriorOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: PriorEvalConfig = field(default_factory=PriorEvalConfig)


@dataclass(frozen=True)
class ArnModelConfig:
    """The ARN's architecture as flags/TOML (``l2r_cli.models.arn.ArnConfig``; docs/arn.md).

    The generator's architecture is not here: it is read from the prior file (``--prior``),
    and the ARN's input and albedo sizes are the proxy's image size.
    """

    output_size: int = 256
    """Side of the restored albedo and of the re-render (paper: 256); a power of two no larger
    than the generator; 0 = the generator's size."""
    n_styles: int = 0
    """n: style codes (1..generator stages); 0 = one per stage (the paper's n = 9)."""
    guided_stages: int = 4
    """k: generator stages 4x4, 8x8, ... that receive the albedo's spatial guidance."""
    prior_stages: int = 4
    """m: last generator stages whose features the prior decoder reads."""
    nf: int = 64
    """Base width of the style and albedo encoders."""
    zdim: int = 256
    """Bottleneck width of the style and albedo encoders."""
    mapping_layers: int = 8
    """Linear layers of the style mapping MLP."""
    mapping_lr_mul: float = 1.0
    """Equalized-lr multiplier of the mapping layers."""
    noise: str = "zero"
    """Generator noise: 'zero', 'stored' or 'random'."""
    use_prior: bool = True
    """False = Table 3 "w/o StyleGAN prior": the prior file's architecture, random init, trained."""
    multi_style: bool = True
    """False = Table 3 "w/o multi-style code"."""
    spatial_guidance: bool = True
    """False = Table 3 "w/o spatial guidance"."""
    prior_decoder: bool = True
    """False = Table 3 "w/o prior decoder"."""


@dataclass(frozen=True)
class ArnLossConfig:
    """Eqn. (7) without the adversarial and smoothness terms."""

    lam_flip: float = 0.5
    """Weight of the flipped re-render's loss."""
    use_sigma: bool = True
    """Weight the photometric loss by the frozen proxy's confidence, upsampled to the output
    size (False = plain masked L1)."""


@dataclass(frozen=True)
class ArnOptimConfig:
    """Adam of the ARN (paper: lr 1e-4; betas and weight decay unstated)."""

    lr: float = 1e-4
    """Learning rate."""
    beta1: float = 0.9
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    weight_decay: float = 0.0
    """L2 weight decay."""


@dataclass(frozen=True)
class ArnSourcesConfig:
    """The frozen inputs of the ARN stage: paths and content hashes (checked on resume and load)."""

    proxy: str = ""
    """The proxy checkpoint file (a run directory is resolved to its last.pt)."""
    prior: str = ""
    """The StyleGAN2 prior file (rosinality layout); without use_prior only its architecture."""
    proxy_sha256: str = ""
    """SHA-256 of the proxy file, filled in when training starts."""
    prior_sha256: str = ""
    """SHA-256 of the prior file, filled in when training starts."""


def _arn_train() -> TrainConfig:
    return TrainConfig(batch_size=16, input="lq")


@dataclass(frozen=True)
class ArnRunConfig:
    """Everything `l2r train-arn` needs."""

    model: ArnModelConfig = field(default_factory=ArnModelConfig)
    loss: ArnLossConfig = field(default_factory=ArnLossConfig)
    optim: ArnOptimConfig = field(default_factory=ArnOptimConfig)
    train: TrainConfig = field(default_factory=_arn_train)
    """Paper: batch 16; ``input`` must be 'lq' (the ARN always sees the degraded images)."""
    sources: ArnSourcesConfig = field(default_factory=ArnSourcesConfig)


@dataclass(frozen=True)
class GrnModelConfig:
    """The GRN's architecture (``l2r_cli.models.grn.GrnConfig``; docs/grn.md). Its size is the
    ARN's output size and its depth range the proxy's."""

    nf: int = 64
    """Base width of the encoder-decoder."""
    zdim: int = 256
    """Bottleneck width."""
    use_restored: bool = True
    """False = Table 2 "w/o restored image": the restored albedo is not an input."""
    displacement: bool = True
    """False = Table 2 "w/o displacement map": no m, the surface is the pure depth."""
    residual_depth: bool = True
    """Start from the proxy's depth and learn a residual (False: depth from scratch)."""
    residual_range: float = 0.03
    """Largest |d - proxy depth| in depth units (with residual_depth)."""
    max_displacement: float = 0.01
    """Largest |m| per component, in depth units."""


@dataclass(frozen=True)
class GrnLossConfig:
    """Eqn. (7) without the adversarial term (the mutual stage adds it)."""

    lam_flip: float = 0.5
    """Weight of the flipped re-render's loss."""
    use_sigma: bool = True
    """Weight the photometric loss by the frozen proxy's confidence (False = plain L1)."""
    beta: float = 0.1
    """beta of eqn. (7): weight of the Laplacian smoothness of the displacement map."""


@dataclass(frozen=True)
class GrnSourcesConfig:
    """The frozen input of the GRN stage: the ARN checkpoint (which names the proxy and prior)."""

    arn: str = ""
    """The 'arn' checkpoint file (a run directory is resolved to its last.pt)."""
    arn_sha256: str = ""
    """SHA-256 of the ARN file, filled in when training starts."""


@dataclass(frozen=True)
class GrnRunConfig:
    """Everything `l2r train-grn` needs."""

    model: GrnModelConfig = field(default_factory=GrnModelConfig)
    loss: GrnLossConfig = field(default_factory=GrnLossConfig)
    optim: ArnOptimConfig = field(default_factory=ArnOptimConfig)
    train: TrainConfig = field(default_factory=_arn_train)
    """Paper: batch 16, 30 epochs; ``input`` must be 'lq'."""
    sources: GrnSourcesConfig = field(default_factory=GrnSourcesConfig)


@dataclass(frozen=True)
class CrossViewConfig:
    """The random view and light of the cross-view adversarial loss (eqn. 6)."""

    yaw: float = 45.0
    """Yaw drawn uniformly from [-yaw, yaw] degrees."""
    pitch: float = 20.0
    """Pitch drawn uniformly from [-pitch, pitch] degrees."""
    light_xy: float = 0.5
    """Lateral light direction dx, dy drawn uniformly from [-light_xy, light_xy]."""
    ambient: tuple[float, float] = (0.3, 0.7)
    """Ambient strength range."""
    diffuse: tuple[float, float] = (0.3, 0.7)
    """Diffuse strength range."""


@dataclass(frozen=True)
class DiscConfig:
    """The StyleGAN2 discriminator of eqn. (6)."""

    init: str = "auto"
    """'auto': the prior file's ``d`` when it has one of the output size, else from scratch;
    'prior': require it; 'scratch': always from scratch."""
    max_channels: int = 64
    """Width cap of a discriminator built from scratch (channel multiplier 1 below it)."""
    lr: float = 2e-4
    """Adam learning rate of the discriminator (betas 0, 0.99 as StyleGAN2)."""
    r1_gamma: float = 1.0
    """R1 penalty weight on real images (0 = off), applied every step."""


@dataclass(frozen=True)
class MutualLossConfig:
    """Eqn. (7)."""

    lam_flip: float = 0.5
    """Weight of the flipped re-render's loss."""
    use_sigma: bool = True
    """Weight the photometric loss by the frozen proxy's confidence (False = plain L1)."""
    alpha: float = 0.1
    """alpha of eqn. (7): weight of the cross-view adversarial loss (0 = Table 2 "w/o
    cross-view loss": no discriminator step either)."""
    beta: float = 0.1
    """beta of eqn. (7): weight of the Laplacian smoothness of the displacement map."""


@dataclass(frozen=True)
class MutualSourcesConfig:
    """The starting point of mutual learning: a GRN checkpoint (which names the ARN)."""

    grn: str = ""
    """The 'grn' checkpoint file (a run directory is resolved to its last.pt)."""
    grn_sha256: str = ""
    """SHA-256 of the GRN file, filled in when training starts."""


def _mutual_train() -> TrainConfig:
    return TrainConfig(batch_size=16, input="lq", epochs=20)


@dataclass(frozen=True)
class MutualRunConfig:
    """Everything `l2r train-mutual` needs."""

    loss: MutualLossConfig = field(default_factory=MutualLossConfig)
    cross_view: CrossViewConfig = field(default_factory=CrossViewConfig)
    disc: DiscConfig = field(default_factory=DiscConfig)
    optim: ArnOptimConfig = field(default_factory=ArnOptimConfig)
    """Adam of ARN, GRN, view and light nets together (paper: lr 1e-4)."""
    train: TrainConfig = field(default_factory=_mutual_train)
    """Paper: batch 16, 20 epochs; ``input`` must be 'lq'."""
    sources: MutualSourcesConfig = field(default_factory=MutualSourcesConfig)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, JSON/TOML-serialisable dict of a config dataclass tree."""
    return dataclasses.asdict(cfg)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (int, float, str, bool):
        if isinstance(value, bool) != (typ is bool) or not isinstance(value, typ):
            raise L2RError(
                f"config key '{key}': expected {typ.__name__}, got {type(value).__name__} {value!r}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise L2RError(f"config key '{key}': expected a list, got {value!r}")
        (inner, *_) = typing.get_args(typ) or (Any,)
        vals = [_coerce(v, inner, key) if inner is not Any else v for v in value]
        return tuple(vals) if origin is tuple else vals
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build config dataclass ``cls`` from a nested dict; unknown keys raise L2RError."""
    if not isinstance(data, dict):
        raise L2RError(f"config section '{prefix.rstrip('.') or '<root>'}' must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise L2RError(f"unknown config key '{prefix}{key}' (known here: {known})")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            # Start from the parent's default for this section (its default_factory may differ
            # from the section class's own defaults, e.g. train-arn's batch 16), then override.
            f = fields[key]
            if f.default_factory is not dataclasses.MISSING and isinstance(value, dict):
                value = merge(to_dict(f.default_factory()), value)
            kwargs[key] = from_dict(typ, value, prefix=f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, typ, f"{prefix}{key}")
    return cls(**kwargs)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a one-line L2RError."""
    p = Path(path)
    if not p.is_file():
        raise L2RError(f"config file not found: {p}")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise L2RError(f"config file {p} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise L2RError(f"config file {p} cannot be read: {exc}") from None


def dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn {'train.epochs': 3} into {'train': {'epochs': 3}}, dropping None values."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def resolve(cls: type[T], config_file: str | Path | None, overrides: dict[str, Any]) -> T:
    """Defaults < TOML file < flags (dotted keys)."""
    data: dict[str, Any] = {}
    if config_file:
        data = load_toml(config_file)
    data = merge(data, dotted(overrides))
    return from_dict(cls, data)


def to_toml(data: dict[str, Any]) -> str:
    """A nested dict of scalars and lists as TOML text (tomli-w, the writer that matches the
    standard library's tomllib reader)."""
    import tomli_w

    try:
        return tomli_w.dumps(data)
    except TypeError as exc:
        raise TypeError(f"cannot write to TOML: {exc}") from None
