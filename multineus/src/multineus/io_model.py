"""Saving and loading a trained Multi-NeuS (weights + config) in a run folder.

The weights go through shared_utils' checkpoint writer: atomic, with a ``.sha256``
sidecar that is verified on load, so a truncated or corrupted file is refused.
"""

from __future__ import annotations

from pathlib import Path

import torch

from multineus.config import MultiNeuSConfig
from multineus.model.multineus import MultiNeuS
from shared_utils.config import load_config, save_config
from shared_utils.train.checkpoint import load_checkpoint, save_checkpoint

WEIGHTS = "multineus.pt"
CONFIG = "multineus.yaml"


def save_model(
    model: MultiNeuS, cfg: MultiNeuSConfig, folder: str | Path, *, mean_K: torch.Tensor
) -> None:
    """Write ``folder/multineus.pt`` (state dict + mean intrinsics) and ``folder/multineus.yaml``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(cfg, folder / CONFIG)
    state = {"model": model.state_dict(), "num_scenes": model.num_scenes, "mean_K": mean_K.cpu()}
    save_checkpoint(state, folder / WEIGHTS)


def load_model(folder: str | Path) -> tuple[MultiNeuS, MultiNeuSConfig, torch.Tensor]:
    """Read what :func:`save_model` wrote; returns (model, config, mean_K (3, 3)).

    Raises:
        FileNotFoundError: naming the missing file.
        shared_utils.train.checkpoint.CheckpointError: corrupted, truncated or unhashed weights.
    """
    folder = Path(folder)
    for name in (CONFIG, WEIGHTS):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found (write it with `multineus train`)")
    cfg = load_config(MultiNeuSConfig, folder / CONFIG)
    state = load_checkpoint(folder / WEIGHTS)
    cfg.multi.num_scenes = int(state["num_scenes"])
    model = MultiNeuS(cfg)
    model.load_state_dict(state["model"])
    return model, cfg, state["mean_K"]
