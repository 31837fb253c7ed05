"""Mutual learning with the cross-view adversarial loss (paper sec. 4.3): its run config and
its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from click import Choice, FloatRange

from l2r_cli.config import TrainConfig
from l2r_cli.configs.arn import ArnOptimConfig
from l2r_cli.engine.registry import CliOption, StageSpec, register_stage
from l2r_cli.errors import L2RError


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
    lam_depth_sup: float = 0.0
    """As the GRN's (``[loss] lam_depth_sup``): supervised depth in the view, here also
    training the view net; 0 = off, as in the paper."""

    def __post_init__(self) -> None:
        if not self.lam_depth_sup >= 0:
            raise L2RError(f"loss.lam_depth_sup must be >= 0, got {self.lam_depth_sup}")


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


register_stage(
    StageSpec(
        kind="mutual",
        config=MutualRunConfig,
        stage="l2r_cli.stages.mutual:MutualStage",
        summary="Mutual learning (paper sec. 4.3) with the cross-view adversarial loss.",
        help="""Mutual learning (paper sec. 4.3): ARN, GRN, view and light nets with the
cross-view adversarial loss.

D starts from the prior file's discriminator when it has one of the output size.

\b
Example:
  l2r train-mutual --data data/deg --grn runs/grn --out runs/mutual --epochs 20
  l2r benchmark bfm --data data/deg --input lq runs/proxy runs/mutual
""",
        pipeline="DATA + --grn runs/grn -> runs/mutual",
        order=50,
        options=(
            CliOption(
                ("--grn",),
                "sources.grn",
                "Trained GRN (file or run dir) to start from.",
                metavar="CKPT",
            ),
            CliOption(
                ("--alpha",),
                "loss.alpha",
                "Cross-view adversarial weight; 0 = Table 2 row 9.",
                FloatRange(min=0),
            ),
            CliOption(("--beta",), "loss.beta", "Smoothness weight of m.", FloatRange(min=0)),
            CliOption(
                ("--disc-init",),
                "disc.init",
                "Where the discriminator starts.",
                Choice(["auto", "prior", "scratch"]),
            ),
            CliOption(
                ("--use-sigma/--no-use-sigma",),
                "loss.use_sigma",
                "Weight the loss by the proxy's confidence.",
            ),
        ),
        sources=("sources.grn",),
        loader="l2r_cli.inference:load_refined_model",
        label="L2R (mutual)",
    )
)
