"""Quantisation-aware training (QAT): fine-tune a trained detector through int8 fake-quant.

The official code offers QAT as the alternative to post-training quantisation: it loads
the trained float weights, folds conv + BN, freezes the BN statistics, inserts fake
quantisation (the backend's default QAT qconfig) and continues training with the normal
losses; the result is converted to int8 for evaluation on CPU. Here the same happens on
the four islands of :mod:`mobile_densepose.quantize` (backbone + neck, RPN head, box head
+ predictor, DensePose head + predictor): BatchNorms are folded before the islands are
traced (the official "freeze BN" from the first step), weights and activations are
fake-quantised per the x86 QAT mapping, and what lies between the islands (RoIAlign,
proposal and box selection, which have no weights) runs in float as before.

A QAT run is a run folder of the shared trainer (checkpoints, exact resume) beside the
float run it starts from; ``float_config.yaml`` in it records the float architecture so
:func:`load_qat_run` can rebuild and convert the model without the float run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.ao.quantization import disable_observer, enable_observer

from mobile_densepose.config import TrainConfig
from mobile_densepose.data.dataset import collate
from mobile_densepose.evaluate import evaluate
from mobile_densepose.infer import load_run
from mobile_densepose.model.rcnn import DensePoseRCNN
from mobile_densepose.quantize import build_islands, convert_islands
from mobile_densepose.train import detector_loss, make_datasets, make_optimizer
from shared_utils.config import load_config, save_config
from shared_utils.train.checkpoint import latest_checkpoint, load_checkpoint
from shared_utils.train.trainer import Trainer, TrainerConfig

FLOAT_CONFIG = "float_config.yaml"
"""The float run's TrainConfig, copied into the QAT run folder."""


