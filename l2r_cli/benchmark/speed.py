"""`l2r benchmark speed`: where a train-proxy step spends its time.

Measured in one process on the same batch size and device, the parts timed round-robin (one
call of each per round, medians over rounds) so that load on a shared machine hits all alike:
- nets: the five proxy nets' forward + backward alone (a trivial loss on their raw outputs);
- renderer: shading + warp + reprojection of normal and flipped faces, forward + backward;
- losses: the photometric NLL terms, forward + backward;
- data: fetching batches from the DataLoader (HDF5 reads, decoding, resizing);
- step: the whole `train-proxy` step as the trainer runs it (data + everything + Adam).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from l2r_cli.config import ProxyModelConfig, ProxyRunConfig, TrainConfig
from l2r_cli.data.dataset import DatasetWriter, L2RDataset
from l2r_cli.losses import photometric_nll
from l2r_cli.stages.proxy import ProxyStage


@dataclass(frozen=True)
class Timing:
    """Seconds per step (median over repeats) and images per second."""

    name: str
    seconds: float
    batch_size: int

    @property
    def images_per_second(self) -> float:
        """Throughput at this batch size."""
        return self.batch_size / self.seconds


def _interleaved_medians(fns: list[Callable[[], None]], repeats: int, warmup: int) -> list[float]:
    """Median seconds of each function, timed round-robin (one call of each per round), so a
    slow spell of a shared machine hits every part alike and the ratios stay comparable."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in times]


def _make_dataset(root: Path, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    with DatasetWriter(root, image_size=size, source={"generator": "benchmark-speed"}) as w:
        w.append_many("train", {"image": rng.integers(0, 256, (n, size, size, 3), np.uint8)})


def run_speed(
    batch_size: int = 16,
    image_size: int = 64,
    nf: int = 64,
    repeats: int = 10,
    warmup: int = 3,
    num_workers: int = 2,
    data: Path | None = None,
    device: torch.device | str = "cpu",
) -> list[Timing]:
    """Time the parts of one proxy training step; see the module docstring."""
    device = torch.device(device)
    torch.manual_seed(0)
    cfg = ProxyRunConfig(
        model=replace(ProxyModelConfig(), image_size=image_size, nf=nf),
        train=replace(TrainConfig(), batch_size=batch_size, num_workers=num_workers),
    )
    stage = ProxyStage(cfg, device)
    model = stage.model
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    with tempfile.TemporaryDirectory() as tmp:
        root = data
        if root is None:
            root = Path(tmp) / "ds"
            _make_dataset(root, batch_size * (repeats + warmup + 2) * 2, image_size)
        ds = L2RDataset(root, "train", fields=("image",), image_size=image_size)
        loader = DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=True,
            num_workers=num_workers,
            drop_last=True,
            persistent_workers=num_workers > 0,
        )
        it = iter(loader)

        def next_batch() -> dict[str, torch.Tensor]:
            nonlocal it
            try:
                return next(it)
            except StopIteration:
                it = iter(loader)
                return next(it)

        x = next_batch()["image"].to(device) * 2 - 1
        nets = [model.net_depth, model.net_albedo, model.net_light, model.net_view]
        if model.net_conf is not None:
            nets.append(model.net_conf)

        def bare_nets() -> None:
            total = x.new_zeros(())
            for net in nets:
                out = net(x)
                for o in out if isinstance(out, tuple) else (out,):
                    total = total + o.mean()
            model.zero_grad(set_to_none=True)
            total.backward()
            sync()

        with torch.no_grad():
            f0 = model.factors(x)

        def renderer() -> None:
            d = f0.depth.detach().requires_grad_()
            a = f0.albedo.detach().requires_grad_()
            r = model.render(replace(f0, depth=d, albedo=a), flip=True)
            (r.recon_image.mean() + r.recon_depth.mean()).backward()
            sync()

        r0 = model.render(f0, flip=True)
        b = x.shape[0]

        def losses() -> None:
            rec = r0.recon_image.detach().requires_grad_()
            sig = f0.sigma.detach().requires_grad_() if f0.sigma is not None else None
            mask = r0.recon_mask[:b] * r0.recon_mask[b:]
            l1 = photometric_nll(rec[:b], x, None if sig is None else sig[:, :1], mask)
            l2 = photometric_nll(rec[b:], x, None if sig is None else sig[:, 1:], mask)
            (l1 + 0.5 * l2).backward()
            sync()

        def data_only() -> None:
            next_batch()["image"].to(device)
            sync()

        def whole_step() -> None:
            batch = {k: v.to(device) for k, v in next_batch().items()}
            stage.train_step(batch)
            sync()

        parts = [
            ("nets fwd+bwd", bare_nets),
            ("renderer fwd+bwd", renderer),
            ("losses fwd+bwd", losses),
            ("data loading", data_only),
            ("train-proxy step", whole_step),
        ]
        seconds = _interleaved_medians([fn for _, fn in parts], repeats, warmup)
        out = [Timing(name, t, batch_size) for (name, _), t in zip(parts, seconds, strict=True)]
        del it
    return out
