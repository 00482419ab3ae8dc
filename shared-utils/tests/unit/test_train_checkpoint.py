"""Seeds, RNG capture/restore and hashed atomic checkpoints."""

from __future__ import annotations

import fractions
import random

import numpy as np
import pytest
import torch

from shared_utils.train import checkpoint as ckpt
from shared_utils.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from shared_utils.train.seed import capture_rng_state, restore_rng_state, seed_everything


def _draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.randn(5)  # noqa: NPY002


def test_seed_everything_gives_identical_draws() -> None:
    seed_everything(123)
    first = _draw()
    seed_everything(123)
    second = _draw()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])
    seed_everything(124)
    assert not torch.equal(_draw()[2], first[2])
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()


def test_rng_state_survives_a_weights_only_checkpoint(tmp_path) -> None:
    seed_everything(7)
    np.random.randn()  # noqa: NPY002 - leaves a cached Gaussian in numpy's legacy state
    path = tmp_path / "rng.pt"
    save_checkpoint({"rng": capture_rng_state()}, path)
    expected = _draw()
    _draw()  # move every generator on
    restore_rng_state(load_checkpoint(path)["rng"])
    again = _draw()
    assert again[:2] == expected[:2]
    assert torch.equal(again[2], expected[2])


def test_save_load_round_trip_and_hash_file(tmp_path) -> None:
    weights = torch.arange(6.0).view(2, 3)
    state = {"w": weights, "step": 3, "meta": {"name": "x", "t": (1, 2.5)}}
    path = tmp_path / "checkpoints" / ckpt.checkpoint_name(3)
    digest = save_checkpoint(state, path)
    assert path.name == "step_00000003.pt"
    assert ckpt.hash_path(path).read_text().split() == [digest, path.name]
    assert digest == ckpt.file_sha256(path)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["w"], weights)
    assert loaded["step"] == 3 and loaded["meta"] == {"name": "x", "t": (1, 2.5)}
    assert not list(path.parent.glob(".*tmp*"))  # no temporary files left behind


@pytest.mark.parametrize("damage", ["flip", "truncate", "no_hash"])
def test_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage: str) -> None:
    path = tmp_path / "step_00000010.pt"
    save_checkpoint({"w": torch.randn(100)}, path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        expected = r"step_00000010\.pt is corrupted or truncated: its sha256"
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 3]))
        expected = r"step_00000010\.pt is corrupted or truncated"
    else:
        ckpt.hash_path(path).unlink()
        expected = r"step_00000010\.pt has no hash file step_00000010\.pt\.sha256"
    with pytest.raises(CheckpointError, match=expected) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_unpicklable_content_is_refused_even_with_a_matching_hash(tmp_path) -> None:
    # Any class outside torch's weights_only allow-list stands for a malicious payload.
    path = tmp_path / "evil.pt"
    torch.save({"obj": fractions.Fraction(1, 3)}, path)
    ckpt.hash_path(path).write_text(f"{ckpt.file_sha256(path)}  evil.pt\n")
    with pytest.raises(CheckpointError, match=r"cannot load checkpoint .*evil\.pt"):
        load_checkpoint(path)


def test_latest_pointer_and_pruning(tmp_path) -> None:
    for step in (5, 10, 15, 20):
        path = tmp_path / ckpt.checkpoint_name(step)
        save_checkpoint({"step": step}, path)
        ckpt.write_latest(tmp_path, path)
        ckpt.prune_checkpoints(tmp_path, keep=2)
    assert [ckpt.step_of(p) for p in ckpt.list_checkpoints(tmp_path)] == [15, 20]
    assert not (tmp_path / "step_00000005.pt.sha256").exists()
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest is not None and latest == tmp_path / "step_00000020.pt"
    assert load_checkpoint(latest)["step"] == 20
    (tmp_path / "latest").write_text("step_00000099.pt\n")
    with pytest.raises(CheckpointError, match=r"step_00000099\.pt"):
        ckpt.latest_checkpoint(tmp_path)
    assert ckpt.latest_checkpoint(tmp_path / "empty") is None
