"""Shared start-up of every training stage: device and processes, seeding, data, the Trainer."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l2r_cli.config import to_dict
from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.engine.distributed import cleanup, init_distributed
from l2r_cli.engine.trainer import Trainer
from l2r_cli.errors import L2RError


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_stage(kind: str, cfg: Any, data: Path, out: Path, resume: bool, g: Any) -> Path:
    """Train stage ``kind`` with config ``cfg`` on ``data``; returns the last checkpoint path."""
    info = open_dataset(data)  # one-line error on anything malformed, before any work
    if "train" not in info.splits or info.splits["train"].n == 0:
        raise L2RError(f"{data}: dataset has no (or an empty) 'train' split")
    dist = init_distributed(g.device)
    try:
        seed_everything(g.seed)
        if kind == "proxy":
            from l2r_cli.stages.proxy import ProxyStage

            fields = ("image",) if cfg.train.input == "image" else ("image", cfg.train.input)
            dataset = L2RDataset(data, "train", fields=fields, image_size=cfg.model.image_size)
            stage = ProxyStage(cfg, dist.device)
        else:  # pragma: no cover - later stages register here
            raise L2RError(f"unknown stage {kind!r}")
        trainer = Trainer(stage, dataset, cfg.train, out, to_dict(cfg), dist, g.seed)
        return trainer.fit(resume=resume)
    finally:
        cleanup()
