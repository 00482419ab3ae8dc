"""Train NPBG++ across scenes with the shared Trainer.

Each step picks a target view of a training scene and a few other views of it as
sources, runs the modeling stage on the sources (no per-scene optimisation: gradients
flow through the aggregation into the extractor and the basis MLP), renders a random
crop of the target and compares it with the image: L1 on 4x-downsampled images plus the
VGG-19 perceptual loss (local weights) or, in the tiny presets, 1 - SSIM; plus the
self-supervised term, the same losses for a render from descriptors sampled from the
target view itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from npbgpp.config import Config, LossConfig, ModelConfig
from npbgpp.data.scene import Scene
from npbgpp.losses import VGGPerceptual, dice_loss, downsampled_l1, ssim_loss
from npbgpp.model.pipeline import NPBGPP
from shared_utils.config import config_from_dict, config_to_dict
from shared_utils.train.checkpoint import load_checkpoint, save_checkpoint
from shared_utils.train.trainer import Trainer

MODEL_FILE = "model.pt"
"""Weights + model config written at the end of training."""


class TargetViews(Dataset[dict[str, torch.Tensor]]):
    """One item per (scene, target view): the target, its source views and a crop window.

    The random choices are drawn from a generator seeded by (seed, item), so an item is
    the same in every epoch and on every rank.
    """

    def __init__(
        self,
        scenes: Sequence[Scene],
        source_views: int,
        crop_size: int,
        seed: int = 0,
        color_augment: bool = False,
    ):
        self.items = [(s, t) for s, scene in enumerate(scenes) for t in range(len(scene))]
        self.scenes = scenes
        self.source_views = source_views
        self.crop_size = crop_size
        self.seed = seed
        self.color_augment = color_augment

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s, t = self.items[i]
        scene = self.scenes[s]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        others = [v for v in range(len(scene)) if v != t]
        order = torch.randperm(len(others), generator=g)[: self.source_views]
        sources = torch.tensor([others[int(k)] for k in order], dtype=torch.int64)
        h, w = scene.images.shape[1:3]
        ch, cw = min(self.crop_size, h), min(self.crop_size, w)
        y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
        x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
        if self.color_augment:
            perm = torch.randperm(3, generator=g)
            gain = 0.7 + 0.6 * torch.rand(3, generator=g)
        else:
            perm, gain = torch.arange(3), torch.ones(3)
        return {
            "perm": perm,
            "gain": gain,
            "scene": torch.tensor(s),
            "target": torch.tensor(t),
            "sources": sources,
            "crop": torch.tensor([y0, x0, ch, cw]),
        }


def first_item(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Collate for batch size 1 (each step renders one target view)."""
    if len(items) != 1:
        raise ValueError(
            f"npbgpp trains one target view per process and micro-step, got a batch of "
            f"{len(items)}: set --trainer.batch-size to the number of processes (1 without "
            "torchrun) and raise --trainer.grad-accum for a larger effective batch"
        )
    return items[0]


def check_loss_config(lc: LossConfig) -> None:
    """Refuse a loss config that cannot train as written, before any data is built.

    Raises:
        ValueError: ``perceptual_weight > 0`` without a ``vgg19_weights`` file (the
            perceptual term would otherwise be dropped silently).
    """
    if lc.perceptual_weight > 0 and lc.vgg19_weights is None:
        raise ValueError(
            f"LossConfig.perceptual_weight = {lc.perceptual_weight} needs a VGG-19 weights "
            "file, but LossConfig.vgg19_weights is None: give --loss.vgg19-weights PATH (a "
            "state dict of torchvision's models.vgg19 with ImageNet weights; nothing is "
            "downloaded), or set --loss.perceptual-weight 0 to train without the "
            "perceptual term (L1 + SSIM)"
        )


