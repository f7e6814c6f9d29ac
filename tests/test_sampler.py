"""ShardedBatchSampler: the same batches as the materialised epoch it replaced, one batch at a time."""

from __future__ import annotations

import gc
import itertools

import pytest
import torch

from modeling_randommask.data.sampler import ShardedBatchSampler
from modeling_randommask.data.seeding import keyed_generator


def materialised_epoch(num_items: int, batch_size: int, seed: int, rank: int, world_size: int, epoch: int
                       ) -> list[list[int]]:
    """The epoch as the sampler cut it before: the whole permutation viewed as [batches, ranks, batch]."""
    order = torch.randperm(num_items, generator=keyed_generator(seed, epoch))
    batches = num_items // (batch_size * world_size)
    return order[: batches * batch_size * world_size].view(batches, world_size, batch_size)[:, rank].tolist()


@pytest.mark.parametrize(("num_items", "batch_size", "world_size"), [(101, 4, 1), (101, 4, 2), (1000, 7, 3), (8, 8, 1)])
def test_batches_equal_the_materialised_epoch_for_every_seed_rank_and_epoch(num_items, batch_size, world_size):
    for seed, rank, epoch in itertools.product((0, 42, 2**32 - 1), range(world_size), (0, 1, 5)):
        sampler = ShardedBatchSampler(num_items, batch_size, seed=seed, rank=rank, world_size=world_size)
        sampler.set_position(epoch)
        expected = materialised_epoch(num_items, batch_size, seed, rank, world_size, epoch)
        assert list(sampler) == expected and len(sampler) == len(expected)


def test_a_resumed_position_yields_the_rest_of_the_epoch():
    full = materialised_epoch(500, 3, seed=9, rank=1, world_size=2, epoch=2)
    sampler = ShardedBatchSampler(500, 3, seed=9, rank=1, world_size=2)
    for start in (0, 1, 40, len(full) - 1, len(full)):
        sampler.set_position(2, start)
        assert list(sampler) == full[start:]
    ranks = [list(ShardedBatchSampler(500, 3, seed=9, rank=r, world_size=2)) for r in (0, 1)]
    assert not set(itertools.chain(*ranks[0])) & set(itertools.chain(*ranks[1]))  # ranks never share a window


def test_iterating_holds_one_batch_not_the_epoch():
    """The sampler once unbound the epoch into one tensor per batch (350 MB at 754k batches) before the first."""
    sampler = ShardedBatchSampler(200_000, 1, seed=0)
    gc.collect()
    before = sum(isinstance(thing, torch.Tensor) for thing in gc.get_objects())
    batches = iter(sampler)
    first = next(batches)
    alive = sum(isinstance(thing, torch.Tensor) for thing in gc.get_objects()) - before
    assert len(first) == 1 and alive < 10, f"{alive} tensors alive after the first batch"


def test_too_few_windows_for_one_batch_per_process_is_refused():
    with pytest.raises(ValueError, match="10 windows cannot fill one batch of 4 on each of 3 processes"):
        ShardedBatchSampler(10, 4, seed=0, world_size=3)
