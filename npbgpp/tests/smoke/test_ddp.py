"""Smoke: `npbgpp train` under torchrun, 2 CPU processes (gloo), global batch 2.

Each rank renders one target view per step (the global ``--trainer.batch-size`` must be a
multiple of the world size); rank 0 alone writes the checkpoint and ``model.pt``, and
both load.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from npbgpp.train import load_model
from shared_utils.testing import run_torchrun
from shared_utils.train.checkpoint import load_checkpoint


def test_two_process_gloo_training_writes_one_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [
        "-m", "npbgpp.cli", "train", "tiny",
        "--trainer.steps", "2", "--trainer.batch-size", "2",
        "--trainer.checkpoint-every", "2", "--trainer.log-every", "1",
        "--data.num-train-scenes", "1", "--data.views-per-scene", "4",
        "--data.num-points", "500", "--data.image-size", "32",
        "--run-dir", str(run),
    ]  # fmt: skip
    out = run_torchrun(cmd, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # one report (rank 0), one model file, one step checkpoint
    assert out.stdout.count("wrote ") == 1, out.stdout
    assert out.stdout.count('"train/loss"') == 1, out.stdout
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "latest",
        "step_00000002.pt",
        "step_00000002.pt.sha256",
    ]
    assert not list(run.rglob("*.tmp*"))  # no half-written files left
    state = load_checkpoint(run / "checkpoints" / "step_00000002.pt")
    assert state["step"] == 2 and state["world_size"] == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert [row["step"] for row in metrics["history"]] == [1, 2]
    model = load_model(run / "model.pt")
    for name, value in model.state_dict().items():
        assert torch.equal(value, state["model"][name]), name  # the final weights
