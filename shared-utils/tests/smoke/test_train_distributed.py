"""A 2-process torchrun (gloo, CPU) run follows the same trajectory as a 1-process run.

The same script trains a linear regression with global batch 8: once in this process
(world size 1, per-rank batch 8) and once under ``torchrun --nproc_per_node 2`` (per-rank
batch 4). The final weights must agree to float rounding, and the logged loss (the mean
over ranks) and per-rank batch size must be what each layout implies.
"""

from __future__ import annotations

import json
import runpy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from shared_utils.testing import run_torchrun
from shared_utils.train import checkpoint as ckpt

SCRIPT = textwrap.dedent(
    '''
    """Linear regression through the shared Trainer (run directly or under torchrun)."""
    import sys

    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from shared_utils.train.seed import seed_everything
    from shared_utils.train.trainer import Trainer, TrainerConfig


    def main(run_dir: str) -> dict:
        torch.set_num_threads(1)
        seed_everything(0)
        model = nn.Linear(4, 1)
        generator = torch.Generator().manual_seed(5)
        x = torch.randn(40, 4, generator=generator)
        y = x @ torch.tensor([1.0, -1.0, 2.0, 0.5]) - 0.2
        cfg = TrainerConfig(
            steps=8, batch_size=8, grad_accum=2, log_every=4, checkpoint_every=4,
            device="cpu", progress=False, tensorboard=False,
        )

        def loss_fn(m, batch, step):
            inputs, targets = batch
            loss = ((m(inputs).squeeze(-1) - targets) ** 2).mean()
            return loss, {"rank_batch": float(len(targets))}

        trainer = Trainer(
            cfg,
            model=model,
            optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
            loss_fn=loss_fn,
            dataset=TensorDataset(x, y),
            run_dir=run_dir,
        )
        return trainer.fit()


    if __name__ == "__main__":
        main(sys.argv[1])
    '''
)


def test_two_process_torchrun_matches_one_process(tmp_path: Path) -> None:
    script = tmp_path / "train_linear.py"
    script.write_text(SCRIPT)
    single = runpy.run_path(str(script))["main"](str(tmp_path / "one"))

    result = run_torchrun([str(script), str(tmp_path / "two")])
    if result.returncode != 0:
        pytest.fail(f"torchrun failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def final_state(run: str) -> dict[str, Any]:
        latest = ckpt.latest_checkpoint(tmp_path / run / "checkpoints")
        assert latest is not None and latest.name == "step_00000008.pt"
        return ckpt.load_checkpoint(latest)

    one, two = final_state("one"), final_state("two")
    assert two["world_size"] == 2 and len(two["rng"]) == 2  # every rank's RNG is saved
    for name, tensor in one["model"].items():
        torch.testing.assert_close(two["model"][name], tensor, rtol=0, atol=1e-6)
    assert not torch.equal(one["model"]["weight"], torch.zeros(1, 4))

    metrics_one = json.loads((tmp_path / "one" / "metrics.json").read_text())["history"]
    metrics_two = json.loads((tmp_path / "two" / "metrics.json").read_text())["history"]
    assert [h["step"] for h in metrics_two] == [4, 8]
    for a, b in zip(metrics_one, metrics_two):
        assert b["train/loss"] == pytest.approx(a["train/loss"], rel=1e-5)
        assert (a["train/rank_batch"], b["train/rank_batch"]) == (8.0, 4.0)
    assert single["train/loss"] == pytest.approx(metrics_one[-1]["train/loss"])
