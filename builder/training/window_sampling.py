"""Deterministic per-epoch window order for training (paper, supplementary C).

Each epoch draws a fresh random subset of the windows of down-weighted sources (BEDLAM: 5 %)
while every other source contributes all its windows; the union is shuffled. The order of epoch
``e`` depends only on ``(seed, e)`` and the list of window sources, so a resumed run sees exactly
the batches an uninterrupted run would. Batches are cut from the global order and dealt to the
processes (rank ``r`` of ``n`` gets every ``n``-th batch), and a partial last global batch is
dropped so that all processes run the same number of steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from builder.dataset.splits import source_key

DEFAULT_SUBSAMPLE: dict[str, float] = {"bedlam": 0.05}
"""Share of a source's training windows drawn anew each epoch (sources not listed: all)."""


def epoch_indices(sources: Sequence[str], epoch: int, seed: int,
                  subsample: dict[str, float] | None = None) -> np.ndarray:
    """Shuffled window indices of one epoch, with the per-epoch subsets of ``subsample`` sources."""
    subsample = {source_key(k): float(v) for k, v in (DEFAULT_SUBSAMPLE if subsample is None else subsample).items()}
    for name, share in subsample.items():
        if not 0.0 < share <= 1.0:
            raise ValueError(f"subsample share of {name!r} must be in (0, 1], got {share}")
    rng = np.random.default_rng([seed, epoch])
    keys = np.array([source_key(s) for s in sources])
    chosen = []
    for key in sorted(set(keys.tolist())):
        members = np.flatnonzero(keys == key)
        share = subsample.get(key, 1.0)
        if share < 1.0:
            count = max(1, round(share * len(members)))
            members = np.sort(rng.choice(members, size=count, replace=False))
        chosen.append(members)
    indices = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return rng.permutation(indices)


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of this process for the current epoch; ``set_epoch`` and ``skip`` select where to start.

    ``batch_size`` is per process; one global step consumes ``batch_size * num_replicas`` windows.
    """

    def __init__(self, sources: Sequence[str], batch_size: int, seed: int, *, num_replicas: int = 1,
                 rank: int = 0, subsample: dict[str, float] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
        self.sources = list(sources)
        self.batch_size, self.seed = batch_size, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.subsample = subsample
        self.epoch, self.skip_batches = 0, 0
        if len(self) == 0:
            raise ValueError(f"{len(self.sources)} training windows do not fill one global batch of "
                             f"{batch_size} x {num_replicas} processes")

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Iterate epoch ``epoch`` from its ``skip_batches``-th batch (of this process) on."""
        self.epoch, self.skip_batches = epoch, skip_batches

    def __len__(self) -> int:
        """Batches per process in a full epoch."""
        size = len(epoch_indices(self.sources, 0, self.seed, self.subsample))
        return size // (self.batch_size * self.num_replicas)

    def __iter__(self) -> Iterator[list[int]]:
        order = epoch_indices(self.sources, self.epoch, self.seed, self.subsample)
        global_batch = self.batch_size * self.num_replicas
        for step in range(self.skip_batches, len(order) // global_batch):
            start = step * global_batch + self.rank * self.batch_size
            yield order[start:start + self.batch_size].tolist()
