"""The proxy stage (Unsup3D, paper sec. 3): its run config and its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from click import Choice, IntRange

from l2r_cli.config import OptimConfig, TrainConfig
from l2r_cli.engine.registry import CliOption, StageSpec, register_stage
from l2r_cli.errors import L2RError


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
    lam_depth_sup: float = 0.0
    """Weight of a supervised L1 between the predicted canonical depth and the dataset's
    ``canon_depth`` over ``canon_mask`` (off it, surroundings nearer than the far end of the
    range minus 10 % cost their distance), in units
    of 0.01 depth (about the face's relief). Needs data with exact canonical depths
    (``l2r synth``); 0 = off, as in the paper."""
    lam_view_sup: float = 0.0
    """Weight of a supervised L1 between the predicted rotation (pitch, yaw, roll; radians)
    and the dataset's ``view``. Needs ``l2r synth`` data; 0 = off, as in the paper."""

    def __post_init__(self) -> None:
        for name in ("lam_flip", "lam_perc", "lam_depth_sup", "lam_view_sup"):
            if not getattr(self, name) >= 0:
                raise L2RError(f"loss.{name} must be >= 0, got {getattr(self, name)}")

    def supervised_fields(self) -> tuple[str, ...]:
        """The dataset fields the supervised terms read (none when both are off)."""
        return (("canon_depth", "canon_mask") if self.lam_depth_sup > 0 else ()) + (
            ("view",) if self.lam_view_sup > 0 else ()
        )


@dataclass(frozen=True)
class ProxyRunConfig:
    """Everything `l2r train-proxy` needs."""

    model: ProxyModelConfig = field(default_factory=ProxyModelConfig)
    loss: ProxyLossConfig = field(default_factory=ProxyLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


register_stage(
    StageSpec(
        kind="proxy",
        config=ProxyRunConfig,
        stage="l2r_cli.stages.proxy:ProxyStage",
        summary="Train the Unsup3D 3D proxy (paper sec. 3) on an l2r dataset.",
        help="""Train the Unsup3D 3D proxy (paper sec. 3) on an l2r dataset.

\b
Example:
  l2r synth data/synth --n 2000 --seed 1
  l2r train-proxy --data data/synth --out runs/proxy --epochs 5 --batch-size 16
  torchrun --nproc-per-node 2 -m l2r_cli train-proxy --data data/synth --out runs/ddp
""",
        pipeline="DATA -> runs/proxy",
        order=10,
        options=(
            CliOption(("--nf",), "model.nf", "Width of depth/albedo/conf nets.", IntRange(min=4)),
            CliOption(("--zdim",), "model.zdim", "Bottleneck width.", IntRange(min=4)),
            CliOption(
                ("-s", "--size"),
                "model.image_size",
                "Input resolution the proxy works at.",
                Choice(["32", "64", "128", "256"]),
                convert=int,
            ),
            CliOption(
                ("--input",), "train.input", "Which images it sees.", Choice(["image", "lq"])
            ),
            CliOption(
                ("--vgg-weights",),
                "loss.vgg_weights",
                "VGG16 state_dict for the perceptual term (empty: off).",
                metavar="FILE",
            ),
        ),
        renamed={"--image-size": "--size"},
        loader="l2r_cli.inference:load_proxy_model",
        label="proxy",
    )
)
