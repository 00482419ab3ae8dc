"""The trainer: exact resume, gradient accumulation, NaN guard, run folder, data order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from shared_utils.config import load_config
from shared_utils.train import checkpoint as ckpt
from shared_utils.train.data import GlobalBatchSampler, move_to_device
from shared_utils.train.seed import seed_everything
from shared_utils.train.trainer import NonFiniteLossError, Trainer, TrainerConfig

TRUE_W = torch.tensor([1.5, -2.0, 0.5])


class NoisyRegression(Dataset[dict[str, torch.Tensor]]):
    """y = x . w + 0.3; __getitem__ adds noise from the global torch RNG (an augmentation)."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 3, generator=generator)
        self.y = self.x @ TRUE_W + 0.3

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i] + 0.01 * torch.randn(3), "y": self.y[i]}


class DropoutNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 8)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.tanh(self.hidden(x)))).squeeze(-1)


def mse_loss(model: nn.Module, batch: dict[str, torch.Tensor], step: int):
    loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
    return loss, {"mse": float(loss.detach()), "batch": float(len(batch["y"]))}


def make_resume_trainer(run_dir: Path, loss_fn=mse_loss, init_seed: int = 0) -> Trainer:
    """Adam + StepLR + dropout + noisy data + accumulation over epoch boundaries."""
    seed_everything(init_seed)
    model = DropoutNet()
    cfg = TrainerConfig(
        steps=12,
        batch_size=6,
        grad_accum=2,
        log_every=3,
        checkpoint_every=5,
        device="cpu",
        progress=False,
        tensorboard=False,
    )
    return Trainer(
        cfg,
        model=model,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=0.05),
        scheduler_fn=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5),
        loss_fn=loss_fn,
        dataset=NoisyRegression(27),  # 4 global batches per epoch: steps cross epochs
        run_dir=run_dir,
        eval_fn=lambda m, step: {"noise": float(torch.rand(()))},  # RNG use must not leak
        eval_every=4,
    )


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    latest = ckpt.latest_checkpoint(run_dir / "checkpoints")
    assert latest is not None and latest.name == "step_00000012.pt"
    return ckpt.load_checkpoint(latest)["model"]


def test_interrupted_runs_resume_bit_identically(tmp_path: Path) -> None:
    reference = make_resume_trainer(tmp_path / "reference")
    reference_final = reference.fit()

    # 1) A crash at step 7, after the checkpoint of step 5 and the log of step 6.
    def crashing_loss(model: nn.Module, batch: Any, step: int):
        if step == 7:
            raise KeyboardInterrupt("simulated kill")
        return mse_loss(model, batch, step)

    seen_steps: list[int] = []

    def counting_loss(model: nn.Module, batch: Any, step: int):
        seen_steps.append(step)
        return mse_loss(model, batch, step)

    with pytest.raises(KeyboardInterrupt):
        make_resume_trainer(tmp_path / "crashed", crashing_loss).fit()
    crashed_latest = ckpt.latest_checkpoint(tmp_path / "crashed" / "checkpoints")
    assert crashed_latest is not None and crashed_latest.name == "step_00000005.pt"
    # A different initialisation: only a real resume can end on the reference weights.
    resumed = make_resume_trainer(tmp_path / "crashed", counting_loss, init_seed=99)
    crashed_final = resumed.fit()
    assert seen_steps == [s for s in range(5, 12) for _ in range(2)]  # 2 micro-steps each
    assert resumed.epoch == reference.epoch and resumed.batch_in_epoch == reference.batch_in_epoch

    # 2) A run cut into jobs of 4 and 3 steps and a last one (stops between checkpoints).
    assert make_resume_trainer(tmp_path / "sliced").fit(stop_at=4)["step"] == 4
    seen_steps.clear()
    make_resume_trainer(tmp_path / "sliced", counting_loss, init_seed=98).fit(stop_at=7)
    assert sorted(set(seen_steps)) == [4, 5, 6]
    sliced_final = make_resume_trainer(tmp_path / "sliced", init_seed=97).fit()

    expected = final_weights(tmp_path / "reference")
    for run in ("crashed", "sliced"):
        weights = final_weights(tmp_path / run)
        for name, tensor in expected.items():
            assert torch.equal(weights[name], tensor), (run, name)
        history = json.loads((tmp_path / run / "metrics.json").read_text())
        reference_history = json.loads((tmp_path / "reference" / "metrics.json").read_text())
        assert history == reference_history, run
    assert crashed_final == reference_final == sliced_final
    assert [h["step"] for h in reference_history["history"]] == [3, 4, 6, 8, 9, 12]
    # StepLR halves every 4 steps: the last step (index 11) ran at 0.05 / 4.
    assert reference_final["train/lr"] == pytest.approx(0.05 * 0.5**2)


