"""The one training loop (``Trainer``), checkpoint save/load/resume, the resumable sampler and
the torchrun helpers. Everything a stage does not decide lives here.

The names below load on first use (PEP 562): importing ``l2r_cli.engine.checkpoint`` to read a
model for inference must not pull in the trainer, and through it the stages and data code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from l2r_cli.lazy import lazy_attributes

if TYPE_CHECKING:
    from l2r_cli.engine.checkpoint import (
        describe_checkpoint,
        load_checkpoint,
        restore_modules,
        save_checkpoint,
    )
    from l2r_cli.engine.distributed import DistInfo, cleanup, init_distributed, wrap_ddp
    from l2r_cli.engine.sampler import EpochBatchSampler
    from l2r_cli.engine.trainer import Trainer

_SOURCES = {
    "describe_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "restore_modules": "checkpoint",
    "save_checkpoint": "checkpoint",
    "DistInfo": "distributed",
    "cleanup": "distributed",
    "init_distributed": "distributed",
    "wrap_ddp": "distributed",
    "EpochBatchSampler": "sampler",
    "Trainer": "trainer",
}

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


__getattr__ = lazy_attributes(__name__, {n: f"{__name__}.{m}" for n, m in _SOURCES.items()})


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
