"""Training of the two stages through the shared Trainer: the VQ-VAE on single frames
(Adam), then the transformer on extracted latent clips (RMSprop, alpha 0.95, momentum 0.9)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lvt.checkpoints import save_model
from lvt.config import TransformerConfig, VQVAEConfig
from lvt.losses import transformer_loss, vqvae_loss
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE
from shared_utils.train import Trainer, TrainerConfig
from shared_utils.train.seed import seed_everything


class FrameDataset(Dataset):
    """Single frames of videos (N, T, H, W, 3) (uint8 or float [0, 1]) as (3, H, W) in [-1, 1].

    With ``dihedral``, each frame also appears under the other 7 symmetries of the square
    (quarter turns, each optionally mirrored): item i is frame i % F under symmetry i // F,
    8 * F items. Augmentation as a fixed, larger dataset keeps the samples a function of
    the index only (no random state; the shuffled order and resumption stay the trainer's).
    A small set of real frames then covers edge orientations that its few scenes lack.
    """

    def __init__(self, videos: np.ndarray, *, dihedral: bool = False) -> None:
        self.frames = videos.reshape(-1, *videos.shape[2:])
        self.scale = 255.0 if videos.dtype == np.uint8 else 1.0
        self.symmetries = 8 if dihedral else 1
        if dihedral and videos.shape[2] != videos.shape[3]:
            raise ValueError(f"FrameDataset(dihedral=True) needs square frames, got {videos.shape}")

    def __len__(self) -> int:
        return len(self.frames) * self.symmetries

    def __getitem__(self, i: int) -> torch.Tensor:
        symmetry, i = divmod(i, len(self.frames))
        x = torch.from_numpy(np.asarray(self.frames[i], dtype=np.float32) / self.scale)
        x = x.permute(2, 0, 1) * 2 - 1  # (3, H, W)
        if symmetry:
            x = torch.rot90(x, symmetry % 4, dims=(1, 2))
            x = x.flip(2) if symmetry >= 4 else x
        return x


def train_vqvae(
    cfg: VQVAEConfig,
    trainer_cfg: TrainerConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    eval_fn: Callable[[torch.nn.Module, int], Mapping[str, float]] | None = None,
    eval_every: int = 0,
) -> tuple[VQVAE, dict[str, float]]:
    """Train a VQ-VAE; writes ``run_dir/model.pt``. Returns the model and final metrics."""
    seed_everything(trainer_cfg.seed, deterministic=trainer_cfg.deterministic)
    model = VQVAE(cfg)
    trainer = Trainer(
        trainer_cfg,
        model=model,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=cfg.lr),
        loss_fn=vqvae_loss,
        dataset=dataset,
        run_dir=run_dir,
        eval_fn=eval_fn,
        eval_every=eval_every,
        run_config={"vqvae": cfg, "trainer": trainer_cfg},
    )
    metrics = trainer.fit()
    save_model(Path(run_dir) / "model.pt", model)
    return model.cpu().eval(), metrics


def train_transformer(
    cfg: TransformerConfig,
    trainer_cfg: TrainerConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    optimizer: str = "rmsprop",
    eval_fn: Callable[[torch.nn.Module, int], Mapping[str, float]] | None = None,
    eval_every: int = 0,
) -> tuple[LatentVideoTransformer, dict[str, float]]:
    """Train the latent transformer on clips (T, h, w, n_c); writes ``run_dir/model.pt``.

    Args:
        optimizer: "rmsprop" (the paper: alpha 0.95, momentum 0.9) or "adam" (faster for
            the tiny CPU demo).
    """
    seed_everything(trainer_cfg.seed, deterministic=trainer_cfg.deterministic)
    model = LatentVideoTransformer(cfg)

    def make_optimizer(m: torch.nn.Module) -> torch.optim.Optimizer:
        if optimizer == "rmsprop":
            return torch.optim.RMSprop(m.parameters(), lr=cfg.lr, alpha=0.95, momentum=0.9)
        if optimizer == "adam":
            return torch.optim.Adam(m.parameters(), lr=cfg.lr)
        raise ValueError(f"optimizer must be 'rmsprop' or 'adam', got {optimizer!r}")

    trainer = Trainer(
        trainer_cfg,
        model=model,
        optimizer_fn=make_optimizer,
        loss_fn=transformer_loss,
        dataset=dataset,
        run_dir=run_dir,
        eval_fn=eval_fn,
        eval_every=eval_every,
        run_config={"transformer": cfg, "trainer": trainer_cfg},
    )
    metrics = trainer.fit()
    save_model(Path(run_dir) / "model.pt", model)
    return model.cpu().eval(), metrics
