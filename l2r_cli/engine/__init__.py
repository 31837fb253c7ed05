"""The one training loop (``Trainer``), checkpoint save/load/resume, the resumable sampler and
the torchrun helpers. Everything a stage does not decide lives here."""

from l2r_cli.engine.checkpoint import (
    describe_checkpoint,
    load_checkpoint,
    restore_modules,
    save_checkpoint,
)
from l2r_cli.engine.distributed import DistInfo, cleanup, init_distributed, wrap_ddp
from l2r_cli.engine.sampler import EpochBatchSampler
from l2r_cli.engine.trainer import Trainer

__all__ = [
    "DistInfo",
    "EpochBatchSampler",
    "Trainer",
    "cleanup",
    "describe_checkpoint",
    "init_distributed",
    "load_checkpoint",
    "restore_modules",
    "save_checkpoint",
    "wrap_ddp",
]
