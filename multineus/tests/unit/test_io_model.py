"""Model files: exact round trip, corrupted or missing files refused with the file named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from multineus.config import tiny_config
from multineus.io_model import WEIGHTS, load_model, save_model
from multineus.model.multineus import MultiNeuS
from shared_utils.train.checkpoint import CheckpointError


def _saved(tmp_path: Path, background: bool = False) -> tuple[MultiNeuS, torch.Tensor]:
    cfg = tiny_config()
    cfg.multi.num_scenes = 3
    cfg.background.enabled, cfg.background.skip_in = background, (1,)
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    mean_K = torch.tensor([[40.0, 0.0, 16.0], [0.0, 41.0, 15.5], [0.0, 0.0, 1.0]])
    save_model(model, cfg, tmp_path, mean_K=mean_K)
    return model, mean_K


@pytest.mark.parametrize("background", [False, True])
def test_round_trip_is_exact(tmp_path: Path, background: bool) -> None:
    model, mean_K = _saved(tmp_path, background)
    loaded, cfg, K = load_model(tmp_path)
    assert cfg.multi.num_scenes == 3 and loaded.num_scenes == 3
    assert cfg.background.enabled == background and cfg.background.skip_in == (1,)
    torch.testing.assert_close(K, mean_K, rtol=0, atol=0)
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    _saved(tmp_path)
    path = tmp_path / WEIGHTS
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=re.escape(WEIGHTS)):
        load_model(tmp_path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"multineus\.yaml"):
        load_model(tmp_path)
