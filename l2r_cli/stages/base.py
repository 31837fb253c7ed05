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
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn


def is_trainable(module: nn.Module) -> bool:
    """True if ``module`` has at least one parameter with ``requires_grad``."""
    return any(p.requires_grad for p in module.parameters())


class Stage(ABC):
    """One training stage of the paper: its nets, optimizers, step and visual panel.

    Subclasses set ``kind``, fill ``self.nets`` (after calling ``super().__init__()``), build
    their optimizers in ``__init__`` and implement :meth:`optimizers`, :meth:`train_step` and
    :meth:`panel`.
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
