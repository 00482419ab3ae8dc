"""The run folder: resolved config, environment, metrics, checkpoints, TensorBoard.

Layout::

    <run>/
      config.yaml        the resolved config (shared_utils.config.save_config)
      environment.json   versions, git commit, uv.lock sha256, host, device
      metrics.json       {"history": [{"step": n, "train/loss": ...}, ...], "final": {...}}
      checkpoints/       step_XXXXXXXX.pt (+ .sha256) and the ``latest`` pointer
      tensorboard/       SummaryWriter event files (scalars, images)

Only the main process writes; on other ranks every method is a no-op, so callers need
not branch on the rank. ``metrics.json`` is rewritten atomically after each logged step.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared_utils.config import save_config
from shared_utils.io.atomic import atomic_write_text
from shared_utils.train.environment import collect_environment


def _json_safe(value: Any) -> Any:
    """Floats as JSON allows them (non-finite values become None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunDir:
    """A run folder; create it with the path every rank agrees on."""

    def __init__(
        self, path: str | os.PathLike[str], *, is_main: bool = True, tensorboard: bool = True
    ) -> None:
        """
        Args:
            path: the run folder (created if missing).
            is_main: write files only when True (rank 0).
            tensorboard: write TensorBoard event files.
        """
        self.path = Path(path)
        self.is_main = is_main
        self.use_tensorboard = tensorboard
        self._writer: Any = None
        self._purge_step: int | None = None
        self.metrics: dict[str, Any] = {"history": [], "final": {}}
        if is_main:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            if self.metrics_path.is_file():
                self.metrics = json.loads(self.metrics_path.read_text(encoding="utf-8"))

    # ------------------------------------------------------------------ paths
    @property
    def checkpoints(self) -> Path:
        """The checkpoint folder."""
        return self.path / "checkpoints"

    @property
    def tensorboard_dir(self) -> Path:
        """The TensorBoard log folder."""
        return self.path / "tensorboard"

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def environment_path(self) -> Path:
        return self.path / "environment.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    # ------------------------------------------------------------------ static files
    def write_config(self, cfg: Any) -> None:
        """Save the resolved config dataclass as ``config.yaml``."""
        if self.is_main:
            save_config(cfg, self.config_path)

    def write_environment(
        self, device: torch.device | str | None = None, extra_packages: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Record :func:`collect_environment` as ``environment.json``; return it."""
        if not self.is_main:
            return {}
        env = collect_environment(device, extra_packages)
        atomic_write_text(self.environment_path, json.dumps(env, indent=2) + "\n")
        return env

    # ------------------------------------------------------------------ metrics
    def resume_from(self, step: int) -> None:
        """Forget history after ``step`` (logged by an interrupted run after its checkpoint)."""
        if not self.is_main:
            return
        self.metrics["history"] = [h for h in self.metrics["history"] if h["step"] <= step]
        self.metrics["final"] = {}
        self._purge_step = step + 1
        self._save_metrics()

    def log_scalars(self, step: int, scalars: dict[str, float]) -> None:
        """Append scalars at ``step`` to metrics.json (merged with the step's entry) and TensorBoard."""
        if not self.is_main:
            return
        history = self.metrics["history"]
        values = {k: _json_safe(float(v)) for k, v in scalars.items()}
        if history and history[-1]["step"] == step:
            history[-1].update(values)
        else:
            history.append({"step": step, **values})
        writer = self.writer
        if writer is not None:
            for name, value in scalars.items():
                writer.add_scalar(name, float(value), step)
        self._save_metrics()

    def set_final(self, metrics: dict[str, Any]) -> None:
        """Store the final metrics of the run in metrics.json."""
        if not self.is_main:
            return
        self.metrics["final"] = {k: _json_safe(v) for k, v in metrics.items()}
        self._save_metrics()

    def _save_metrics(self) -> None:
        text = json.dumps(self.metrics, indent=1, allow_nan=False)
        atomic_write_text(self.metrics_path, text + "\n")

    # ------------------------------------------------------------------ TensorBoard
    @property
    def writer(self) -> Any:
        """The ``SummaryWriter`` (created on first use), or None when disabled / not main."""
        if not (self.is_main and self.use_tensorboard):
            return None
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.tensorboard_dir), purge_step=self._purge_step)
        return self._writer

    def log_image(self, tag: str, image: np.ndarray | torch.Tensor, step: int) -> None:
        """Log an image to TensorBoard.

        Args:
            image: (H, W, 3) or (H, W) float in [0, 1] or uint8, numpy or torch.
        """
        writer = self.writer
        if writer is None:
            return
        array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else image
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3:
            raise ValueError(f"log_image({tag!r}) expects (H, W, C) or (H, W), got {array.shape}")
        writer.add_image(tag, array, step, dataformats="HWC")

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
