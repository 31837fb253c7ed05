"""l2r's own StyleGAN2 prior (the generator of paper sec. 4, trained where no official weights
are at hand): its run config and its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from click import Choice, FloatRange, IntRange

from l2r_cli.config import TrainConfig
from l2r_cli.engine.registry import CliOption, StageSpec, register_stage


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


register_stage(
    StageSpec(
        kind="prior",
        config=PriorRunConfig,
        stage="l2r_cli.stages.prior:PriorStage",
        summary="Train a StyleGAN2 face prior on a dataset's ground-truth images (sec. 4).",
        help="""Train a StyleGAN2 face prior on a dataset's ground-truth images (paper sec. 4).

Writes OUT/prior.pt (rosinality's layout: g_ema, d, latent_avg) at every checkpoint, a sample
grid per epoch in OUT/panels/ and a precision/recall readout in OUT/log.jsonl. With official
StyleGAN2 weights at hand, skip this step and give them to train-arn --prior.

\b
Example:
  l2r synth data/synth --n 2000 --seed 1
  l2r train-prior --data data/synth --out runs/prior --size 32 --max-channels 64 \\
      --style-dim 128 --n-mlp 4 --batch-size 16 --epochs 5
  torchrun --nproc-per-node 2 -m l2r_cli train-prior --data data/synth --out runs/ddp
""",
        pipeline="DATA (GT images; or official StyleGAN2 weights) -> runs/prior/prior.pt",
        order=20,
        options=(
            CliOption(
                ("-s", "--size"),
                "model.size",
                "Resolution, a power of two >= 8.",
                metavar="S",
                type=int,
            ),
            CliOption(("--style-dim",), "model.style_dim", "z/w width.", IntRange(min=1)),
            CliOption(("--n-mlp",), "model.n_mlp", "Mapping layers.", IntRange(min=1)),
            CliOption(
                ("--channel-multiplier",),
                "model.channel_multiplier",
                "Width multiplier of the high-resolution layers.",
                IntRange(min=1),
                metavar="M",
            ),
            CliOption(
                ("--max-channels",),
                "model.max_channels",
                "Cap widths at C (0 = none).",
                IntRange(min=0),
                metavar="C",
            ),
            CliOption(("--r1-gamma",), "loss.r1_gamma", "R1 weight, 0 = off.", FloatRange(min=0)),
            CliOption(
                ("--d-reg-every",),
                "loss.d_reg_every",
                "Lazy R1 interval.",
                IntRange(min=1),
                metavar="K",
            ),
            CliOption(
                ("--pl-weight",),
                "loss.pl_weight",
                "Path length weight, 0 = off.",
                FloatRange(min=0),
            ),
            CliOption(
                ("--g-reg-every",),
                "loss.g_reg_every",
                "Lazy path-length interval.",
                IntRange(min=1),
                metavar="K",
            ),
            CliOption(
                ("--mixing-prob",),
                "loss.mixing_prob",
                "Style mixing probability.",
                FloatRange(0, 1),
            ),
            CliOption(
                ("--ema-kimg",), "optim.ema_kimg", "g_ema half-life in kimg.", FloatRange(min=0)
            ),
            CliOption(
                ("--ema-rampup",), "optim.ema_rampup", "EMA ramp-up, 0 = off.", FloatRange(min=0)
            ),
            CliOption(
                ("--eval-images",),
                "eval.n_images",
                "Quality readout size, 0 = off.",
                IntRange(min=0),
            ),
            CliOption(
                ("--eval-features",),
                "eval.features",
                "Features of the quality readout.",
                Choice(["pixels", "randconv"]),
            ),
        ),
    )
)
