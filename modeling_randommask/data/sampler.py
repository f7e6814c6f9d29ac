"""A batch sampler whose position in the data is two integers, so a resumed run reads exactly the same batches.

Each epoch is one seeded permutation of the window indices; rank ``r`` of ``w`` takes every ``w``-th batch of it,
so ranks never share a window and all ranks agree on the epoch length. ``set_position(epoch, batch)`` jumps
straight to a batch without replaying the ones before it (unlike ``skip_first_batches``, which iterates).

Memory: the epoch's permutation (8 bytes per window) and one batch at a time. Each batch is sliced from the
permutation as it is asked for; iterating a ``[batches, batch]`` view instead would build one tensor object per
batch of the epoch up front (``Tensor.__iter__`` unbinds): about 350 MB at 754k batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from .seeding import keyed_generator


class ShardedBatchSampler(Sampler[list[int]]):
    """Seeded per-epoch permutation, cut into full batches, dealt round-robin to ranks."""

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size * world_size > num_items:
            raise ValueError(
                f"{num_items} windows cannot fill one batch of {batch_size} on each of {world_size} processes: "
                "use more sequence, shorter windows or a smaller batch"
            )
        self.num_items = num_items
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    def __len__(self) -> int:
        """Batches per epoch on this rank (the incomplete tail of the permutation is dropped)."""
        return self.num_items // (self.batch_size * self.world_size)

    def set_position(self, epoch: int, batch: int = 0) -> None:
        """Start the next iteration at ``batch`` (counted on this rank) of ``epoch``."""
        self.epoch = epoch
        self.start_batch = batch

    def __iter__(self) -> Iterator[list[int]]:
        generator = keyed_generator(self.seed, self.epoch)
        order = torch.randperm(self.num_items, generator=generator)
        per_step = self.batch_size * self.world_size
        for batch in range(self.start_batch, len(self)):
            first = batch * per_step + self.rank * self.batch_size
            yield order[first : first + self.batch_size].tolist()
