"""`l2r train-proxy`, `l2r train-prior` (and, in later issues, the other stages' training
commands)."""

from __future__ import annotations

from pathlib import Path

import click

from l2r_cli.config import PriorRunConfig, ProxyRunConfig, resolve, to_dict, to_toml
from l2r_cli.console import console

_MAX_MINUTES = click.option(
    "--max-minutes",
    type=click.FloatRange(min=0),
    metavar="M",
    help="Stop after M minutes of training in all, then finish as at the end [0 = none].",
)
"""The wall-clock budget option every training command shares (``train.max_minutes``)."""


@click.command("train-proxy")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset directory (train split).")
@click.option("--out", required=True, metavar="DIR", help="Run directory for checkpoints/panels.")
@click.option("--config", "config_file", metavar="FILE.toml", help="TOML config (see --dry-run).")
@click.option("--epochs", type=click.IntRange(min=1), metavar="N", help="[default: 30]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N", help="Global batch [64].")
@click.option("--max-steps", type=click.IntRange(min=0), metavar="N", help="Stop after N steps.")
@_MAX_MINUTES
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam lr [1e-4].")
@click.option("--nf", type=click.IntRange(min=4), help="Width of depth/albedo/conf nets [64].")
@click.option("--zdim", type=click.IntRange(min=4), help="Bottleneck width [256].")
@click.option("--image-size", type=click.Choice(["32", "64", "128", "256"]), help="[64]")
@click.option("--input", "input_field", type=click.Choice(["image", "lq"]), help="[image]")
@click.option("--vgg-weights", metavar="FILE", help="VGG16 state_dict for the perceptual term.")
@click.option("--num-workers", type=click.IntRange(min=0), metavar="N", help="[2]")
@click.option("--ckpt-every", type=click.IntRange(min=1), metavar="STEPS", help="[500]")
@click.option("--resume", is_flag=True, help="Continue from OUT's last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.pass_obj
def train_proxy(g, data, out, config_file, dry_run, resume, **flags) -> None:
    """Train the Unsup3D 3D proxy (paper sec. 3) on an l2r dataset.

    \b
    Example:
      l2r synth data/synth --n 2000 --seed 1
      l2r train-proxy --data data/synth --out runs/proxy --epochs 5 --batch-size 16
      torchrun --nproc-per-node 2 -m l2r_cli train-proxy --data data/synth --out runs/ddp
    """
    keys = {
        "epochs": "train.epochs",
        "batch_size": "train.batch_size",
        "max_steps": "train.max_steps",
        "max_minutes": "train.max_minutes",
        "lr": "optim.lr",
        "nf": "model.nf",
        "zdim": "model.zdim",
        "image_size": "model.image_size",
        "input_field": "train.input",
        "vgg_weights": "loss.vgg_weights",
        "num_workers": "train.num_workers",
        "ckpt_every": "train.ckpt_every",
    }
    overrides = {keys[k]: v for k, v in flags.items()}
    if overrides.get("model.image_size") is not None:
        overrides["model.image_size"] = int(overrides["model.image_size"])
    _resolve_and_run("proxy", ProxyRunConfig, config_file, overrides, dry_run, data, out, resume, g)


_PRIOR_KEYS = {
    "size": "model.size",
    "style_dim": "model.style_dim",
    "n_mlp": "model.n_mlp",
    "channel_multiplier": "model.channel_multiplier",
    "max_channels": "model.max_channels",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "max_steps": "train.max_steps",
    "max_minutes": "train.max_minutes",
    "lr": "optim.lr",
    "ema_kimg": "optim.ema_kimg",
    "ema_rampup": "optim.ema_rampup",
    "r1_gamma": "loss.r1_gamma",
    "d_reg_every": "loss.d_reg_every",
    "pl_weight": "loss.pl_weight",
    "g_reg_every": "loss.g_reg_every",
    "mixing_prob": "loss.mixing_prob",
    "eval_images": "eval.n_images",
    "eval_features": "eval.features",
    "num_workers": "train.num_workers",
    "ckpt_every": "train.ckpt_every",
}


@click.command("train-prior")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset (train + val or test).")
@click.option("--out", required=True, metavar="DIR", help="Run directory (checkpoints, prior.pt).")
@click.option("--config", "config_file", metavar="FILE.toml", help="TOML config (see --dry-run).")
@click.option("--size", type=int, metavar="S", help="Resolution, a power of two >= 8 [64].")
@click.option("--style-dim", type=click.IntRange(min=1), metavar="N", help="z/w width [512].")
@click.option("--n-mlp", type=click.IntRange(min=1), metavar="N", help="Mapping layers [8].")
@click.option("--channel-multiplier", type=click.IntRange(min=1), metavar="M", help="[2]")
@click.option(
    "--max-channels", type=click.IntRange(min=0), metavar="C", help="Cap widths at C [0 = none]."
)
@click.option("--epochs", type=click.IntRange(min=1), metavar="N", help="[default: 30]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N", help="Global batch [64].")
@click.option("--max-steps", type=click.IntRange(min=0), metavar="N", help="Stop after N steps.")
@_MAX_MINUTES
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), metavar="X", help="G, D lr [0.002]."
)
@click.option(
    "--r1-gamma", type=click.FloatRange(min=0), metavar="X", help="R1 weight, 0 = off [10]."
)
@click.option("--d-reg-every", type=click.IntRange(min=1), metavar="K", help="Lazy R1 [16].")
@click.option(
    "--pl-weight", type=click.FloatRange(min=0), metavar="X", help="Path length, 0 = off [0]."
)
@click.option("--g-reg-every", type=click.IntRange(min=1), metavar="K", help="Lazy PL [4].")
@click.option("--mixing-prob", type=click.FloatRange(0, 1), metavar="X", help="Style mixing [0.9].")
@click.option(
    "--ema-kimg", type=click.FloatRange(min=0), metavar="X", help="g_ema half-life, kimg [10]."
)
@click.option("--ema-rampup", type=click.FloatRange(min=0), metavar="X", help="0 = off [0.05].")
@click.option(
    "--eval-images", type=click.IntRange(min=0), metavar="N", help="Readout size, 0 = off [256]."
)
@click.option("--eval-features", type=click.Choice(["pixels", "randconv"]), help="[pixels]")
@click.option("--num-workers", type=click.IntRange(min=0), metavar="N", help="[2]")
@click.option("--ckpt-every", type=click.IntRange(min=1), metavar="STEPS", help="[500]")
@click.option("--resume", is_flag=True, help="Continue from OUT's last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.pass_obj
def train_prior(g, data, out, config_file, dry_run, resume, **flags) -> None:
    """Train a StyleGAN2 face prior on a dataset's ground-truth images (paper sec. 4).

    Writes OUT/prior.pt (rosinality's layout: g_ema, d, latent_avg) at every checkpoint, a
    sample grid per epoch in OUT/panels/ and a precision/recall readout in OUT/log.jsonl.

    \b
    Example:
      l2r synth data/synth --n 2000 --seed 1
      l2r train-prior --data data/synth --out runs/prior --size 32 --max-channels 64 \\
          --style-dim 128 --n-mlp 4 --batch-size 16 --epochs 5
      torchrun --nproc-per-node 2 -m l2r_cli train-prior --data data/synth --out runs/ddp
    """
    overrides = {_PRIOR_KEYS[k]: v for k, v in flags.items()}
    _resolve_and_run("prior", PriorRunConfig, config_file, overrides, dry_run, data, out, resume, g)


_COMMON_KEYS = {
    "lr": "optim.lr",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "max_steps": "train.max_steps",
    "max_minutes": "train.max_minutes",
    "num_workers": "train.num_workers",
    "ckpt_every": "train.ckpt_every",
}
"""The engine options every degraded-data stage shares (train-arn, -grn, -mutual)."""


def _common_train_options(fn):
    """Options train-arn, -grn and -mutual share (the engine's, --config, --resume, --dry-run)."""
    for opt in reversed(
        [
            click.option(
                "--lr", type=click.FloatRange(min=0, min_open=True), metavar="X", help="[1e-4]"
            ),
            click.option(
                "--epochs", type=click.IntRange(min=1), metavar="N", help="[30; mutual: 20]"
            ),
            click.option(
                "--batch-size", type=click.IntRange(min=1), metavar="N", help="Global batch [16]."
            ),
            click.option(
                "--max-steps", type=click.IntRange(min=0), metavar="N", help="Stop after N steps."
            ),
            _MAX_MINUTES,
            click.option("--num-workers", type=click.IntRange(min=0), metavar="N", help="[2]"),
            click.option("--ckpt-every", type=click.IntRange(min=1), metavar="STEPS", help="[500]"),
            click.option(
                "--config", "config_file", metavar="FILE.toml", help="TOML config (see --dry-run)."
            ),
            click.option("--resume", is_flag=True, help="Continue from OUT's last checkpoint."),
            click.option("--dry-run", is_flag=True, help="Print the resolved config and exit."),
        ]
    ):
        fn = opt(fn)
    return fn


_ARN_KEYS = {
    **_COMMON_KEYS,
    "proxy": "sources.proxy",
    "prior": "sources.prior",
    "output_size": "model.output_size",
    "n_styles": "model.n_styles",
    "guided_stages": "model.guided_stages",
    "prior_stages": "model.prior_stages",
    "nf": "model.nf",
    "zdim": "model.zdim",
    "mapping_layers": "model.mapping_layers",
    "noise": "model.noise",
    "use_prior": "model.use_prior",
    "multi_style": "model.multi_style",
    "spatial_guidance": "model.spatial_guidance",
    "prior_decoder": "model.prior_decoder",
    "use_sigma": "loss.use_sigma",
}


def _switch(name: str, text: str):
    return click.option(f"--{name}/--no-{name}", default=None, help=text)


@click.command("train-arn")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset with 'image' and 'lq'.")
@click.option("--proxy", metavar="CKPT", help="Trained proxy (file or run dir), kept frozen.")
@click.option("--prior", metavar="PRIOR.pt", help="StyleGAN2 prior (rosinality layout).")
@click.option("--out", required=True, metavar="DIR", help="Run directory for checkpoints/panels.")
@click.option("--output-size", type=click.IntRange(min=0), metavar="O", help="[256; 0 = G size]")
@click.option("--n-styles", type=click.IntRange(min=0), metavar="N", help="[0 = one per stage]")
@click.option("--guided-stages", type=click.IntRange(min=1), metavar="K", help="[4]")
@click.option("--prior-stages", type=click.IntRange(min=1), metavar="M", help="[4]")
@click.option("--nf", type=click.IntRange(min=1), metavar="N", help="Encoder width [64].")
@click.option("--zdim", type=click.IntRange(min=1), metavar="N", help="Encoder bottleneck [256].")
@click.option("--mapping-layers", type=click.IntRange(min=1), metavar="N", help="[8]")
@click.option("--noise", type=click.Choice(["zero", "stored", "random"]), help="[zero]")
@_switch("use-prior", "Pretrained frozen generator (no: same architecture, trained) [yes].")
@_switch("multi-style", "One style code per stage group (no: a single code) [yes].")
@_switch("spatial-guidance", "Fuse the proxy albedo into the first K stages [yes].")
@_switch("prior-decoder", "Decode the last M stages' features (no: generator RGB) [yes].")
@_switch("use-sigma", "Weight the loss by the proxy's confidence [yes].")
@_common_train_options
@click.pass_obj
def train_arn(g, data, out, config_file, dry_run, resume, **flags) -> None:
    """Train the Albedo Restoration Network (paper sec. 4.1) on a degraded dataset.

    The proxy (--proxy) is frozen; the generator's architecture, and with --use-prior its
    frozen weights, come from --prior (also needed with --no-use-prior, for the architecture).

    \b
    Example:
      l2r degrade photos/ data/deg --gt-size 256 --lq-size 32
      l2r train-arn --data data/deg --proxy runs/proxy --prior runs/prior/prior.pt \\
          --out runs/arn --epochs 30 --batch-size 16
      torchrun --nproc-per-node 2 -m l2r_cli train-arn --data data/deg --proxy runs/proxy \\
          --prior runs/prior/prior.pt --out runs/arn_ddp
    """
    from l2r_cli.config import ArnRunConfig

    # A partial [train] table keeps the ARN's batch 16 and input 'lq': from_dict starts each
    # section from the run config's own default.
    overrides = {_ARN_KEYS[k]: v for k, v in flags.items()}
    _resolve_and_run("arn", ArnRunConfig, config_file, overrides, dry_run, data, out, resume, g)


_GRN_KEYS = {
    **_COMMON_KEYS,
    "arn": "sources.arn",
    "nf": "model.nf",
    "zdim": "model.zdim",
    "use_restored": "model.use_restored",
    "displacement": "model.displacement",
    "residual_depth": "model.residual_depth",
    "beta": "loss.beta",
    "use_sigma": "loss.use_sigma",
}


@click.command("train-grn")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset with 'image' and 'lq'.")
@click.option("--arn", metavar="CKPT", help="Trained ARN (file or run dir), kept frozen.")
@click.option("--out", required=True, metavar="DIR", help="Run directory for checkpoints/panels.")
@click.option("--nf", type=click.IntRange(min=1), metavar="N", help="GRN width [64].")
@click.option("--zdim", type=click.IntRange(min=1), metavar="N", help="GRN bottleneck [256].")
@_switch("use-restored", "The restored albedo is a GRN input (no: Table 2 row 7) [yes].")
@_switch("displacement", "Learn the displacement map (no: Table 2 row 8) [yes].")
@_switch("residual-depth", "Depth = proxy depth + residual (no: from scratch) [yes].")
@_switch("use-sigma", "Weight the loss by the proxy's confidence [yes].")
@click.option("--beta", type=click.FloatRange(min=0), metavar="X", help="Smoothness of m [0.1].")
@_common_train_options
@click.pass_obj
def train_grn(g, data, out, config_file, dry_run, resume, **flags) -> None:
    """Train the Geometry Refining Network (paper sec. 4.2) with the ARN frozen.

    The proxy's view and light are used; the ARN checkpoint names the proxy and prior.

    \b
    Example:
      l2r train-grn --data data/deg --arn runs/arn --out runs/grn --epochs 30
      torchrun --nproc-per-node 2 -m l2r_cli train-grn --data data/deg --arn runs/arn \\
          --out runs/grn_ddp
    """
    overrides = {_GRN_KEYS[k]: v for k, v in flags.items()}
    from l2r_cli.config import GrnRunConfig

    _resolve_and_run("grn", GrnRunConfig, config_file, overrides, dry_run, data, out, resume, g)


_MUTUAL_KEYS = {
    **_COMMON_KEYS,
    "grn": "sources.grn",
    "alpha": "loss.alpha",
    "beta": "loss.beta",
    "use_sigma": "loss.use_sigma",
    "disc_init": "disc.init",
}


@click.command("train-mutual")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset with 'image' and 'lq'.")
@click.option("--grn", metavar="CKPT", help="Trained GRN (file or run dir) to start from.")
@click.option("--out", required=True, metavar="DIR", help="Run directory for checkpoints/panels.")
@click.option(
    "--alpha",
    type=click.FloatRange(min=0),
    metavar="X",
    help="Cross-view adversarial weight; 0 = Table 2 row 9 [0.1].",
)
@click.option("--beta", type=click.FloatRange(min=0), metavar="X", help="Smoothness of m [0.1].")
@click.option(
    "--disc-init", type=click.Choice(["auto", "prior", "scratch"]), help="Discriminator [auto]."
)
@_switch("use-sigma", "Weight the loss by the proxy's confidence [yes].")
@_common_train_options
@click.pass_obj
def train_mutual(g, data, out, config_file, dry_run, resume, **flags) -> None:
    """Mutual learning (paper sec. 4.3): ARN, GRN, view and light nets with the cross-view
    adversarial loss.

    D starts from the prior file's discriminator when it has one of the output size.

    \b
    Example:
      l2r train-mutual --data data/deg --grn runs/grn --out runs/mutual --epochs 20
      l2r benchmark bfm --data data/deg --input lq --ckpt runs/proxy --ckpt runs/mutual
    """
    overrides = {_MUTUAL_KEYS[k]: v for k, v in flags.items()}
    from l2r_cli.config import MutualRunConfig

    _resolve_and_run(
        "mutual", MutualRunConfig, config_file, overrides, dry_run, data, out, resume, g
    )


def _resolve_and_run(
    kind: str, cls: type, config_file, overrides: dict, dry_run: bool, data, out, resume: bool, g
) -> None:
    """Defaults < TOML < flags; print the resolved config with ``--dry-run``, else train."""
    cfg = resolve(cls, config_file, overrides)
    if dry_run:
        console.print(to_toml(to_dict(cfg)), end="", markup=False, highlight=False)
        return
    from l2r_cli.stages.run import run_stage

    run_stage(kind, cfg, data=Path(data), out=Path(out), resume=resume, g=g)


def train_commands() -> list[click.Command]:
    """The training commands, in pipeline order."""
    return [train_proxy, train_prior, train_arn, train_grn, train_mutual]


def pipeline_lines() -> str:
    """The training steps of ``l2r --help``'s pipeline (one line per stage)."""
    return ""
