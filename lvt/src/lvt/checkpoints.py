"""Saving and loading trained models with their configuration (``model.pt``).

A model file is a ``{kind, config, state_dict}`` dict written by
``shared_utils.train.checkpoint.save_checkpoint``: atomically, with a ``model.pt.sha256``
file beside it. Loading verifies the digest first and unpickles with
``weights_only=True``, so a truncated, bit-flipped or foreign file is refused with a
:class:`~shared_utils.train.checkpoint.CheckpointError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lvt.config import TransformerConfig, VQVAEConfig
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE
from shared_utils.config import config_from_dict, config_to_dict
from shared_utils.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "load_transformer", "load_vqvae", "save_model"]


def save_model(path: str | Path, model: VQVAE | LatentVideoTransformer) -> Path:
    """Write {kind, config, state_dict} to ``path`` (+ ``path.sha256``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "vqvae" if isinstance(model, VQVAE) else "transformer"
    payload = {"kind": kind, "config": config_to_dict(model.cfg), "state_dict": model.state_dict()}
    save_checkpoint(payload, path)
    return path


def _load(path: str | Path, kind: str) -> dict[str, Any]:
    """The verified payload of a model file of the given kind.

    Raises:
        CheckpointError: missing file, missing/mismatching sha256, unloadable file.
        ValueError: the file holds another kind of model or lacks a field.
    """
    path = Path(path)
    payload = load_checkpoint(path)
    if payload.get("kind") != kind:
        raise ValueError(f"{path}: field 'kind' is {payload.get('kind')!r}, expected {kind!r}")
    for name in ("config", "state_dict"):
        if name not in payload:
            raise ValueError(f"{path}: field {name!r} is missing")
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
