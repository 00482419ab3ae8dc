"""Model files: round trip through shared_utils checkpoints, corrupted files refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from def_features.config import ModelConfig, preset
from def_features.model.checkpoint import load_model, save_model
from def_features.model.unet import DefUNet
from shared_utils.train.checkpoint import CheckpointError, file_sha256, save_checkpoint


def _tiny() -> tuple[DefUNet, object]:
    cfg = preset("tiny")
    cfg = dataclasses.replace(
        cfg, model=ModelConfig(encoder="resnet10t", decoder_channels=(16, 8, 8, 8), n_bins=12)
    )
    torch.manual_seed(0)
    return DefUNet(cfg.model, cfg.data.truncation).eval(), cfg


def test_round_trip_restores_config_and_predictions(tmp_path: Path) -> None:
    model, cfg = _tiny()
    path = tmp_path / "run" / "model.pt"
    digest = save_model(path, model, cfg)  # type: ignore[arg-type]
    assert digest == file_sha256(path)
    assert (tmp_path / "run" / "model.pt.sha256").read_text().split()[0] == digest
    back, back_cfg = load_model(path)
    assert back_cfg == cfg
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)


def test_corrupted_model_file_is_refused(tmp_path: Path) -> None:
    model, cfg = _tiny()
    path = tmp_path / "model.pt"
    save_model(path, model, cfg)  # type: ignore[arg-type]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.pt is corrupted or truncated"):
        load_model(path)
    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_model(path)
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path / "missing.pt")


def test_a_checkpoint_without_model_fields_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    save_checkpoint({"step": 3}, path)
    with pytest.raises(CheckpointError, match=r"other\.pt: not a DEF model file.*config"):
        load_model(path)
