"""EpochBatchSampler: determinism, full coverage, sharding over ranks, mid-epoch start."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from l2r_cli.engine.sampler import EpochBatchSampler, epoch_permutation
from l2r_cli.errors import L2RError
from tests.engine.toy import ToyDataset


def _batches(n: int, b: int, epoch: int, seed: int = 0, rank: int = 0, world: int = 1, k: int = 0):
    s = EpochBatchSampler(n, b, rank=rank, world_size=world, seed=seed)
    s.set_epoch(epoch, k)
    return list(s)


def test_same_seed_and_epoch_same_order_else_different() -> None:
    assert _batches(50, 8, 3) == _batches(50, 8, 3)
    assert _batches(50, 8, 3) != _batches(50, 8, 4)
    assert _batches(50, 8, 3, seed=1) != _batches(50, 8, 3, seed=0)


def test_order_ignores_global_rng() -> None:
    torch.manual_seed(1)
    a = _batches(50, 8, 0)
    torch.manual_seed(2)
    assert _batches(50, 8, 0) == a


def test_drop_last_full_batches_without_repeats() -> None:
    batches = _batches(50, 8, 0)
    assert len(batches) == 6 and all(len(b) == 8 for b in batches)
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == 48
    assert flat == epoch_permutation(50, 0, 0)[:48].tolist()


@pytest.mark.parametrize("world", [2, 4])
def test_rank_shards_concatenate_to_the_single_process_batch(world: int) -> None:
    single = _batches(50, 8, 1)
    shards = [_batches(50, 8, 1, rank=r, world=world) for r in range(world)]
    for b, full in enumerate(single):
        assert all(len(s[b]) == 8 // world for s in shards)
        assert [i for s in shards for i in s[b]] == full


def test_start_mid_epoch_yields_the_tail_and_reads_nothing_skipped() -> None:
    full = _batches(40, 8, 2, rank=1, world=2)
    s = EpochBatchSampler(40, 8, rank=1, world_size=2)
    s.set_epoch(2, start_batch=3)
    assert len(s) == 2
    assert list(s) == full[3:]
    ds = ToyDataset(40)
    for _ in DataLoader(ds, batch_sampler=s):
        pass
    assert sorted(ds.read) == sorted(i for b in full[3:] for i in b)


def test_bad_sizes_are_one_line_errors() -> None:
    with pytest.raises(L2RError, match="not divisible"):
        EpochBatchSampler(50, 9, world_size=2)
    with pytest.raises(L2RError, match="fewer than one batch"):
        EpochBatchSampler(5, 8)
