"""Running sums of the training scalars between two log steps.

The trainer adds one entry per optimizer step and, every ``log_every`` steps, turns the
sums into means (``train/loss``, ``train/grad_norm``, ``train/lr``, ``train/<name>``).
The sums are plain floats so they can travel inside a checkpoint: a run resumed in the
middle of a window logs exactly the means an uninterrupted run logs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from shared_utils.train.distributed import DistInfo, all_reduce_sum

_USER = "user/"


class LogWindow:
    """Sums of per-step scalars since the last log."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}

    @property
    def count(self) -> int:
        """Steps added since the last :meth:`pop_means`."""
        return int(self.sums.get("count", 0.0))

    def add(self, loss: float, grad_norm: float, lr: float, scalars: Mapping[str, float]) -> None:
        """Add one optimizer step.

        Args:
            loss: the loss averaged over micro-steps and ranks.
            grad_norm: the global gradient norm (the same on every rank).
            lr: the learning rate the step used (the latest value is logged, not a mean).
            scalars: ``loss_fn``'s scalars of this rank, averaged over micro-steps.
        """
        sums = self.sums
        sums["count"] = sums.get("count", 0.0) + 1.0
        sums["loss"] = sums.get("loss", 0.0) + loss
        sums["grad_norm"] = sums.get("grad_norm", 0.0) + grad_norm
        sums["lr"] = lr
        for name, value in scalars.items():
            sums[_USER + name] = sums.get(_USER + name, 0.0) + float(value)

    def pop_means(self, dist: DistInfo) -> dict[str, float]:
        """The means over the window (user scalars also averaged over ranks); resets it.

        Every rank must call this at the same step (it all-reduces the user scalars).
        Returns an empty dict when no step was added.
        """
        sums, self.sums = self.sums, {}
        count = sums.pop("count", 0.0)
        if count == 0:
            return {}
        names = sorted(k for k in sums if k.startswith(_USER))
        totals = torch.tensor([sums[k] for k in names], dtype=torch.float64, device=dist.device)
        all_reduce_sum(totals, dist)
        means = {
            "train/loss": sums["loss"] / count,
            "train/grad_norm": sums["grad_norm"] / count,
            "train/lr": sums["lr"],
        }
        for name, total in zip(names, totals.tolist()):
            means["train/" + name.removeprefix(_USER)] = total / count / dist.world_size
        return means

    def state_dict(self) -> dict[str, float]:
        return dict(self.sums)

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        self.sums = {k: float(v) for k, v in state.items()}