@dataclass
class QATConfig:
    """Quantisation-aware fine-tuning of a trained float run."""

    float_run: str = ""
    """The trained float run folder to start from (config.yaml + checkpoints/)."""
    run_dir: str = "runs/mobile_densepose_qat"
    """QAT run folder (checkpoints, metrics, float_config.yaml)."""
    lr: float = 2e-5
    """Constant learning rate of the fine-tuning."""
    optimizer: Literal["same", "sgd", "adamw"] = "same"
    """Optimiser ('same': the float run's, with its weight decay)."""
    observer_steps: int = 0
    """Steps during which the quantisation ranges adapt, then freeze (0: never, as official)."""
    eval_max_images: int = 200
    """At most this many held-out images when evaluating the int8 model."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    """Shared trainer settings (steps, batch size, checkpoints, ...)."""


def qat_presets() -> dict[str, tuple[str, QATConfig]]:
    """QAT presets: 'tiny' (after the CPU demo's training) and 'paper' (after the s3x run)."""
    tiny = QATConfig(
        lr=1e-4,
        observer_steps=100,
        eval_max_images=32,
        trainer=TrainerConfig(
            steps=150,
            batch_size=4,
            grad_clip=10.0,
            log_every=25,
            checkpoint_every=50,
            progress=False,
            tensorboard=False,
        ),
    )
    # The official code gives no separate QAT schedule; we continue at the float s3x
    # schedule's final learning rate (0.002 after both 10x drops) for 10k steps.
    paper = QATConfig(
        lr=2e-5,
        observer_steps=0,
        trainer=TrainerConfig(steps=10_000, batch_size=16, checkpoint_every=1000),
    )
    return {
        "tiny": ("150 CPU steps after the tiny synthetic run", tiny),
        "paper": ("10k steps at the s3x schedule's final learning rate", paper),
    }


def prepare_qat(model: DensePoseRCNN, example_image: torch.Tensor | None = None) -> DensePoseRCNN:
    """A copy of a float model with its four islands fake-quantised, in training mode.

    Args:
        model: the trained float detector.
        example_image: (3, H, W) image in [0, 1] tracing the pyramid island (default: a fixed
            random image of the model's minimum size).
    """
    if example_image is None:
        size = model.cfg.min_size
        example_image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    return build_islands(model, example_image, qat=True).train()


def set_observers(model: nn.Module, step: int, observer_steps: int) -> None:
    """Observers of every island on before ``observer_steps`` (or always when 0), frozen after.

    A function of the step alone, so a resumed run is in the same phase as an
    uninterrupted one.
    """
    on = observer_steps <= 0 or step < observer_steps
    model.apply(enable_observer if on else disable_observer)


def qat_loss_fn(observer_steps: int):  # type: ignore[no-untyped-def]
    """The shared trainer's loss function for QAT: the detector's losses, fake-quantised."""

    def loss_fn(model: nn.Module, batch: Any, step: int):  # type: ignore[no-untyped-def]
        model.train()
        set_observers(model, step, observer_steps)
        return detector_loss(model, batch)

    return loss_fn


def convert_qat(model: DensePoseRCNN) -> DensePoseRCNN:
    """The int8 model of a fake-quantised one (a CPU copy in eval mode, all four islands)."""
    return convert_islands(model)


def _float_config(cfg: QATConfig) -> TrainConfig:
    path = Path(cfg.float_run) / "config.yaml"
    if not cfg.float_run or not path.exists():
        raise FileNotFoundError(
            f"QAT needs a trained float run: {path} not found (set --float-run to the run "
            "folder of `mobile-densepose train`)"
        )
    return load_config(TrainConfig, path)


def finetune_qat(cfg: QATConfig, *, stop_at: int | None = None) -> dict[str, float]:
    """Fine-tune ``cfg.float_run`` with fake quantisation; evaluate the int8 result.

    A run folder that already has checkpoints is resumed; ``stop_at`` ends the run early
    after that many steps (with a checkpoint), as the shared trainer's ``fit``.

    Returns the trainer's final metrics plus ``int8_*`` (box/DensePose AP of the
    converted model on the float run's held-out images, when it has a body surface).
    """
    fcfg = _float_config(cfg)
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    save_config(fcfg, run / FLOAT_CONFIG)
    # the float run's data, mirrored images included
    train_set, val_set, surface = make_datasets(fcfg)
    model = prepare_qat(load_run(cfg.float_run), train_set[0][0])
    opt_cfg = dataclasses.replace(
        fcfg, lr=cfg.lr, optimizer=fcfg.optimizer if cfg.optimizer == "same" else cfg.optimizer
    )

    def eval_fn(m: nn.Module, step: int) -> dict[str, float]:
        if val_set is None or surface is None:
            return {}
        assert isinstance(m, DensePoseRCNN)
        metrics = evaluate(convert_qat(m), val_set, surface, cfg.eval_max_images)
        return {f"int8_{k}": v for k, v in metrics.items()}

    trainer = Trainer(
        cfg.trainer,
        model=model,
        optimizer_fn=lambda m: make_optimizer(opt_cfg, m),
        loss_fn=qat_loss_fn(cfg.observer_steps),
        dataset=train_set,
        run_dir=cfg.run_dir,
        collate_fn=collate,
        eval_fn=eval_fn,
        run_config=cfg,
    )
    return dict(trainer.fit(stop_at=stop_at))


def load_qat_run(run_dir: str | Path) -> DensePoseRCNN:
    """The int8 model of a QAT run folder (float_config.yaml + latest checkpoint).

    The checkpoint's keys are those of :func:`prepare_qat`'s islands: a run saved when
    fewer parts were quantised (RPN and box head float) no longer loads.
    """
    run = Path(run_dir)
    fcfg_path = run / FLOAT_CONFIG
    if not fcfg_path.exists():
        raise FileNotFoundError(f"{fcfg_path}: not a QAT run folder (no {FLOAT_CONFIG})")
    fcfg = load_config(TrainConfig, fcfg_path)
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        raise FileNotFoundError(f"{run / 'checkpoints'}: no checkpoint")
    torch.manual_seed(0)
    model = prepare_qat(DensePoseRCNN(fcfg.model, fcfg.loss))
    model.load_state_dict(load_checkpoint(ckpt, map_location="cpu")["model"])
    return convert_qat(model)
