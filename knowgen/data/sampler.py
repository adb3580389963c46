"""Shuffled batches of indices into an in-memory dataset, recomputable from the step alone.

Epoch `e` uses the permutation drawn from a generator seeded with `(seed, e)`, so batch `s` is
a pure function of `s`: resuming needs no sampler state, and any rank of a data-parallel run can
take its own slice of the same permutation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class BatchSampler:
    """Yields index tensors (B,) for batches `start, start+1, ...`; drops the ragged tail batch.

    Args:
        num_items: dataset size N.
        batch_size: batch size B (<= N).
        seed: shuffling seed; the order depends only on (seed, epoch).
    """

    def __init__(self, num_items: int, batch_size: int, seed: int = 0) -> None:
        if batch_size > num_items:
            raise ValueError(f"batch size {batch_size} exceeds the dataset size {num_items}")
        self.num_items = num_items
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = num_items // batch_size
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.int64)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The shuffled order of epoch `epoch`."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_items, generator=generator)

    def batch(self, step: int) -> torch.Tensor:
        """Indices of global batch number `step`."""
        epoch, position = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            self._order, self._epoch = self.permutation(epoch), epoch
        start = position * self.batch_size
        return self._order[start : start + self.batch_size]

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[torch.Tensor]:
        """Endless batches beginning with batch number `start`."""
        step = start
        while True:
            yield self.batch(step)
            step += 1
