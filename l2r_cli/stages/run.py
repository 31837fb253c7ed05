"""Shared start-up of every training stage: device and processes, seeding, data, the Trainer.

Nothing here names a stage: the registry gives the stage class, whose ``prepare`` checks the
data and config and whose ``create`` builds the stage and its dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset, Subset

from l2r_cli.config import to_dict
from l2r_cli.console import notice_once
from l2r_cli.data.dataset import DatasetInfo, L2RDataset, open_dataset
from l2r_cli.engine.checkpoint import seed_everything as seed_everything
from l2r_cli.engine.distributed import cleanup, init_distributed
from l2r_cli.engine.registry import resolve_ref, stage_spec
from l2r_cli.engine.trainer import Trainer
from l2r_cli.errors import L2RError


def validation_set(data: Path, info: DatasetInfo, train_set: Any, n: int) -> Dataset | None:
    """The first ``n`` items of ``data``'s 'val' split with the training set's fields and
    size, for the per-epoch validation; None when ``n`` is 0, the training set is not an
    l2r dataset, or there is no (non-empty) 'val' split (with a note)."""
    if n <= 0 or not isinstance(train_set, L2RDataset):
        return None
    split = info.splits.get("val")
    if split is None or split.n == 0 or not set(train_set.fields) <= set(split.fields):
        notice_once("no-val", f"{data}: no 'val' split with {train_set.fields}: no validation")
        return None
    full = L2RDataset(data, "val", fields=train_set.fields, image_size=train_set.image_size)
    return Subset(full, range(min(n, len(full))))


def run_stage(kind: str, cfg: Any, data: Path, out: Path, resume: bool, g: Any) -> Path:
    """Train stage ``kind`` (a registered ``StageSpec``) with config ``cfg`` on ``data``;
    returns the last checkpoint path."""
    cls = resolve_ref(stage_spec(kind).stage)
    info = open_dataset(data)  # one-line error on anything malformed, before any work
    if "train" not in info.splits or info.splits["train"].n == 0:
        raise L2RError(f"{data}: dataset has no (or an empty) 'train' split")
    cfg = cls.prepare(cfg, info)
    dist = init_distributed(g.device)
    try:
        seed_everything(g.seed)
        stage, dataset = cls.create(cfg, dist.device, data, info)
        val = validation_set(data, info, dataset, cfg.train.val_images)
        trainer = Trainer(
            stage,
            dataset,
            cfg.train,
            out,
            to_dict(cfg),
            dist,
            g.seed,
            to_dict(type(cfg)()),
            val_set=val,
        )
        return trainer.fit(resume=resume)
    finally:
        cleanup()
