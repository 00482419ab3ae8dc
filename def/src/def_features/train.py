"""Train the DEF patch network on a patch HDF5 file through the shared Trainer.

The loss follows the preset: the histogram loss (KL to the Gaussian-smoothed target
over 244 bins in the paper) or the MSE / L1 ablations, over surface pixels only.
Multi-GPU: launch with ``torchrun`` (``batch_size`` is the global batch). Mixed
precision follows ``OptimConfig.amp`` (bf16 in the paper preset, none in tiny; ``def
train --amp none|fp16|bf16`` overrides it) and is passed to the Trainer as
``TrainerConfig.amp``, which applies it on CUDA only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from def_features.config import DefConfig
from def_features.data.dataset import PatchDataset
from def_features.model.histogram import histogram_loss, regression_loss
from def_features.model.unet import DefUNet
from shared_utils.train.trainer import Trainer, TrainerConfig


def make_loss_fn(cfg: DefConfig):
    """``loss_fn(model, batch, step) -> (loss, scalars)`` of the configured loss."""

    def loss_fn(
        model: nn.Module, batch: dict[str, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, Mapping[str, float]]:
        out = model(batch["input"])
        mask = batch["mask"]
        if cfg.optim.loss == "histogram":
            if cfg.model.head != "histogram":
                raise ValueError("the histogram loss needs model.head='histogram'")
            loss = histogram_loss(out, batch["distance"], _bins(model), mask)
        else:
            if cfg.model.head != "regression":
                raise ValueError(f"loss {cfg.optim.loss!r} needs model.head='regression'")
            loss = regression_loss(out[:, 0], batch["distance"], cfg.optim.loss, mask)
        return loss, {"loss": float(loss.detach())}

    return loss_fn


def _bins(model: nn.Module):
    inner: Any = getattr(model, "module", model)
    return inner.bins


def train(
    cfg: DefConfig,
    train_arrays: dict[str, np.ndarray],
    run_dir: str | Path,
    *,
    trainer: TrainerConfig | None = None,
) -> DefUNet:
    """Train a fresh model; resumes from ``run_dir`` if it holds checkpoints."""
    tcfg = trainer or TrainerConfig(
        steps=cfg.optim.steps,
        batch_size=cfg.optim.batch_size,
        seed=cfg.seed,
        amp=cfg.optim.amp,
        log_every=50,
        checkpoint_every=max(cfg.optim.steps // 2, 1),
        keep_checkpoints=1,
        progress=True,
        tensorboard=False,
    )
    torch.manual_seed(cfg.seed)
    model = DefUNet(cfg.model, cfg.data.truncation)
    dataset = PatchDataset(train_arrays, cfg.model.depth_scale)
    t = Trainer(
        tcfg,
        model=model,
        optimizer_fn=lambda m: torch.optim.Adam(
            m.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
        ),
        loss_fn=make_loss_fn(cfg),
        dataset=dataset,
        run_dir=run_dir,
        scheduler_fn=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tcfg.steps),
        run_config=cfg,
    )
    t.fit()
    return model.cpu().eval()


@torch.no_grad()
def predict(
    model: DefUNet, arrays: dict[str, np.ndarray], depth_scale: float, batch: int = 32
) -> np.ndarray:
    """(N, S, S) predicted distances of stored patches (``truncation`` on background)."""
    model.eval()
    ds = PatchDataset(arrays, depth_scale)
    device = next(model.parameters()).device
    outs = []
    for s in range(0, len(ds), batch):
        x = ds.input[s : s + batch].to(device)
        outs.append(model.predict_distance(x).cpu())
    pred = torch.cat(outs).numpy()
    return np.where(ds.mask.numpy(), pred, model.bins.truncation)
