"""Two CPU processes (torchrun, gloo) train through ``def train --preset tiny``: the global
batch is split over the ranks, only rank 0 writes model.pt, and the file loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from def_features.config import preset
from def_features.data.dataset import build_patches
from def_features.data.hdf5_patches import write_patches
from def_features.data.items import procedural_item
from def_features.model.checkpoint import load_model
from shared_utils.testing import run_torchrun


def test_two_process_train_saves_one_loadable_model(tmp_path: Path) -> None:
    cfg = preset("tiny")
    arrays = build_patches([procedural_item(3, cfg.data)], cfg.data, 4, 0, [0.0], progress=False)
    assert len(arrays["image"]) >= 2
    write_patches(tmp_path / "p.hdf5", arrays)
    run_dir = tmp_path / "run"
    cmd = [
        "-m",
        "def_features.cli",
        "train",
        "--preset",
        "tiny",
        "--data",
        str(tmp_path / "p.hdf5"),
        "--run-dir",
        str(run_dir),
        "--steps",
        "3",
        "--batch-size",
        "2",
    ]
    done = run_torchrun(cmd, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    # Rank 0 alone saves (and says so); one model file with its hash sidecar.
    assert done.stdout.count("saved ") == 1, done.stdout
    assert sorted(p.name for p in run_dir.glob("model.pt*")) == ["model.pt", "model.pt.sha256"]
    model, loaded = load_model(run_dir / "model.pt")
    assert loaded.optim.steps == 3 and loaded.optim.batch_size == 2
    assert loaded.model == cfg.model
    # The saved weights were trained (they differ from a fresh model of the same seed) and
    # are finite.
    torch.manual_seed(cfg.seed)
    from def_features.model.unet import DefUNet

    fresh = DefUNet(cfg.model, cfg.data.truncation).state_dict()
    state = model.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    changed = [
        k for k, v in state.items() if v.is_floating_point() and not torch.equal(v, fresh[k])
    ]
    assert changed
    out = model.predict_distance(torch.zeros(1, 1, 64, 64))
    assert out.shape == (1, 64, 64) and np.isfinite(out.detach().numpy()).all()