def linear_run(
    run_dir: Path,
    batch_size: int,
    grad_accum: int,
    steps: int = 6,
    **overrides: Any,
) -> Trainer:
    seed_everything(0)
    model = nn.Linear(3, 1)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(32, 3, generator=generator)
    dataset = TensorDataset(x, x @ TRUE_W)
    cfg = TrainerConfig(
        steps=steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        log_every=2,
        checkpoint_every=0,
        device="cpu",
        progress=False,
        tensorboard=False,
    )
    cfg = dataclasses.replace(cfg, **overrides)

    def loss_fn(m: nn.Module, batch: Any, step: int):
        inputs, targets = batch
        loss = ((m(inputs).squeeze(-1) - targets) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    trainer = Trainer(
        cfg,
        model=model,
        optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        loss_fn=loss_fn,
        dataset=dataset,
        run_dir=run_dir,
    )
    trainer.fit()
    return trainer


def test_grad_accumulation_equals_one_big_batch_and_a_manual_loop(tmp_path: Path) -> None:
    big = linear_run(tmp_path / "big", batch_size=8, grad_accum=1)
    accumulated = linear_run(tmp_path / "acc", batch_size=4, grad_accum=2)
    for a, b in zip(big.model.parameters(), accumulated.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)

    # Brute force: plain SGD over the sampler's documented order (seed + epoch permutation).
    seed_everything(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    y = x @ TRUE_W
    orders = [torch.randperm(32, generator=torch.Generator().manual_seed(e)) for e in range(2)]
    for step in range(6):
        epoch, index = divmod(step, 4)
        ids = orders[epoch][index * 8 : (index + 1) * 8]
        optimizer.zero_grad()
        ((model(x[ids]).squeeze(-1) - y[ids]) ** 2).mean().backward()
        optimizer.step()
    for a, b in zip(model.parameters(), big.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_workers_and_cpu_amp_setting_do_not_change_the_trajectory(tmp_path: Path) -> None:
    plain = linear_run(tmp_path / "plain", batch_size=8, grad_accum=1)
    workers = linear_run(tmp_path / "workers", batch_size=8, grad_accum=1, num_workers=2)
    amp = linear_run(tmp_path / "amp", batch_size=8, grad_accum=1, amp="bf16")
    assert amp.amp_dtype is None and amp.scaler is None  # AMP is CUDA-only
    for other in (workers, amp):
        for a, b in zip(plain.model.parameters(), other.model.parameters()):
            assert torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="AMP needs a CUDA device")
@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_cuda_amp_trains_and_resumes(tmp_path: Path, amp: str) -> None:
    reference = linear_run(tmp_path / "ref", 8, 1, steps=40, amp=amp, device="cuda")
    assert reference.amp_dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[amp]
    assert (reference.scaler is not None) == (amp == "fp16")
    history = json.loads((tmp_path / "ref" / "metrics.json").read_text())["history"]
    assert history[-1]["train/loss"] < 0.2 * history[0]["train/loss"]
    linear_run(tmp_path / "cut", 8, 1, steps=40, amp=amp, device="cuda", checkpoint_every=10)
    state = ckpt.load_checkpoint(tmp_path / "cut" / "checkpoints" / "step_00000010.pt")
    assert (state["scaler"] is not None) == (amp == "fp16")


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    def nan_at_step_5(model: nn.Module, batch: Any, step: int):
        loss, scalars = mse_loss(model, batch, step)
        return (loss * float("nan") if step == 5 else loss), scalars

    trainer = make_resume_trainer(tmp_path / "run", nan_at_step_5)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit()
    good = tmp_path / "run" / "checkpoints" / "step_00000005.pt"
    message = str(info.value)
    assert message.startswith("non-finite loss at step 5 (loss=nan")
    assert message.endswith(f"last good checkpoint: {good}")
    assert info.value.checkpoint == good and info.value.step == 5
    assert ckpt.latest_checkpoint(good.parent) == good
    assert [p.name for p in ckpt.list_checkpoints(good.parent)] == [good.name]
    state = ckpt.load_checkpoint(good)
    for name, tensor in trainer.model.state_dict().items():  # the NaN step changed nothing
        assert torch.equal(state["model"][name], tensor)

    def nan_gradient(model: nn.Module, batch: Any, step: int):
        loss, scalars = mse_loss(model, batch, step)
        # sqrt at 0 is finite but its derivative is infinite: a finite loss, NaN gradients.
        return loss + torch.sqrt(model.get_parameter("out.bias").abs().sum() * 0.0), scalars

    with pytest.raises(
        NonFiniteLossError,
        match=r"^non-finite gradient norm at step 0 .*"
        r"last good checkpoint: none",
    ):
        make_resume_trainer(tmp_path / "grad", nan_gradient).fit()


@dataclasses.dataclass
class MemberConfig:
    name: str = "tiny"
    """Preset name."""
    lr: float = 0.1
    """Learning rate."""
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    """Trainer settings."""


def weight_sum(model: nn.Module, step: int) -> dict[str, float]:
    return {"weight_sum": float(model.get_parameter("weight").detach().sum())}


def test_run_folder_holds_config_environment_and_metrics(tmp_path: Path) -> None:
    seed_everything(0)
    cfg = MemberConfig(
        trainer=TrainerConfig(
            steps=4, batch_size=4, log_every=2, device="cpu", progress=False, checkpoint_every=2
        )
    )
    dataset = TensorDataset(torch.randn(16, 3), torch.randn(16))

    def loss_fn(m: nn.Module, batch: Any, step: int):
        loss = ((m(batch[0]).squeeze(-1) - batch[1]) ** 2).mean()
        return loss, {"mse": float(loss.detach()), "step_seen": float(step)}

    trainer = Trainer(
        cfg.trainer,
        model=nn.Linear(3, 1),
        optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=cfg.lr),
        loss_fn=loss_fn,
        dataset=dataset,
        run_dir=tmp_path / "run",
        run_config=cfg,
        eval_fn=weight_sum,
    )
    final = trainer.fit()
    run = tmp_path / "run"
    assert load_config(MemberConfig, run / "config.yaml") == cfg
    env = json.loads((run / "environment.json").read_text())
    assert env["torch"] == torch.__version__
    assert env["packages"]["numpy"] is not None and env["device"]["device"] == "cpu"
    if env["workspace_root"] is not None:  # run from inside the workspace: the lock is hashed
        lock = Path(env["workspace_root"]) / "uv.lock"
        assert env["uv_lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    metrics = json.loads((run / "metrics.json").read_text())
    history = metrics["history"]
    assert [h["step"] for h in history] == [2, 4]
    # loss_fn saw steps 0,1 then 2,3: the logged means are 0.5 and 2.5.
    assert [h["train/step_seen"] for h in history] == [0.5, 2.5]
    assert all(h["train/mse"] == pytest.approx(h["train/loss"]) for h in history)
    assert history[-1]["eval/weight_sum"] == pytest.approx(
        weight_sum(trainer.model, 0)["weight_sum"]
    )
    assert metrics["final"] == final and final["step"] == 4
    # A finished run folder: fit() trains nothing more and reports the same final metrics.
    calls: list[int] = []

    def counting_loss(m: nn.Module, batch: Any, step: int):
        calls.append(step)
        return loss_fn(m, batch, step)

    again = Trainer(
        cfg.trainer,
        model=nn.Linear(3, 1),
        optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=cfg.lr),
        loss_fn=counting_loss,
        dataset=dataset,
        run_dir=run,
        run_config=cfg,
        eval_fn=weight_sum,
    )
    assert again.fit() == final and calls == []
    assert torch.equal(again.model.get_parameter("weight"), trainer.model.get_parameter("weight"))
    assert final["eval/weight_sum"] == history[-1]["eval/weight_sum"]
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == [
        "step_00000002.pt",
        "step_00000004.pt",
    ]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in logged] == [2, 4]
    assert [v for _, v in logged] == pytest.approx([h["train/loss"] for h in history])


