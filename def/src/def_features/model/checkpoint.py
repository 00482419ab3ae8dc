"""Saving and loading a trained DEF model with its configuration."""

from __future__ import annotations

from pathlib import Path

import torch

from def_features.config import DefConfig
from def_features.model.unet import DefUNet
from shared_utils.config import config_from_dict, config_to_dict


def save_model(path: str | Path, model: DefUNet, cfg: DefConfig) -> None:
    """Write ``{"config": dict, "state_dict": ...}`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"config": config_to_dict(cfg), "state_dict": model.state_dict()}, tmp)
    tmp.replace(path)


def load_model(path: str | Path, device: str = "cpu") -> tuple[DefUNet, DefConfig]:
    """Rebuild the model saved by :func:`save_model` (weights only, no pickled code)."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a readable DEF model file: {exc}") from exc
    if not isinstance(blob, dict) or "config" not in blob or "state_dict" not in blob:
        raise ValueError(f"{path}: missing field 'config' or 'state_dict'")
    cfg = config_from_dict(DefConfig, blob["config"], source=str(path))
    model = DefUNet(cfg.model, cfg.data.truncation)
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), cfg
