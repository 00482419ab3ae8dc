"""Deterministic, resumable data order shared by 1 and N processes, and device transfer.

The order of the data is a function of ``(seed, epoch)`` only: epoch ``e`` is the
permutation drawn by a generator seeded with ``seed + e`` (or ``0..n-1`` without
shuffling), cut into global batches of ``global_batch`` samples (the incomplete tail is
dropped). Rank ``r`` of ``W`` takes ``global_batch[r::W]`` of every global batch, so the
union over ranks of micro-batch ``k`` is the same set of samples whatever ``W`` is: a
2-process run with per-rank batch ``B/2`` sees exactly the global batches of a 1-process
run with batch ``B``. Starting an epoch at batch ``k`` skips the first ``k`` global
batches without loading them, which is how a resumed run continues mid-epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import Sampler


class GlobalBatchSampler(Sampler[int]):
    """Indices of this rank's share of each global batch, for one epoch at a time.

    Use it as the ``sampler`` of a ``DataLoader`` with ``batch_size=global_batch //
    world_size`` and call :meth:`set_position` before iterating each epoch.
    """

    def __init__(
        self,
        num_samples: int,
        global_batch: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if global_batch % world_size != 0:
            raise ValueError(
                f"batch_size {global_batch} (global) is not divisible by world size {world_size}"
            )
        if num_samples < global_batch:
            raise ValueError(
                f"the dataset has {num_samples} samples, fewer than one global batch of "
                f"{global_batch}"
            )
        self.num_samples = num_samples
        self.global_batch = global_batch
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Number of complete global batches in one epoch."""
        return self.num_samples // self.global_batch

    @property
    def local_batch(self) -> int:
        """Samples per batch on this rank."""
        return self.global_batch // self.world_size

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Iterate epoch ``epoch`` from global batch ``start_batch`` on."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start batch {start_batch} outside 0..{self.batches_per_epoch}")
        self.epoch = epoch
        self.start_batch = start_batch

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The global sample order of ``epoch``: (num_samples,) int64."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        generator = torch.Generator()
        generator.manual_seed(self.seed + epoch)
        return torch.randperm(self.num_samples, generator=generator)

    def __iter__(self) -> Iterator[int]:
        order = self.epoch_order(self.epoch)
        usable = order[: self.batches_per_epoch * self.global_batch]
        batches = usable.view(self.batches_per_epoch, self.global_batch)
        mine = batches[self.start_batch :, self.rank :: self.world_size]
        return iter(mine.reshape(-1).tolist())

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.local_batch


def move_to_device(batch: Any, device: torch.device, *, non_blocking: bool = False) -> Any:
    """Move every tensor inside nested dicts / lists / tuples to ``device``.

    Other leaves (numbers, strings, None) are returned unchanged; named tuples and
    dict subclasses keep their type.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        moved = {k: move_to_device(v, device, non_blocking=non_blocking) for k, v in batch.items()}
        return moved if type(batch) is dict else type(batch)(moved)  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # named tuple
        return type(batch)(*(move_to_device(v, device, non_blocking=non_blocking) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(move_to_device(v, device, non_blocking=non_blocking) for v in batch)
    return batch
