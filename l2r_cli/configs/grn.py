"""The Geometry Refining Network stage (paper sec. 4.2): its run config and its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from click import FloatRange, IntRange

from l2r_cli.config import TrainConfig
from l2r_cli.configs.arn import ArnOptimConfig, degraded_train
from l2r_cli.engine.registry import CliOption, StageSpec, register_stage
from l2r_cli.errors import L2RError


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
    lam_depth_sup: float = 0.0
    """Weight of a supervised L1 between the refined face's depth rendered into the view and
    the dataset's ``depth`` (the true depth in the true view), in units of 0.01 (not in the
    paper; docs/deviations.md). Needs data with exact depth (``l2r synth`` through ``l2r
    degrade``); 0 = off, as in the paper."""

    def __post_init__(self) -> None:
        if not self.lam_depth_sup >= 0:
            raise L2RError(f"loss.lam_depth_sup must be >= 0, got {self.lam_depth_sup}")


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
    train: TrainConfig = field(default_factory=degraded_train)
    """Paper: batch 16, 30 epochs; ``input`` must be 'lq'."""
    sources: GrnSourcesConfig = field(default_factory=GrnSourcesConfig)


register_stage(
    StageSpec(
        kind="grn",
        config=GrnRunConfig,
        stage="l2r_cli.stages.grn:GrnStage",
        summary="Train the Geometry Refining Network (paper sec. 4.2) with the ARN frozen.",
        help="""Train the Geometry Refining Network (paper sec. 4.2) with the ARN frozen.

The proxy's view and light are used; the ARN checkpoint names the proxy and prior.

\b
Example:
  l2r train-grn --data data/deg --arn runs/arn --out runs/grn --epochs 30
  torchrun --nproc-per-node 2 -m l2r_cli train-grn --data data/deg --arn runs/arn \\
      --out runs/grn_ddp
""",
        pipeline="DATA + --arn runs/arn -> runs/grn",
        order=40,
        options=(
            CliOption(
                ("--arn",),
                "sources.arn",
                "Trained ARN (file or run dir), kept frozen.",
                metavar="CKPT",
            ),
            CliOption(("--nf",), "model.nf", "GRN width.", IntRange(min=1)),
            CliOption(("--zdim",), "model.zdim", "GRN bottleneck.", IntRange(min=1)),
            CliOption(
                ("--use-restored/--no-use-restored",),
                "model.use_restored",
                "The restored albedo is a GRN input (no: Table 2 row 7).",
            ),
            CliOption(
                ("--displacement/--no-displacement",),
                "model.displacement",
                "Learn the displacement map (no: Table 2 row 8).",
            ),
            CliOption(
                ("--residual-depth/--no-residual-depth",),
                "model.residual_depth",
                "Depth = proxy depth + residual (no: from scratch).",
            ),
            CliOption(
                ("--use-sigma/--no-use-sigma",),
                "loss.use_sigma",
                "Weight the loss by the proxy's confidence.",
            ),
            CliOption(("--beta",), "loss.beta", "Smoothness weight of m.", FloatRange(min=0)),
        ),
        sources=("sources.arn",),
        loader="l2r_cli.inference:load_refined_model",
        label="+ARN +GRN",
    )
)
