"""A toy stage and dataset for the engine tests: tiny, CPU-fast, and random in every way the
real stages can be (dropout, numpy and python ``random`` noise), so that an exact resume has
to restore every RNG."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from l2r_cli.config import TrainConfig
from l2r_cli.stages.base import Stage

SIZE = 8
"""Toy image side."""


class ToyDataset(Dataset):
    """``n`` fixed items ``{"image": (3, 8, 8), "target": (3, 8, 8)}``; remembers what was read."""

    def __init__(self, n: int = 40, seed: int = 123) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, SIZE, SIZE, generator=g)
        self.targets = self.images.flip(-1) * 0.5 + 0.25
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        self.read.append(i)
        return {"image": self.images[i], "target": self.targets[i]}


class ToyStage(Stage):
    """A frozen 1x1 conv then a trainable two-layer conv net; loss = per-sample MSE mean."""

    kind = "toy"

    def __init__(
        self,
        init_seed: int = 0,
        noisy: bool = True,
        dropout: float = 0.2,
        opt: str = "adam",
        lr: float = 1e-2,
        hook: Callable[[ToyStage, int], None] | None = None,
    ) -> None:
        super().__init__()
        torch.manual_seed(init_seed)
        frozen = nn.Conv2d(3, 3, 1)
        frozen.requires_grad_(False)
        body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),  # 8x8 -> 8x8
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv2d(8, 3, 3, padding=1),  # 8x8 -> 8x8
        )
        self.nets = nn.ModuleDict({"frozen": frozen, "body": body})
        self.noisy = noisy
        self.hook = hook
        self.steps_done = 0
        if opt == "adam":
            self._opt: torch.optim.Optimizer = torch.optim.Adam(body.parameters(), lr=lr)
        else:
            self._opt = torch.optim.SGD(body.parameters(), lr=lr, momentum=0.9)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"body": self._opt}

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        x, t = batch["image"], batch["target"]
        assert x.shape[1:] == (3, SIZE, SIZE)
        with torch.no_grad():
            x = self.nets["frozen"](x)
        if self.noisy:
            noise = np.random.standard_normal(tuple(x.shape)).astype(np.float32)
            x = x + 0.05 * torch.from_numpy(noise) + 0.05 * random.random()
        y = self.net("body")(x)
        per_sample = ((y - t) ** 2).flatten(1).mean(1)  # (B,)
        loss = per_sample.mean()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        self.steps_done += 1
        if self.hook is not None:
            self.hook(self, self.steps_done)
        return {"loss": loss.item(), "max_sample": per_sample.max().item()}

    @torch.no_grad()
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        # Draws from every global RNG on purpose: the trainer must isolate panels.
        torch.rand(3)
        np.random.rand(3)
        random.random()
        y = self.nets["body"](self.nets["frozen"](batch["image"])).clamp(0, 1)
        row = torch.cat([batch["image"], y], dim=2)  # (B, 3, 16, 8)
        img = torch.cat(list(row), dim=2)  # (3, 16, 8B)
        return (img.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def toy_config(**kw: object) -> TrainConfig:
    """A TrainConfig for 40 toy items: batch 8 -> 5 steps per epoch."""
    base: dict[str, object] = dict(
        epochs=3, batch_size=8, num_workers=0, ckpt_every=2, keep_last=2, log_every=2, panels=True
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def run_config(cfg: TrainConfig) -> dict[str, object]:
    """The resolved config the toy runs save."""
    from l2r_cli.config import to_dict

    return {"model": {"width": 8}, "train": to_dict(cfg)}


def model_state(path: str) -> dict[str, Tensor]:
    """Flat ``{"net.param": tensor}`` of a checkpoint's models."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    return {f"{n}.{k}": v for n, sd in ck["models"].items() for k, v in sd.items()}