class SceneLoss:
    """``loss_fn(model, batch, step)`` for the shared Trainer."""

    def __init__(self, scenes: Sequence[Scene], cfg: Config):
        self.scenes = scenes
        self.cfg = cfg
        check_loss_config(cfg.loss)
        self.perceptual: VGGPerceptual | None = None
        if cfg.loss.perceptual_weight > 0:
            assert cfg.loss.vgg19_weights is not None
            self.perceptual = VGGPerceptual(cfg.loss.vgg19_weights)
        self._points: dict[tuple[int, str], torch.Tensor] = {}
        if cfg.loss.dice_weight > 0 and not cfg.model.predict_mask:
            raise ValueError(
                "LossConfig.dice_weight > 0 needs ModelConfig.predict_mask = True (the refiner's "
                "mask channel)"
            )

    def image_terms(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted image losses of (B, 3, h, w) renders: ``l1`` and ``perceptual``
        (VGG-19, when ``perceptual_weight > 0``) or ``ssim`` (crops of at least 11 px)."""
        lc = self.cfg.loss
        out = {"l1": downsampled_l1(pred, target, lc.l1_downsample)}
        if self.perceptual is not None:
            self.perceptual.to(pred.device)
            out["perceptual"] = self.perceptual(pred, target)
        elif lc.ssim_weight > 0 and min(pred.shape[-2:]) >= 11:
            out["ssim"] = ssim_loss(pred, target)
        return out

    def weighted(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The sum of :meth:`image_terms` with the config's weights."""
        lc = self.cfg.loss
        weights = {"l1": lc.l1_weight, "perceptual": lc.perceptual_weight, "ssim": lc.ssim_weight}
        return sum((weights[k] * v for k, v in terms.items()), torch.zeros(()))

    def __call__(
        self, model: nn.Module, batch: dict[str, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        assert isinstance(model, NPBGPP)
        device = next(model.parameters()).device
        s = int(batch["scene"])
        scene = self.scenes[s]
        key = (s, str(device))
        if key not in self._points:
            self._points[key] = scene.point_tensor(device)
        points = self._points[key]
        perm, gain = batch["perm"], batch["gain"].to(device)[:, None, None]

        def image(i: int) -> torch.Tensor:
            return (scene.image_tensor(i, device)[perm] * gain).clamp(0, 1)

        views = [(image(int(v)), scene.camera(int(v), device)) for v in batch["sources"]]
        t = int(batch["target"])
        y0, x0, ch, cw = (int(v) for v in batch["crop"])
        cam = scene.camera(t, device).crop(x0, y0, ch, cw)
        target = image(t)[:, y0 : y0 + ch, x0 : x0 + cw][None]

        descriptors = model.model_scene(points, views)
        rgb, mask_logit = model.render_with_mask(descriptors, cam)
        pred = rgb[None]
        terms = self.image_terms(pred, target)
        loss = self.weighted(terms).to(device)
        scalars = {k: float(v.detach()) for k, v in terms.items()}
        if self.cfg.loss.dice_weight > 0 and scene.masks is not None:
            assert mask_logit is not None
            mask = scene.mask_tensor(t, device)[:, y0 : y0 + ch, x0 : x0 + cw][None]
            dice = dice_loss(torch.sigmoid(mask_logit)[None], mask)
            loss = loss + self.cfg.loss.dice_weight * dice
            scalars["dice"] = float(dice.detach())
        if self.cfg.loss.self_supervised_weight > 0:
            own = model.render_self_supervised(points, target[0], cam)[None]
            self_terms = self.image_terms(own, target)
            loss = loss + self.cfg.loss.self_supervised_weight * self.weighted(self_terms).to(
                device
            )
            scalars["self_supervised"] = float(self.weighted(self_terms).detach())
        return loss, scalars


def save_model(model: NPBGPP, path: str | Path) -> None:
    """Write the weights and the model config (atomically, with a ``.sha256`` sidecar)."""
    save_checkpoint(
        {"model_config": config_to_dict(model.cfg), "state_dict": model.state_dict()}, path
    )


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> NPBGPP:
    """Rebuild a trained model from :func:`save_model`'s file.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: corrupted, truncated or without its ``.sha256`` sidecar.
        ValueError: not an npbgpp model file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"model file not found: {p}")
    data: Any = load_checkpoint(p)
    if not isinstance(data, dict) or "model_config" not in data or "state_dict" not in data:
        raise ValueError(f"{p}: not an npbgpp model file (needs model_config and state_dict)")
    cfg = config_from_dict(ModelConfig, data["model_config"], source=str(p))
    model = NPBGPP(cfg)
    model.load_state_dict(data["state_dict"])
    return model.to(device).eval()


LR_SCHEDULES = ("constant", "cosine")
"""Values of ``Config.lr_schedule``."""


def lr_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate factor per step: 1 ("constant"), or a half cosine from 1 at step
    0 to 0.1 at step ``steps`` ("cosine")."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    def cosine(step: int) -> float:
        t = min(step, steps) / max(1, steps)
        return 0.1 + 0.45 * (1.0 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def train(
    cfg: Config, scenes: Sequence[Scene], run_dir: str | Path
) -> tuple[NPBGPP, dict[str, float]]:
    """Train on ``scenes``; writes the run folder and ``run_dir/model.pt`` (rank 0 only
    under torchrun, where ``cfg.trainer.batch_size`` is the global batch: a multiple of
    the world size, one target view per rank and micro-step)."""
    if not scenes:
        raise ValueError("train: no training scenes")
    check_loss_config(cfg.loss)
    torch.manual_seed(cfg.trainer.seed)
    model = NPBGPP(cfg.model)
    dataset = TargetViews(
        scenes, cfg.source_views, cfg.crop_size, cfg.trainer.seed, cfg.color_augment
    )
    trainer = Trainer(
        cfg.trainer,
        model=model,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=cfg.lr),
        scheduler_fn=lambda opt: lr_scheduler(opt, cfg.lr_schedule, cfg.trainer.steps),
        loss_fn=SceneLoss(scenes, cfg),
        dataset=dataset,
        run_dir=run_dir,
        collate_fn=first_item,
        run_config=cfg,
    )
    metrics = trainer.fit()
    model.eval()
    if trainer.dist.is_main:  # under torchrun every rank holds the same weights
        save_model(model, Path(run_dir) / MODEL_FILE)
    return model, metrics
