"""Training entry points seed python, numpy and torch through shared_utils' seed_everything."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from lvt.config import TINY_VQVAE
from lvt.train import FrameDataset, train_vqvae
from shared_utils.train import TrainerConfig


def _run(tmp_path: Path, name: str, seed: int) -> dict[str, torch.Tensor]:
    videos = np.random.default_rng(0).integers(0, 256, (2, 2, 16, 16, 3), dtype=np.uint8)
    trainer = TrainerConfig(
        steps=1, batch_size=4, seed=seed, device="cpu", progress=False, tensorboard=False,
        checkpoint_every=0, log_every=1,
    )  # fmt: skip
    # disturb every global generator: the entry point must reseed them all
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002
    torch.manual_seed(123)
    model, _ = train_vqvae(TINY_VQVAE, trainer, FrameDataset(videos), tmp_path / name)
    return model.state_dict()


def test_train_vqvae_is_reproducible_by_seed(tmp_path: Path) -> None:
    a, b, c = _run(tmp_path, "a", 0), _run(tmp_path, "b", 0), _run(tmp_path, "c", 1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
