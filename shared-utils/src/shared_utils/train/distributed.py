"""torch.distributed set-up from the environment torchrun provides.

``torchrun --nproc_per_node N script.py`` (or ``python -m torch.distributed.run``) sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in each
worker. :func:`init_distributed` reads them and joins the process group: ``nccl`` when the
device is CUDA, ``gloo`` on CPU. Without those variables (a plain ``python script.py``)
it returns a single-process :class:`DistInfo` and starts nothing.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int
    """Global rank, 0..world_size-1."""
    world_size: int
    """Number of processes in the job (1 without torchrun)."""
    local_rank: int
    """Rank on this machine; picks the CUDA device."""
    device: torch.device
    """The device this process trains on."""
    is_main: bool
    """True on rank 0: the process that writes files and prints."""
    initialized_here: bool = False
    """True when :func:`init_distributed` created the process group (so it should destroy it)."""


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a device.

    ``"auto"`` is ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``"cuda"``
    means ``cuda:<local_rank>``.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    return resolved


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise RuntimeError(f"environment variable {name}={raw!r} is not an integer") from error


def init_distributed(device: str = "auto", *, timeout_s: float = 1800.0) -> DistInfo:
    """Join the torchrun process group if there is one; describe this process.

    Args:
        device: ``"auto" | "cpu" | "cuda" | "cuda:N"`` (see :func:`resolve_device`).
        timeout_s: collective timeout of the process group.

    Returns:
        A :class:`DistInfo`; ``world_size == 1`` when ``WORLD_SIZE`` is absent or 1.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise RuntimeError(f"RANK={rank} is outside WORLD_SIZE={world_size}")
    resolved = resolve_device(device, local_rank)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    created = False
    if world_size > 1 and not dist.is_initialized():
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
        if missing:
            raise RuntimeError(
                f"WORLD_SIZE={world_size} but {', '.join(missing)} unset: launch with torchrun"
            )
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend,
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
        created = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        device=resolved,
        is_main=rank == 0,
        initialized_here=created,
    )


def cleanup_distributed(info: DistInfo | None = None) -> None:
    """Destroy the process group (only the one :func:`init_distributed` made, if ``info``)."""
    if not dist.is_initialized():
        return
    if info is not None and not info.initialized_here:
        return
    dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op in a single process)."""
    if info.world_size > 1:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place and return it (identity in a single process)."""
    if info.world_size > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` in a single process)."""
    if info.world_size == 1:
        return [obj]
    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if info.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
