"""Saving and loading a trained DEF model with its configuration.

The file holds ``{"config": dict, "state_dict": ...}`` and is written by
:func:`shared_utils.train.checkpoint.save_checkpoint`: atomically, with a ``.sha256``
sidecar that :func:`~shared_utils.train.checkpoint.load_checkpoint` verifies before
loading with ``weights_only=True`` (no pickled code). A corrupted, truncated or
unhashed file raises :class:`~shared_utils.train.checkpoint.CheckpointError` naming it.
"""

from __future__ import annotations

from pathlib import Path

from def_features.config import DefConfig
from def_features.model.unet import DefUNet
from shared_utils.config import config_from_dict, config_to_dict
from shared_utils.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def save_model(path: str | Path, model: DefUNet, cfg: DefConfig) -> str:
    """Write ``{"config": dict, "state_dict": ...}`` to ``path`` (+ ``path.sha256``).

    Returns the file's sha256.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"config": config_to_dict(cfg), "state_dict": model.state_dict()}
    return save_checkpoint(state, path)


def load_model(path: str | Path, device: str = "cpu") -> tuple[DefUNet, DefConfig]:
    """Rebuild the model saved by :func:`save_model`.

    Raises:
        CheckpointError: the file is missing, corrupted (sha256 mismatch), has no hash
            sidecar, or lacks the ``config`` / ``state_dict`` fields.
    """
    path = Path(path)
    blob = load_checkpoint(path, map_location=device)
    missing = [k for k in ("config", "state_dict") if k not in blob]
    if missing:
        raise CheckpointError(f"{path}: not a DEF model file: missing field(s) {missing}")
    cfg = config_from_dict(DefConfig, blob["config"], source=str(path))
    model = DefUNet(cfg.model, cfg.data.truncation)
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), cfg
