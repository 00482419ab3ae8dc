"""The trainer every member uses: DDP, AMP, accumulation, checkpoints, exact resume.

A member supplies a model, a function building its optimizer, a loss function and a
map-style dataset; :class:`Trainer` does the rest::

    trainer = Trainer(cfg.trainer, model=model, optimizer_fn=lambda m: torch.optim.Adam(
        m.parameters(), lr=cfg.lr), loss_fn=loss_fn, dataset=dataset, run_dir="runs/x")
    final = trainer.fit()

What it guarantees:

- The data order depends only on ``(seed, epoch)`` (:class:`GlobalBatchSampler`); with
  ``torchrun --nproc_per_node W`` each rank takes ``1/W`` of every global batch, so W
  processes follow the same trajectory as one (up to float summation order).
- On start it resumes from the run folder's ``latest`` checkpoint: model, optimizer,
  scheduler, scaler, the RNG states of every rank, the data position (epoch, batch)
  and the partial logging window. On CPU the resumed run ends bit-identical to an
  uninterrupted one.
- A non-finite loss (or gradient norm, unless fp16 loss scaling handles it) raises
  :class:`NonFiniteLossError` before the optimizer step; nothing is written, so the last
  good checkpoint stays the newest.

Step numbering: ``loss_fn`` receives ``step``, the number of optimizer steps completed
before this one (0-based). Logging, evaluation and checkpoints happen after step ``n``
completed, labelled ``n`` (``step_00000100.pt`` holds the state after 100 steps).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from shared_utils.config import config_to_dict
from shared_utils.train import checkpoint as ckpt
from shared_utils.train.data import GlobalBatchSampler, move_to_device
from shared_utils.train.distributed import (
    all_gather_objects,
    all_reduce_sum,
    barrier,
    broadcast_object,
    cleanup_distributed,
    init_distributed,
)
from shared_utils.train.log_window import LogWindow
from shared_utils.train.run_dir import RunDir
from shared_utils.train.seed import capture_rng_state, restore_rng_state, seed_everything

LossFn = Callable[[nn.Module, Any, int], tuple[torch.Tensor, Mapping[str, float]]]
"""``loss_fn(model, batch, step) -> (scalar loss tensor, {name: float})``."""
EvalFn = Callable[[nn.Module, int], Mapping[str, float]]
"""``eval_fn(model, step) -> {name: float}`` (runs on rank 0, model in eval mode)."""


@dataclass
class TrainerConfig:
    """Settings of the shared trainer (embed it in a member's config as `trainer`)."""

    steps: int = 1000
    """Optimizer steps to train for; the run ends when this many have completed."""
    batch_size: int = 8
    """Global batch per micro-step, summed over processes (must divide by the world size)."""
    grad_accum: int = 1
    """Micro-steps per optimizer step; the effective batch is batch_size * grad_accum."""
    seed: int = 0
    """Seed of the data order and of python/numpy/torch (rank r is seeded with seed + r)."""
    amp: Literal["none", "fp16", "bf16"] = "none"
    """Mixed precision on CUDA: fp16 (with a GradScaler) or bf16; always off on CPU."""
    grad_clip: float | None = None
    """Clip the global gradient norm to this value; None disables clipping."""
    log_every: int = 10
    """Log the mean training scalars every this many steps (0: only at the end)."""
    checkpoint_every: int = 500
    """Write a checkpoint every this many steps (0: only at the end)."""
    keep_checkpoints: int = 3
    """How many of the newest checkpoints to keep (0: keep all)."""
    num_workers: int = 0
    """DataLoader worker processes (0 loads in the training process)."""
    device: str = "auto"
    """Where to train: auto (CUDA if available), cpu, cuda or cuda:N; torchrun: cuda:LOCAL_RANK."""
    deterministic: bool = True
    """Use deterministic torch kernels (warn where none exists); needed for exact resume."""
    shuffle: bool = True
    """Shuffle the data every epoch (the order is still fixed by seed and epoch)."""
    progress: bool = True
    """Show a tqdm progress bar on rank 0."""
    tensorboard: bool = True
    """Write TensorBoard event files under <run>/tensorboard."""
    find_unused_parameters: bool = False
    """DDP option for models whose loss does not touch every parameter each step."""


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm became NaN/Inf; training stopped without checkpointing."""

    def __init__(
        self, message: str, *, step: int, loss: float, grad_norm: float, checkpoint: Path | None
    ) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.grad_norm = grad_norm
        self.checkpoint = checkpoint


class _LossModule(nn.Module):
    """Runs ``loss_fn`` as ``forward`` so that DDP sees every use of the model, whatever
    methods ``loss_fn`` calls, while ``loss_fn`` itself always gets the plain model."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any, step: int) -> tuple[torch.Tensor, Mapping[str, float]]:
        return self.loss_fn(self.model, batch, step)


class Trainer:
    """Trains ``model`` on ``dataset`` by minimising ``loss_fn``; see the module docstring."""

    def __init__(
        self,
        cfg: TrainerConfig,
        *,
        model: nn.Module,
        optimizer_fn: Callable[[nn.Module], torch.optim.Optimizer],
        loss_fn: LossFn,
        dataset: Dataset[Any],
        run_dir: str | Path,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        scheduler_fn: Callable[[torch.optim.Optimizer], Any] | None = None,
        eval_fn: EvalFn | None = None,
        eval_every: int = 0,
        run_config: Any = None,
    ) -> None:
        """
        Args:
            cfg: the trainer settings.
            model: the network (moved to the device here; not yet wrapped in DDP).
            optimizer_fn: builds the optimizer from the plain model.
            loss_fn: ``(model, batch, step) -> (loss, {name: float})``; ``batch`` is already on
                the device; return the same scalar names on every rank.
            dataset: a map-style dataset (``__len__`` and ``__getitem__``).
            run_dir: the run folder (the same path on every rank).
            collate_fn: DataLoader collate function (default: torch's default_collate).
            scheduler_fn: builds an LR scheduler, stepped once per optimizer step.
            eval_fn: ``(model, step) -> {name: float}``, run on rank 0 every ``eval_every``
                steps and at the end; its RNG use does not perturb training.
            eval_every: evaluation period in steps (0: only at the end).
            run_config: the full config saved as config.yaml (default: ``cfg``).
        """
        for name in ("steps", "batch_size", "grad_accum"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"TrainerConfig.{name} must be >= 1, got {getattr(cfg, name)}")
        for name in ("log_every", "checkpoint_every", "keep_checkpoints", "num_workers"):
            if getattr(cfg, name) < 0:
                raise ValueError(f"TrainerConfig.{name} must be >= 0, got {getattr(cfg, name)}")
        if eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {eval_every}")
        self.cfg = cfg
        self.loss_fn = loss_fn
        self.eval_fn = eval_fn
        self.eval_every = eval_every
        self.run_config = cfg if run_config is None else run_config
        self.dist = init_distributed(cfg.device)
        self.device = self.dist.device
        seed_everything(cfg.seed + self.dist.rank, deterministic=cfg.deterministic)
        self.run = RunDir(run_dir, is_main=self.dist.is_main, tensorboard=cfg.tensorboard)

        self.model = model.to(self.device)
        self._loss_module: nn.Module = _LossModule(self.model, loss_fn)
        if self.dist.world_size > 1:
            self._loss_module = DistributedDataParallel(
                self._loss_module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )
        self.optimizer = optimizer_fn(self.model)
        self.scheduler = scheduler_fn(self.optimizer) if scheduler_fn is not None else None
        on_cuda = self.device.type == "cuda"
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.amp)
        if not on_cuda:
            self.amp_dtype = None  # CPU autocast is slow and changes numerics: keep fp32
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

        try:
            num_samples = len(dataset)  # type: ignore[arg-type]
        except TypeError as error:
            raise TypeError("Trainer needs a map-style dataset with __len__") from error
        self.sampler = GlobalBatchSampler(
            num_samples,
            cfg.batch_size,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            shuffle=cfg.shuffle,
            seed=cfg.seed,
        )
        # A private generator: creating a loader iterator must not draw from the global RNG.
        self._loader_generator = torch.Generator()
        self.loader = DataLoader(
            dataset,
            batch_size=self.sampler.local_batch,
            sampler=self.sampler,
            num_workers=cfg.num_workers,
            collate_fn=collate_fn,
            pin_memory=on_cuda,
            generator=self._loader_generator,
        )
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.last_checkpoint: Path | None = None
        self._saved_step = -1
        self._window = LogWindow()
        self._last_logged: dict[str, float] = {}

    # ------------------------------------------------------------------ main loop
    def fit(self, *, stop_at: int | None = None) -> dict[str, float]:
        """Train to ``cfg.steps`` (resuming if the run folder has a checkpoint).

        Args:
            stop_at: stop once this many steps have completed, writing a checkpoint, without
                the end-of-run evaluation (to cut a long run into jobs; a later ``fit()``
                continues exactly).

        Returns:
            The final metrics: ``step``, the last logged ``train/*`` means (``loss``,
            ``grad_norm``, ``lr``, the names ``loss_fn`` returned) and ``eval/*``; the same
            dict is stored as ``final`` in metrics.json. Calling ``fit()`` on a finished run
            folder trains nothing and re-evaluates. ``fit`` ends the process group it joined,
            so under torchrun call it once per Trainer (a new Trainer resumes).
        """
        cfg = self.cfg
        target = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
        bar = None
        try:
            self.run.write_config(self.run_config)
            self.run.write_environment(self.device)
            self._resume()
            self.model.train()
            bar = tqdm(
                total=cfg.steps,
                initial=self.step,
                disable=not (cfg.progress and self.dist.is_main),
                dynamic_ncols=True,
            )
            batches = self._micro_batches()
            while self.step < target:
                loss = self._train_step(batches)
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
                if cfg.log_every and self.step % cfg.log_every == 0:
                    self._log_window()
                if self.eval_every and self.step % self.eval_every == 0 and self.step < cfg.steps:
                    self._evaluate()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self._save()
            if self.step < cfg.steps:
                if self._saved_step != self.step:
                    self._save()
                return {"step": float(self.step), **self._last_logged}
            return self._finish()
        finally:
            if bar is not None:
                bar.close()
            self.run.close()
            cleanup_distributed(self.dist)

    def _finish(self) -> dict[str, float]:
        """End of training: flush the log window, evaluate, checkpoint, store final metrics."""
        self._log_window()
        final: dict[str, float] = {"step": float(self.step), **self._last_logged}
        final.update(self._evaluate())
        if self._saved_step != self.step:
            self._save()
        self.run.set_final(final)
        return final

    def _micro_batches(self) -> Iterator[Any]:
        """Endless micro-batches from the saved data position on, tracking the position."""
        per_epoch = self.sampler.batches_per_epoch
        while True:
            if self.batch_in_epoch >= per_epoch:
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self.sampler.set_position(self.epoch, self.batch_in_epoch)
            self._loader_generator.manual_seed(self.cfg.seed + self.epoch)
            for batch in self.loader:
                self.batch_in_epoch += 1  # counted as consumed once handed out
                yield batch

    def _train_step(self, batches: Iterator[Any]) -> float:
        """One optimizer step over ``grad_accum`` micro-batches; returns the global mean loss."""
        cfg, world = self.cfg, self.dist.world_size
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), device=self.device)
        scalars: dict[str, float] = {}
        for micro in range(cfg.grad_accum):
            batch = move_to_device(next(batches), self.device, non_blocking=True)
            final_micro = micro == cfg.grad_accum - 1
            # Under DDP only the last micro-step all-reduces the accumulated gradients.
            sync = contextlib.nullcontext()
            if world > 1 and not final_micro:
                sync = self._loss_module.no_sync()  # type: ignore[operator]
            with sync:
                with torch.autocast(
                    self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None
                ):
                    loss, values = self._loss_module(batch, self.step)
                if loss.dim() != 0:
                    raise ValueError(f"loss_fn must return a scalar loss, got {tuple(loss.shape)}")
                loss_sum += loss.detach().float()
                scaled = loss / cfg.grad_accum
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            for name, value in values.items():
                scalars[name] = scalars.get(name, 0.0) + float(value) / cfg.grad_accum

        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.grad is not None]
        grad_norm = nn.utils.get_total_norm([p.grad for p in params])  # type: ignore[misc]
        local_loss = loss_sum / cfg.grad_accum
        flags = torch.stack([local_loss, (~torch.isfinite(local_loss)).float()])
        all_reduce_sum(flags, self.dist)  # every rank takes the same decision
        # One host synchronisation per step for all three numbers.
        loss_sum_ranks, bad_loss, norm_value = torch.cat([flags, grad_norm.reshape(1)]).tolist()
        loss_value = loss_sum_ranks / world
        bad_norm = not math.isfinite(norm_value) and self.scaler is None
        if bad_loss > 0 or bad_norm:
            self._raise_non_finite(loss_value, norm_value, bad_loss > 0)
        if cfg.grad_clip is not None:
            nn.utils.clip_grads_with_norm_(params, cfg.grad_clip, grad_norm)
        lr = float(self.optimizer.param_groups[0]["lr"])  # the rate this step uses
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skips the step when fp16 gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

        self._window.add(loss_value, norm_value, lr, scalars)
        return loss_value

    def _raise_non_finite(self, loss: float, grad_norm: float, bad_loss: bool) -> None:
        what = "loss" if bad_loss else "gradient norm"
        last = self.last_checkpoint or ckpt.latest_checkpoint(self.run.checkpoints)
        message = (
            f"non-finite {what} at step {self.step} (loss={loss}, grad_norm={grad_norm}); "
            f"stopped without writing a checkpoint; last good checkpoint: "
            f"{last if last is not None else 'none (no checkpoint written yet)'}"
        )
        raise NonFiniteLossError(
            message, step=self.step, loss=loss, grad_norm=grad_norm, checkpoint=last
        )

    # ------------------------------------------------------------------ logging / eval
    def _log_window(self) -> None:
        """Log the means over the steps since the last log (user scalars averaged over ranks)."""
        means = self._window.pop_means(self.dist)
        if not means:
            return
        if self.scaler is not None:
            means["train/loss_scale"] = float(self.scaler.get_scale())
        self._last_logged = means
        self.run.log_scalars(self.step, means)

    def _evaluate(self) -> dict[str, float]:
        """Run ``eval_fn`` on rank 0 with the RNG state saved and restored around it."""
        if self.eval_fn is None:
            return {}
        results: dict[str, float] = {}
        if self.dist.is_main:
            rng = capture_rng_state()
            self.model.eval()
            try:
                raw = self.eval_fn(self.model, self.step)
            finally:
                self.model.train()
                restore_rng_state(rng)
            results = {f"eval/{k}": float(v) for k, v in raw.items()}
            self.run.log_scalars(self.step, results)
        barrier(self.dist)
        return broadcast_object(results, self.dist)

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        """Checkpoint the full training state (rank 0 writes; every rank's RNG is included)."""
        rng_states = all_gather_objects(capture_rng_state(), self.dist)
        path = self.run.checkpoints / ckpt.checkpoint_name(self.step)
        if self.dist.is_main:
            state = {
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "world_size": self.dist.world_size,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng_states,
                "log_window": self._window.state_dict(),
                "last_logged": dict(self._last_logged),
                "trainer_config": config_to_dict(self.cfg),
                "run_config": config_to_dict(self.run_config),
            }
            ckpt.save_checkpoint(state, path)
            ckpt.write_latest(self.run.checkpoints, path)
            ckpt.prune_checkpoints(self.run.checkpoints, self.cfg.keep_checkpoints)
        barrier(self.dist)
        self.last_checkpoint = path
        self._saved_step = self.step

    def _resume(self) -> None:
        """Restore everything from the latest checkpoint of the run folder, if any."""
        path = ckpt.latest_checkpoint(self.run.checkpoints)
        if path is None:
            return
        state = ckpt.load_checkpoint(path, map_location="cpu")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self._window.load_state_dict(state["log_window"])
        self._last_logged = dict(state["last_logged"])
        rng = state["rng"]
        if len(rng) == self.dist.world_size:
            restore_rng_state(rng[self.dist.rank])
        else:  # a different number of processes: reproducible, though not identical
            seed_everything(
                self.cfg.seed + self.dist.rank + self.step, deterministic=self.cfg.deterministic
            )
        self.run.resume_from(self.step)
        self.last_checkpoint = path
        self._saved_step = self.step
