"""Deterministic, resumable, rank-sharded batch sampler for the training loop.

Epoch ``e`` visits the dataset in the order ``randperm(N)`` drawn from a generator seeded with
``(seed, e)`` alone, so the order never depends on the global RNG, on the world size or on
where a run was resumed. The permutation is cut into ``N // B`` full global batches (the tail
is dropped so every step sees exactly ``B`` images); global batch ``b`` is split into W
contiguous shards of ``B / W`` and rank ``r`` gets shard ``r``. Concatenating the shards of
all ranks therefore gives the exact global batch a single process would see.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from l2r_cli.errors import L2RError


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit generator seed for ``(seed, epoch)``: the low 32 bits of ``seed`` above 31
    bits of ``epoch``, so distinct pairs (epoch < 2**31) never share a seed."""
    return ((seed & 0xFFFFFFFF) << 31) | (epoch & 0x7FFFFFFF)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The visiting order of epoch ``epoch``: an int64 permutation of ``range(n)``, shape (n,)."""
    g = torch.Generator()
    g.manual_seed(epoch_seed(seed, epoch))
    return torch.randperm(n, generator=g)


class EpochBatchSampler(Sampler[list[int]]):
    """Yields this rank's index lists, one per global batch, for one epoch at a time.

    Use as ``DataLoader(dataset, batch_sampler=sampler)``; call :meth:`set_epoch` before each
    pass. Skipped batches (``start_batch``) are never yielded, so their items are never read.
    """

    def __init__(
        self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0
    ) -> None:
        if batch_size < 1:
            raise L2RError(f"batch size must be >= 1, got {batch_size}")
        if batch_size % world_size != 0:
            raise L2RError(
                f"batch size {batch_size} is not divisible by the {world_size} training "
                "processes; choose a multiple of the process count"
            )
        if n < batch_size:
            raise L2RError(
                f"the training set has {n} items, fewer than one batch of {batch_size}; "
                "use a smaller --batch-size"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of {world_size}")
        self.n = n
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.shard = batch_size // world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full global batches per epoch (the incomplete tail batch is dropped)."""
        return self.n // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch and the first global batch to yield (0 = from the start)."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch {start_batch} outside 0..{self.batches_per_epoch}")
        self.epoch = epoch
        self.start_batch = start_batch

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch

    def __iter__(self) -> Iterator[list[int]]:
        perm = epoch_permutation(self.n, self.seed, self.epoch)
        for b in range(self.start_batch, self.batches_per_epoch):
            lo = b * self.batch_size + self.rank * self.shard
            yield perm[lo : lo + self.shard].tolist()
