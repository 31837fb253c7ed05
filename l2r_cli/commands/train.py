"""`l2r train-proxy` (and, in later issues, the other stages' training commands)."""

from __future__ import annotations

from pathlib import Path

import click

from l2r_cli.config import ProxyRunConfig, resolve, to_dict, to_toml
from l2r_cli.console import console


@click.command("train-proxy")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset directory (train split).")
@click.option("--out", required=True, metavar="DIR", help="Run directory for checkpoints/panels.")
@click.option("--config", "config_file", metavar="FILE.toml", help="TOML config (see --dry-run).")
@click.option("--epochs", type=click.IntRange(min=1), metavar="N", help="[default: 30]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N", help="Global batch [64].")
@click.option("--max-steps", type=click.IntRange(min=0), metavar="N", help="Stop after N steps.")
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
    cfg = resolve(ProxyRunConfig, config_file, overrides)
    if dry_run:
        console.print(to_toml(to_dict(cfg)), end="", markup=False, highlight=False)
        return
    from l2r_cli.stages.run import run_stage

    run_stage("proxy", cfg, data=Path(data), out=Path(out), resume=resume, g=g)