def test_invalid_settings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"TrainerConfig\.grad_accum must be >= 1, got 0"):
        linear_run(tmp_path / "bad", batch_size=8, grad_accum=0)
    with pytest.raises(ValueError, match="fewer than one global batch of 64"):
        linear_run(tmp_path / "bad", batch_size=64, grad_accum=1)


def test_sampler_shards_union_to_the_global_batches() -> None:
    one = GlobalBatchSampler(22, 4, shuffle=True, seed=3)
    shards = [GlobalBatchSampler(22, 4, rank=r, world_size=2, shuffle=True, seed=3) for r in (0, 1)]
    for sampler in (one, *shards):
        sampler.set_position(epoch=1, start_batch=2)
    global_order = list(one)
    assert len(global_order) == len(one) == (5 - 2) * 4
    assert torch.equal(
        one.epoch_order(1), torch.randperm(22, generator=torch.Generator().manual_seed(4))
    )
    parts = [list(s) for s in shards]
    for b in range(3):
        batch = global_order[b * 4 : (b + 1) * 4]
        assert parts[0][b * 2 : (b + 1) * 2] == batch[0::2]
        assert parts[1][b * 2 : (b + 1) * 2] == batch[1::2]
    with pytest.raises(ValueError, match="not divisible by world size 2"):
        GlobalBatchSampler(22, 5, world_size=2)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        GlobalBatchSampler(3, 4)


def test_move_to_device_recurses_and_keeps_container_types() -> None:
    Pair = namedtuple("Pair", ["a", "b"])
    batch = {"x": torch.ones(2), "nested": [Pair(torch.zeros(1), "label"), (torch.ones(1), 3)]}
    moved = move_to_device(batch, torch.device("meta"))
    assert moved["x"].device.type == "meta"
    pair = moved["nested"][0]
    assert isinstance(pair, Pair) and pair.a.device.type == "meta" and pair.b == "label"
    assert isinstance(moved["nested"][1], tuple) and moved["nested"][1][1] == 3
    assert moved["nested"][1][0].device.type == "meta"
