"""Two CPU processes (torchrun, gloo) meta-train through ``multineus train`` with a global
batch of 2: both ranks must end with the same parameters and rank 0 alone writes the
model, which loads."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
import torch

from multineus.io_model import WEIGHTS, load_model
from shared_utils.testing import run_torchrun

# torchrun runs this script on each rank: meta_train is wrapped so that every rank saves
# its final parameters, then the CLI's train command runs as usual
DRIVER = textwrap.dedent(
    """
    import os, sys
    import torch
    import multineus.train as train
    from multineus.cli import main

    inner = train.meta_train

    def meta_train(cfg, scenes, run_dir, **kw):
        model = inner(cfg, scenes, run_dir, **kw)
        rank = os.environ["RANK"]
        torch.save(model.state_dict(), os.path.join(os.environ["DDP_DUMP"], f"rank{rank}.pt"))
        return model

    train.meta_train = meta_train
    sys.exit(main(sys.argv[1:]))
    """
)


def _torchrun(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    return run_torchrun([str(driver), *args], env={"DDP_DUMP": str(tmp_path)}, timeout=120)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_two_process_meta_train_keeps_ranks_equal(tmp_path) -> None:
    out = tmp_path / "model"
    common = ["train", str(out), "--steps", "3", "--heads", "2", "--device", "cpu"]
    # (the refusal of the preset's global batch of 1 under 2 processes: tests/unit/test_cli.py)
    done = _torchrun(tmp_path, *common, "--batch-size", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    s0 = torch.load(tmp_path / "rank0.pt")
    s1 = torch.load(tmp_path / "rank1.pt")
    assert s0.keys() == s1.keys() and len(s0) > 10
    for name in s0:
        torch.testing.assert_close(s0[name], s1[name], rtol=0, atol=0, msg=name)
    # 3 steps moved the coefficients of both scenes away from their initial 1/K
    coeffs = [v for k, v in s0.items() if k.endswith("coefficients")]
    assert coeffs
    for c in coeffs:
        assert float((c - 1.0 / c.shape[1]).abs().max()) > 0
    # rank 0 alone wrote the model; it loads into the same parameters
    assert (out / WEIGHTS).is_file()
    assert done.stdout.count("saved ") == 1
    model, cfg, mean_K = load_model(out)
    assert cfg.trainer.batch_size == 2 and model.num_scenes == 2
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, s0[name], rtol=0, atol=0)
    assert mean_K.shape == (3, 3)
