"""Process-group set-up and small collectives for torchrun training.

One process per device: under ``torchrun`` (env vars RANK, WORLD_SIZE, LOCAL_RANK) with
WORLD_SIZE > 1 we join a process group (NCCL on CUDA, Gloo on CPU); otherwise everything here
degrades to single-process no-ops, so the training loop has one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn

from l2r_cli.device import resolve_device
from l2r_cli.errors import L2RError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    """Global rank (0 .. world_size-1)."""
    world_size: int = 1
    """Number of training processes."""
    local_rank: int = 0
    """Rank on this machine; selects the GPU."""
    device: torch.device = torch.device("cpu")
    """The device this process computes on."""
    is_main: bool = True
    """True on rank 0, the only rank that writes files and prints."""

    @property
    def distributed(self) -> bool:
        """True when a process group with more than one member is active."""
        return self.world_size > 1


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise L2RError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device_spec: str = "auto") -> DistInfo:
    """Join the torchrun process group if there is one, else describe a single process.

    ``device_spec`` is the global ``--device`` (auto | cpu | cuda | cuda:N). Under torchrun a
    CUDA spec means ``cuda:LOCAL_RANK`` (one GPU per process) with NCCL; ``cpu`` means Gloo.
    """
    have_env = all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if not have_env or _env_int("WORLD_SIZE") <= 1:
        return DistInfo(device=resolve_device(device_spec))

    rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    want = resolve_device(device_spec)
    if want.type == "cuda":
        if local >= torch.cuda.device_count():
            raise L2RError(
                f"LOCAL_RANK {local} has no GPU (found {torch.cuda.device_count()}); "
                "use --nproc-per-node <= the GPU count"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not tdist.is_initialized():
        kwargs: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
        tdist.init_process_group(backend=backend, rank=rank, world_size=world, **kwargs)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=device, is_main=rank == 0)


def wrap_ddp(module: nn.Module, dist: DistInfo) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel (gradients averaged over ranks).

    DDP broadcasts rank 0's parameters and buffers at construction, so ranks start equal.
    Every parameter of ``module`` must get a gradient in each backward: a stage whose loss
    leaves a head unused adds ``0 * output`` of it (as the proxy and prior stages do).
    Returns ``module`` unchanged in a single process.
    """
    if not dist.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return DDP(
        module,
        device_ids=ids,
        output_device=ids[0] if ids else None,
    )


def barrier(dist: DistInfo) -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.distributed and tdist.is_initialized():
        if dist.device.type == "cuda":
            tdist.barrier(device_ids=[dist.device.index])
        else:
            tdist.barrier()


def all_reduce_mean(values: dict[str, float], dist: DistInfo) -> dict[str, float]:
    """Average a dict of scalars over ranks (every rank must pass the same keys).

    One collective for the whole dict: the values travel as a float64 vector (K,).
    """
    if not dist.distributed or not values:
        return dict(values)
    keys = sorted(values)
    vec = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=dist.device)
    tdist.all_reduce(vec, op=tdist.ReduceOp.SUM)
    vec /= dist.world_size
    return {k: float(v) for k, v in zip(keys, vec.tolist(), strict=True)}


def any_rank(flag: bool, dist: DistInfo) -> bool:
    """True if ``flag`` is true on any rank (so all ranks take the same branch)."""
    if not dist.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=dist.device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return bool(t.item())


def all_gather_object(obj: Any, dist: DistInfo) -> list[Any]:
    """Every rank's ``obj``, indexed by rank (``[obj]`` in a single process)."""
    if not dist.distributed:
        return [obj]
    out: list[Any] = [None] * dist.world_size
    tdist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    """Leave the process group, if one was joined."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()
