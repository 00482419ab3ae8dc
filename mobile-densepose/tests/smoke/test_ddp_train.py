"""Two CPU processes (torchrun, gloo) run ``mobile-densepose train tiny``: a global batch
of 2 split over the ranks, finite losses, one checkpoint written (by rank 0) that loads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic
from mobile_densepose.infer import load_run
from mobile_densepose.model.rcnn import DensePoseRCNN
from shared_utils.testing import run_torchrun
from shared_utils.train.checkpoint import latest_checkpoint


def test_two_process_gloo_train(tmp_path: Path) -> None:
    data, run = tmp_path / "data", tmp_path / "run"
    make_synthetic(data, SyntheticConfig(num_images=4, height=64, width=96, n_points=40, seed=0))
    cmd = [
        "-m",
        "mobile_densepose.cli",
        "train",
        "tiny",
        "--data",
        str(data),
        "--run-dir",
        str(run),
        "--val-fraction",
        "0",
        "--model.min-size",
        "64",
        "--model.max-size",
        "96",
        "--trainer.steps",
        "3",
        "--trainer.batch-size",
        "2",
        "--trainer.log-every",
        "1",
        "--trainer.checkpoint-every",
        "0",
    ]
    done = run_torchrun(cmd, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    history = json.loads((run / "metrics.json").read_text())["history"]
    losses = [h["train/loss"] for h in history if "train/loss" in h]
    assert len(losses) == 3 and all(math.isfinite(x) and x > 0 for x in losses), losses
    ckpts = sorted((run / "checkpoints").glob("*.pt"))
    assert len(ckpts) == 1, ckpts
    assert latest_checkpoint(run / "checkpoints") == ckpts[0]
    model = load_run(run)
    state = model.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    # three steps moved the weights away from the seed's initialisation
    torch.manual_seed(0)
    fresh = DensePoseRCNN(model.cfg).state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in state.items() if v.is_floating_point())
