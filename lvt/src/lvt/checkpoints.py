"""Saving and loading trained models with their configuration (``model.pt``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lvt.config import TransformerConfig, VQVAEConfig
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE
from shared_utils.config import config_from_dict, config_to_dict
from shared_utils.io.atomic import atomic_path


def save_model(path: str | Path, model: VQVAE | LatentVideoTransformer) -> Path:
    """Write {kind, config, state_dict} to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "vqvae" if isinstance(model, VQVAE) else "transformer"
    payload = {"kind": kind, "config": config_to_dict(model.cfg), "state_dict": model.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _load(path: str | Path, kind: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} checkpoint {path} not found")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        raise ValueError(
            f"{path}: field 'kind' is {payload.get('kind') if isinstance(payload, dict) else None!r}, expected {kind!r}"
        )
    return payload


def load_vqvae(path: str | Path, *, implementation: str = "auto") -> VQVAE:
    """A VQ-VAE saved by :func:`save_model`, in eval mode."""
    payload = _load(path, "vqvae")
    model = VQVAE(
        config_from_dict(VQVAEConfig, payload["config"], source=str(path)),
        implementation=implementation,
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def load_transformer(path: str | Path) -> LatentVideoTransformer:
    """A transformer saved by :func:`save_model`, in eval mode."""
    payload = _load(path, "transformer")
    model = LatentVideoTransformer(
        config_from_dict(TransformerConfig, payload["config"], source=str(path))
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()
