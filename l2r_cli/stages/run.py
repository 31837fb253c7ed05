"""Shared start-up of every training stage: device and processes, seeding, data, the Trainer."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l2r_cli.config import to_dict
from l2r_cli.console import notice_once
from l2r_cli.data.dataset import DatasetInfo, L2RDataset, open_dataset
from l2r_cli.engine.distributed import cleanup, init_distributed
from l2r_cli.engine.trainer import Trainer
from l2r_cli.errors import L2RError


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _check_prior(cfg: Any, info: DatasetInfo) -> str | None:
    """Refuse a prior config or dataset it cannot train with, before any process starts;
    returns the held-out split of the quality readout (None when it is off)."""
    from l2r_cli.stages.prior import check_prior_config, heldout_split

    check_prior_config(cfg)
    if cfg.model.size > info.image_size:
        notice_once(
            "prior-upsampled",
            f"the dataset's images are {info.image_size}x{info.image_size}: they are upsampled "
            f"to --size {cfg.model.size}, so the prior cannot learn finer detail than they hold",
        )
    if cfg.eval.n_images == 0:
        return None
    split = heldout_split([s for s, sp in info.splits.items() if sp.n > 0])
    n = min(cfg.eval.n_images, info.splits[split].n)
    if n <= cfg.eval.k:
        raise L2RError(
            f"{info.root}: the quality readout compares {n} '{split}' images, it needs more than "
            f"eval.k = {cfg.eval.k}; add images, lower eval.k or pass --eval-images 0"
        )
    return split


def _check_degraded(kind: str, cfg: Any, info: DatasetInfo) -> Any:
    """Refuse a dataset without degraded images or a config that would not feed them; resolve
    the stage's input checkpoints (kind checked) and hash them."""
    from l2r_cli.stages.arn import resolve_sources
    from l2r_cli.stages.grn import resolve_grn_sources
    from l2r_cli.stages.mutual import resolve_mutual_sources

    if "lq" not in info.splits["train"].fields:
        raise L2RError(
            f"{info.root}: dataset has no degraded 'lq' images (make one with `l2r degrade`, e.g. "
            "from `l2r synth`'s OUT/synface)"
        )
    if cfg.train.input != "lq":
        raise L2RError(f"train.input must be 'lq' for the {kind} stage, got {cfg.train.input!r}")
    resolve = {"arn": resolve_sources, "grn": resolve_grn_sources}
    return resolve.get(kind, resolve_mutual_sources)(cfg)


def run_stage(kind: str, cfg: Any, data: Path, out: Path, resume: bool, g: Any) -> Path:
    """Train stage ``kind`` with config ``cfg`` on ``data``; returns the last checkpoint path."""
    info = open_dataset(data)  # one-line error on anything malformed, before any work
    if "train" not in info.splits or info.splits["train"].n == 0:
        raise L2RError(f"{data}: dataset has no (or an empty) 'train' split")
    heldout = _check_prior(cfg, info) if kind == "prior" else None
    if kind in ("arn", "grn", "mutual"):
        cfg = _check_degraded(kind, cfg, info)
    dist = init_distributed(g.device)
    try:
        seed_everything(g.seed)
        if kind == "proxy":
            from l2r_cli.stages.proxy import ProxyStage

            fields = ("image",) if cfg.train.input == "image" else ("image", cfg.train.input)
            dataset = L2RDataset(data, "train", fields=fields, image_size=cfg.model.image_size)
            stage = ProxyStage(cfg, dist.device)
        elif kind == "prior":
            from l2r_cli.stages.prior import PriorStage

            size = cfg.model.size
            dataset = L2RDataset(data, "train", fields=("image",), image_size=size)
            held = None
            if heldout is not None:
                held = L2RDataset(data, heldout, fields=("image",), image_size=size)
            stage = PriorStage(cfg, dist.device, heldout=held)
        elif kind == "arn":
            from l2r_cli.stages.arn import ArnStage

            stage = ArnStage(cfg, dist.device)
            dataset = L2RDataset(data, "train", fields=("image", "lq"), image_size=stage.out_size)
        elif kind in ("grn", "mutual"):
            from l2r_cli.stages.grn import GrnStage
            from l2r_cli.stages.mutual import MutualStage

            stage = (GrnStage if kind == "grn" else MutualStage)(cfg, dist.device)
            dataset = L2RDataset(data, "train", fields=("image", "lq"), image_size=stage.out_size)
        else:  # pragma: no cover - later stages register here
            raise L2RError(f"unknown stage {kind!r}")
        trainer = Trainer(
            stage, dataset, cfg.train, out, to_dict(cfg), dist, g.seed, to_dict(type(cfg)())
        )
        return trainer.fit(resume=resume)
    finally:
        cleanup()
