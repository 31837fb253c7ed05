"""The Albedo Restoration Network stage (paper sec. 4.1): its run config and its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from click import Choice, IntRange

from l2r_cli.config import TrainConfig
from l2r_cli.engine.registry import CliOption, StageSpec, register_stage


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


def degraded_train() -> TrainConfig:
    """The engine settings of the stages trained on degraded data (paper: batch 16, lq)."""
    return TrainConfig(batch_size=16, input="lq")


@dataclass(frozen=True)
class ArnRunConfig:
    """Everything `l2r train-arn` needs."""

    model: ArnModelConfig = field(default_factory=ArnModelConfig)
    loss: ArnLossConfig = field(default_factory=ArnLossConfig)
    optim: ArnOptimConfig = field(default_factory=ArnOptimConfig)
    train: TrainConfig = field(default_factory=degraded_train)
    """Paper: batch 16; ``input`` must be 'lq' (the ARN always sees the degraded images)."""
    sources: ArnSourcesConfig = field(default_factory=ArnSourcesConfig)


register_stage(
    StageSpec(
        kind="arn",
        config=ArnRunConfig,
        stage="l2r_cli.stages.arn:ArnStage",
        summary="Train the Albedo Restoration Network (paper sec. 4.1) on a degraded dataset.",
        help="""Train the Albedo Restoration Network (paper sec. 4.1) on a degraded dataset.

The proxy (--proxy) is frozen; the generator's architecture, and with --use-prior its frozen
weights, come from --prior (also needed with --no-use-prior, for the architecture).

\b
Example:
  l2r degrade photos/ data/deg --gt-size 256 --lq-size 32
  l2r train-arn --data data/deg --proxy runs/proxy --prior runs/prior/prior.pt \\
      --out runs/arn --epochs 30 --batch-size 16
  torchrun --nproc-per-node 2 -m l2r_cli train-arn --data data/deg --proxy runs/proxy \\
      --prior runs/prior/prior.pt --out runs/arn_ddp
""",
        pipeline="DATA + --proxy runs/proxy + --prior prior.pt -> runs/arn",
        order=30,
        options=(
            CliOption(
                ("--proxy",),
                "sources.proxy",
                "Trained proxy (file, run dir or 'bundled'), kept frozen.",
                metavar="CKPT",
            ),
            CliOption(
                ("--prior",),
                "sources.prior",
                "StyleGAN2 prior (rosinality layout).",
                metavar="PRIOR.pt",
            ),
            CliOption(
                ("--output-size",),
                "model.output_size",
                "Output size O (0 = G size).",
                IntRange(min=0),
                metavar="O",
            ),
            CliOption(
                ("--n-styles",),
                "model.n_styles",
                "Style codes (0 = one per stage).",
                IntRange(min=0),
            ),
            CliOption(
                ("--guided-stages",),
                "model.guided_stages",
                "Stages fed the proxy albedo (K).",
                IntRange(min=1),
                metavar="K",
            ),
            CliOption(
                ("--prior-stages",),
                "model.prior_stages",
                "Stages decoded (M).",
                IntRange(min=1),
                metavar="M",
            ),
            CliOption(("--nf",), "model.nf", "Encoder width.", IntRange(min=1)),
            CliOption(("--zdim",), "model.zdim", "Encoder bottleneck.", IntRange(min=1)),
            CliOption(
                ("--mapping-layers",),
                "model.mapping_layers",
                "Encoder mapping layers.",
                IntRange(min=1),
            ),
            CliOption(
                ("--noise",),
                "model.noise",
                "Generator noise inputs.",
                Choice(["zero", "stored", "random"]),
            ),
            CliOption(
                ("--use-prior/--no-use-prior",),
                "model.use_prior",
                "Pretrained frozen generator (no: same architecture, trained).",
            ),
            CliOption(
                ("--multi-style/--no-multi-style",),
                "model.multi_style",
                "One style code per stage group (no: a single code).",
            ),
            CliOption(
                ("--spatial-guidance/--no-spatial-guidance",),
                "model.spatial_guidance",
                "Fuse the proxy albedo into the first K stages.",
            ),
            CliOption(
                ("--prior-decoder/--no-prior-decoder",),
                "model.prior_decoder",
                "Decode the last M stages' features (no: generator RGB).",
            ),
            CliOption(
                ("--use-sigma/--no-use-sigma",),
                "loss.use_sigma",
                "Weight the loss by the proxy's confidence.",
            ),
        ),
        sources=("sources.proxy", "sources.prior"),
        loader="l2r_cli.inference:load_arn_model",
        label="+ARN",
    )
)
