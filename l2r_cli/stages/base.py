"""The Stage protocol: what every training stage (proxy, ARN, GRN, mutual) gives the one loop.

A stage owns its networks (``nets``, all saved in checkpoints, some possibly frozen), creates
its optimizers once, and does one optimisation step per batch. The engine
(``l2r_cli.engine.trainer``) owns everything else: data order, devices, DDP, logging,
checkpoints and resuming. A stage never sees the trainer (no back-pointers).

DDP contract: the engine calls :meth:`Stage.wrap` with a function that wraps a module in
DistributedDataParallel; the stage must run its forward passes through the wrapped modules
(``self.fwd[name]`` or :meth:`Stage.net`) so gradients are averaged over ranks, while
``self.nets`` keeps the bare modules for saving. Losses must be per-sample means averaged over
the (local) batch: DDP then averages equal-sized shards, which is exactly the gradient of the
mean over the global batch a single process would compute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from l2r_cli.errors import L2RError

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from l2r_cli.data.reader import DatasetInfo


def is_trainable(module: nn.Module) -> bool:
    """True if ``module`` has at least one parameter with ``requires_grad``."""
    return any(p.requires_grad for p in module.parameters())


class Stage(ABC):
    """One training stage of the paper: its nets, optimizers, step and visual panel.

    Subclasses set ``kind``, fill ``self.nets`` (after calling ``super().__init__()``), build
    their optimizers in ``__init__`` and implement :meth:`optimizers`, :meth:`train_step`,
    :meth:`panel` and, to be trained from the command line, :meth:`create`; the run config
    and the CLI options come from the stage's ``StageSpec`` (``l2r_cli/configs/KIND.py``, see
    ``l2r_cli.engine.registry``).
    """

    kind: ClassVar[str] = ""
    """Short name stored in checkpoints ("proxy", "arn", "grn", "mutual")."""

    nets: nn.ModuleDict
    """Every module whose state is saved, by name (trainable and frozen)."""

    fwd: dict[str, nn.Module]
    """Modules to call in forward passes: DDP-wrapped for trainable nets after :meth:`wrap`."""

    def __init__(self) -> None:
        self.nets = nn.ModuleDict()
        self.fwd = {}

    @classmethod
    def prepare(cls, cfg: Any, info: DatasetInfo) -> Any:
        """Checks before any process starts: refuse a dataset or config this stage cannot
        train with (one-line L2RError) and resolve its input files (e.g. fill in their
        SHA-256). Returns the config to train with. Default: ``cfg`` unchanged."""
        return cfg

    @classmethod
    def create(
        cls, cfg: Any, device: torch.device, data: Path, info: DatasetInfo
    ) -> tuple[Stage, Dataset]:
        """The stage on ``device`` and its training dataset (the 'train' split of ``data``),
        after the run's seed is set (network initialisation draws from it). Every stage
        trained by ``l2r train-KIND`` implements it (a stage driven by hand need not)."""
        raise NotImplementedError(f"{cls.__name__} cannot be started by `l2r train-{cls.kind}`")

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The stage's optimizers by name, created once (the same objects on every call)."""

    @abstractmethod
    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """Forward, backward and optimizer step(s) on one (local) batch.

        ``batch`` holds the collated dataset items on the training device, e.g.
        ``image: (B, 3, S, S)``. Returns scalar logs, which must include ``"loss"``.
        """

    @abstractmethod
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        """A visual summary of ``batch`` as uint8 ``(H, W, 3)``; called without gradients."""

    def export(self, out_dir: Path) -> None:
        """Write files other programs read into the run directory after every checkpoint
        (rank 0, no gradients, forked RNG). Default: nothing."""
        return None

    def validate(self, batch: dict[str, Tensor]) -> dict[str, float] | None:
        """The stage's losses on one val batch without a step (eval mode, no gradients,
        fixed RNG), averaged by the engine over the val items after every epoch. Default:
        None (no validation; the prior's held-out readout is :meth:`evaluate`)."""
        return None

    def evaluate(self) -> dict[str, float]:
        """Per-epoch scores for the log (rank 0, no gradients, forked RNG). Default: none."""
        return {}

    def finish_batches(self) -> int:
        """How many training batches :meth:`finish` wants (0 = it does nothing, the default)."""
        return 0

    def finish(
        self,
        batches: list[dict[str, Tensor]],
        reduce_mean: Callable[[dict[str, float]], dict[str, float]],
    ) -> dict[str, float]:
        """End-of-training step, run once when training ends (steps, epochs or time budget
        reached; not when interrupted) in eval mode on every rank, before the final checkpoint.

        ``batches`` are the first :meth:`finish_batches` local batches of epoch 0's order, on
        the training device; ``reduce_mean`` averages a dict of floats over ranks (identity in
        one process), so every rank reaches the same decision. Returns scalar logs (empty when
        nothing changed). Default: nothing.
        """
        return {}

    def wrap(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """Route forward passes of trainable nets through ``fn(net)`` (the engine's DDP wrap).

        Frozen nets stay bare: DDP refuses modules without trainable parameters. Override
        when the forward passes are organised differently (keep ``nets`` unwrapped).
        """
        self.fwd = {n: fn(m) if is_trainable(m) else m for n, m in self.nets.items()}

    def net(self, name: str) -> nn.Module:
        """The module to call for ``name``: the wrapped one if :meth:`wrap` was called."""
        return self.fwd.get(name, self.nets[name])

    def to(self, device: torch.device | str) -> Stage:
        """Move every net to ``device`` (parameters keep their identity, so optimizers and
        any wrapped modules created later stay valid)."""
        self.nets.to(device)
        return self

    def train(self) -> None:
        """Training mode for trainable nets; frozen nets stay in eval mode (no dropout,
        fixed normalisation statistics)."""
        for m in self.nets.values():
            m.train(is_trainable(m))

    def eval(self) -> None:
        """Eval mode for every net."""
        self.nets.eval()

    def num_parameters(self) -> dict[str, int]:
        """Parameter count per net."""
        return {n: sum(p.numel() for p in m.parameters()) for n, m in self.nets.items()}


def require_degraded(kind: str, cfg: Any, info: DatasetInfo) -> None:
    """One-line error unless ``info``'s train split has degraded 'lq' images and ``cfg`` feeds
    them (the stages after the proxy always see the degraded inputs)."""
    from l2r_cli.errors import L2RError

    if "lq" not in info.splits["train"].fields:
        raise L2RError(
            f"{info.root}: dataset has no degraded 'lq' images (make one with `l2r degrade`, e.g. "
            "from `l2r synth`'s OUT/synface)"
        )
    if cfg.train.input != "lq":
        raise L2RError(f"train.input must be 'lq' for the {kind} stage, got {cfg.train.input!r}")


class DegradedStage(Stage):
    """A stage after the proxy (ARN, GRN, mutual): it trains on degraded data, the train
    split's 'image' and 'lq' at its output size ``out_size``, from the input checkpoints its
    config names. Subclasses set :attr:`resolve_inputs`."""

    out_size: int
    """The stage's output size O (the dataset is read at O)."""

    resolve_inputs: Callable[[Any], Any]
    """``cfg -> cfg`` with the input checkpoints resolved, their kinds checked and hashed (a
    ``staticmethod``)."""

    @classmethod
    def prepare(cls, cfg: Any, info: DatasetInfo) -> Any:
        """Degraded data fed as input; the input checkpoints resolved and hashed."""
        require_degraded(cls.kind, cfg, info)
        return cls.resolve_inputs(cfg)

    @classmethod
    def create(
        cls, cfg: Any, device: torch.device, data: Path, info: DatasetInfo
    ) -> tuple[Stage, Dataset]:
        """The stage, then the train split's 'image' and 'lq' at its output size."""
        from l2r_cli.data.dataset import L2RDataset

        extra = cls.extra_fields(cfg)
        missing = [f for f in extra if f not in info.splits["train"].fields]
        if missing:
            raise L2RError(
                f"{data}: loss.lam_depth_sup needs the field(s) {', '.join(missing)} (l2r synth "
                "data through l2r degrade has them)"
            )
        stage = cls(cfg, device)
        fields = ("image", "lq", *extra)
        dataset = L2RDataset(data, "train", fields=fields, image_size=stage.out_size)
        return stage, dataset

    @classmethod
    def extra_fields(cls, cfg: Any) -> tuple[str, ...]:
        """Dataset fields the stage reads besides 'image' and 'lq' (none here)."""
        return ()
