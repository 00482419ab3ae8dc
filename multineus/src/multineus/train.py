"""Meta-learning stage: train Multi-NeuS over many scenes at once (shared Trainer).

Every step renders ``trainer.batch_size`` batches of rays (the global batch, split over
torchrun's ranks), each of one scene (scenes in turn) with that scene's coefficients, so the shared layers and bases learn what all heads have in common.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from multineus.config import MultiNeuSConfig
from multineus.data.scenes import RayBatches, SceneViews, ray_batch_list
from multineus.mesh import Mesh, marching_cubes_mesh
from multineus.model.multineus import MultiNeuS
from multineus.system import MultiNeuSSystem, neus_loss
from shared_utils.train.trainer import Trainer


def meta_train(
    cfg: MultiNeuSConfig, scenes: list[SceneViews], run_dir: str | Path, *, seed: int = 0
) -> MultiNeuS:
    """Train a model holding ``len(scenes)`` scenes; returns it (also checkpointed in run_dir).

    Raises:
        ValueError: when the number of scenes differs from ``cfg.multi.num_scenes``.
    """
    if len(scenes) != cfg.multi.num_scenes:
        raise ValueError(
            f"meta_train: cfg.multi.num_scenes is {cfg.multi.num_scenes} but {len(scenes)} scenes were given"
        )
    model = MultiNeuS(cfg, seed=seed)
    system = MultiNeuSSystem(cfg, model, scenes, refine_cameras=False)
    # one item per scene batch; a step takes trainer.batch_size of them (the GLOBAL batch,
    # split over torchrun's ranks), so one epoch covers every step
    length = max(cfg.trainer.steps, 1) * cfg.trainer.batch_size
    data = RayBatches(scenes, rays=cfg.rays_per_batch, length=length, seed=cfg.trainer.seed)
    trainer = Trainer(
        cfg.trainer,
        model=system,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=cfg.lr),
        scheduler_fn=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda step: warmup_cosine(
                step, cfg.trainer.steps, cfg.lr_warmup_steps, cfg.lr_final_factor
            ),
        ),
        loss_fn=neus_loss,
        dataset=data,
        run_dir=run_dir,
        collate_fn=ray_batch_list,
        run_config=cfg,
    )
    trainer.fit()
    return model.cpu()


def warmup_cosine(step: int, total: int, warmup: int, final: float) -> float:
    """Learning-rate factor at ``step`` of ``total``: linear from 0 over ``warmup`` steps,
    then a half cosine from 1 to ``final`` at the last step (NeuS's schedule)."""
    if step < warmup:
        return step / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def extract_mesh(
    model: MultiNeuS, scene: int, *, resolution: int, bound: float = 1.0, colors: bool = True
) -> Mesh:
    """Marching cubes of one scene's SDF with vertex colours from the colour network."""
    model = model.eval()
    device = next(model.parameters()).device

    def sdf_fn(p: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = [
                model.sdf(torch.as_tensor(c, dtype=torch.float32, device=device), scene).cpu()
                for c in np.array_split(p, max(1, len(p) // 65536))
            ]
        return torch.cat(out).numpy()

    def color_fn(v: np.ndarray) -> np.ndarray:
        out = [
            model.color_at(torch.as_tensor(c, dtype=torch.float32, device=device), scene).cpu()
            for c in np.array_split(v, max(1, len(v) // 16384))
        ]
        return torch.cat(out).numpy()

    return marching_cubes_mesh(
        sdf_fn, resolution=resolution, bound=bound, color_fn=color_fn if colors else None
    )
