"""Fitting a new scene (person) from one or a few views (shared Trainer, two stages).

1. The new scene's coefficients are the (weighted) average of the training scenes':
   uniform, or weighted by how well each training person already explains the new
   views (:func:`photometric_weights`).
2. Stage 1 optimises only the scene-specific coefficients (and, optionally, per-image
   se(3) corrections and focal multipliers), at ``fit.lr``.
3. Stage 2 fine-tunes every network parameter at the lower ``fit.stage2_lr``
   (cameras keep ``fit.camera_lr``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from multineus.config import MultiNeuSConfig
from multineus.data.scenes import RayBatches, SceneViews, first_item
from multineus.model.multineus import MultiNeuS
from multineus.system import MultiNeuSSystem, image_losses, neus_loss
from shared_utils.train.trainer import LossFn, Trainer


def averaging_weights(
    kind: str, train_vectors: np.ndarray | None = None, target: np.ndarray | None = None
) -> torch.Tensor | None:
    """Weights of the training scenes in the new scene's initial coefficients.

    ``uniform`` -> None (plain mean); ``inverse_distance`` -> 1 / (|v_i - target| + eps)
    over descriptor vectors (e.g. identity parameters or landmark shapes).
    """
    if kind == "uniform":
        return None
    if kind == "inverse_distance":
        if train_vectors is None or target is None:
            raise ValueError("averaging_weights: inverse_distance needs train_vectors and target")
        d = np.linalg.norm(train_vectors - target[None], axis=1)
        return torch.as_tensor(1.0 / (d + 1e-3), dtype=torch.float32)
    raise ValueError(f"averaging_weights: unknown kind {kind!r} (uniform | inverse_distance)")


@torch.no_grad()
def _scene_errors(
    system: MultiNeuSSystem, batch: Mapping[str, torch.Tensor], mask_weight: float
) -> torch.Tensor:
    """(S,) fitting error of every training scene on one batch of the new scene's rays:
    colour L1 on the foreground + ``mask_weight`` x BCE(opacity, mask)."""
    model = system.model
    # The person's appearance only: L1 on the foreground whatever the training loss.
    loss_cfg = dataclasses.replace(system.cfg.loss, color="l1", color_on="foreground")
    errors = []
    for scene in range(model.num_scenes):
        # Normals need the SDF's input gradient, so the render runs with autograd on.
        with torch.enable_grad():
            out = system.render(scene, 0, batch["view"], batch["uv"])
        color, mask = image_losses(out, batch, loss_cfg)
        errors.append(color + mask_weight * mask)
    return torch.stack(errors)


def photometric_weights(
    cfg: MultiNeuSConfig,
    model: MultiNeuS,
    views: SceneViews,
    *,
    rays: int = 1024,
    temperature: float = 0.5,
    seed: int = 0,
) -> torch.Tensor:
    """(S,) averaging weights from how well each training scene explains the new views.

    Every training scene renders the same ``rays`` random pixels of the new views (its own
    coefficients, the new views' cameras). Its error is the fitting objective without the
    eikonal term: colour L1 on the foreground + ``fit.mask_weight`` x BCE(opacity, mask).
    The weights are ``exp(-(e_i - e_min) / (T (mean(e) - e_min)))``: the spread of the
    errors sets the scale, so ``T`` is unit-free; large T gives the plain mean, T -> 0 the
    best-matching training person alone.
    """
    if temperature <= 0:
        raise ValueError(f"photometric_weights: temperature must be > 0, got {temperature}")
    system = MultiNeuSSystem(cfg, model, [views], refine_cameras=False)
    batch = RayBatches([views], rays=rays, length=1, seed=seed)[0]
    errors = _scene_errors(system, batch, cfg.fit.mask_weight).double()
    spread = float(errors.mean() - errors.min())
    if spread <= 1e-12:
        return torch.full((len(errors),), 1.0 / len(errors))
    w = torch.exp(-(errors - errors.min()) / (temperature * spread))
    return (w / w.sum()).float()


def _mean_squared_deviation(
    current: Sequence[torch.Tensor], start: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Mean over every entry of (current - start)^2 across matching tensor lists."""
    total = sum(((p - p0.to(p.device)) ** 2).sum() for p, p0 in zip(current, start, strict=True))
    return torch.as_tensor(total) / sum(p0.numel() for p0 in start)


class CoefficientPrior:
    """``neus_loss`` + two Gaussian pulls towards where fitting started.

    - ``weight`` x the mean squared deviation of the new scene's coefficients from their
      values at construction (the averaged initialisation);
    - ``shared_weight`` x the mean squared deviation of every other network parameter
      (bases, shared layers) from its meta-trained value. It acts only in stage 2, the
      one stage where those parameters move, and keeps one view from re-shaping what the
      other training people taught the shared layers;
    - ``symmetry_weight`` x the mean of (f(x, y, z) - f(-x, y, z))^2 over
      ``symmetry_points`` fresh uniform points of the unit ball per step: the new scene's
      SDF mirror-symmetric about the head frame's x = 0 plane (procedural heads are exactly
      symmetric there, real heads nearly).
    """

    def __init__(
        self,
        model: MultiNeuS,
        scene: int,
        weight: float,
        shared_weight: float = 0.0,
        symmetry_weight: float = 0.0,
        symmetry_points: int = 1024,
        seed: int = 0,
    ):
        self.model, self.scene = model, scene
        self.weight, self.shared_weight = weight, shared_weight
        self.symmetry_weight, self.symmetry_points = symmetry_weight, symmetry_points
        self.generator = torch.Generator().manual_seed(seed)
        self.init = [p[scene].detach().clone() for p in model.scene_parameters()]
        scene_ids = {id(p) for p in model.scene_parameters()}
        self.shared = [p for p in model.parameters() if id(p) not in scene_ids]
        self.shared_init = [p.detach().clone() for p in self.shared] if shared_weight > 0 else []

    def deviation(self) -> torch.Tensor:
        """Mean squared deviation over every coefficient entry of the scene."""
        current = [p[self.scene] for p in self.model.scene_parameters()]
        return _mean_squared_deviation(current, self.init)

    def shared_deviation(self) -> torch.Tensor:
        """Mean squared deviation over every shared parameter entry (0 when unused)."""
        if not self.shared_init:
            return torch.zeros(())
        return _mean_squared_deviation(self.shared, self.shared_init)

    def asymmetry(self) -> torch.Tensor:
        """Mean squared difference of the scene's SDF at random points of the unit ball and
        at their mirror images across x = 0."""
        n = self.symmetry_points
        direction = torch.randn(n, 3, generator=self.generator)
        radius = torch.rand(n, 1, generator=self.generator) ** (1.0 / 3.0)
        p = direction / direction.norm(dim=-1, keepdim=True) * radius
        p = p.to(next(self.model.parameters()).device)
        mirrored = p * torch.tensor([-1.0, 1.0, 1.0], device=p.device)
        both = self.model.sdf(torch.cat([p, mirrored]), self.scene)
        return ((both[:n] - both[n:]) ** 2).mean()

    def __call__(
        self, system: torch.nn.Module, batch: Mapping[str, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        loss, scalars = neus_loss(system, batch, step)
        if self.symmetry_weight > 0:
            asym = self.asymmetry()
            scalars["asymmetry"] = float(asym.detach())
            loss = loss + self.symmetry_weight * asym.to(loss.device)
        dev = self.deviation()
        scalars["coefficient_deviation"] = float(dev.detach())
        loss = loss + self.weight * dev.to(loss.device)
        if self.shared_init:
            shared = self.shared_deviation()
            scalars["shared_deviation"] = float(shared.detach())
            loss = loss + self.shared_weight * shared.to(loss.device)
        return loss, scalars


def _stage2_parameters(model: MultiNeuS, which: str) -> list[torch.nn.Parameter]:
    """Parameters stage 2 optimises: ``all`` or ``scene_layers`` (see ``FitConfig``)."""
    if which == "all":
        return list(model.parameters())
    if which == "scene_layers":
        return [p for layer in model.scene_layers() for p in layer.parameters()]
    raise ValueError(f"fit.stage2_params must be 'all' or 'scene_layers', got {which!r}")


def fit_new_scene(
    cfg: MultiNeuSConfig,
    meta_model: MultiNeuS,
    views: SceneViews,
    run_dir: str | Path,
    *,
    weights: torch.Tensor | None = None,
) -> tuple[MultiNeuS, int, MultiNeuSSystem]:
    """Fit a copy of ``meta_model`` to a new scene.

    Returns:
        the fitted model, the new scene's index, and the system (with its cameras).
    """
    model = copy.deepcopy(meta_model).cpu()
    if weights is None and cfg.fit.init_weights == "photometric":
        weights = photometric_weights(
            cfg,
            model,
            views,
            rays=cfg.fit.init_rays,
            temperature=cfg.fit.init_temperature,
            seed=cfg.trainer.seed,
        )
    scene = model.add_scene(weights)
    cfg = copy.deepcopy(cfg)
    cfg.loss.mask = cfg.fit.mask_weight
    system = MultiNeuSSystem(cfg, model, [views], refine_cameras=cfg.fit.refine_cameras)
    run = Path(run_dir)
    fc = cfg.fit
    loss_fn: LossFn = neus_loss
    if fc.coefficient_prior > 0 or fc.shared_prior > 0 or fc.symmetry > 0:
        loss_fn = CoefficientPrior(
            model,
            scene,
            fc.coefficient_prior,
            fc.shared_prior,
            symmetry_weight=fc.symmetry,
            seed=cfg.trainer.seed,
        )
    stages = [
        ("stage1", fc.stage1_steps, lambda: model.scene_parameters(), fc.lr),
        (
            "stage2",
            fc.stage2_steps,
            lambda: _stage2_parameters(model, fc.stage2_params),
            fc.stage2_lr,
        ),
    ]
    for name, steps, params, lr in stages:
        if steps <= 0:
            continue
        tcfg = copy.deepcopy(cfg.trainer)
        tcfg.steps = steps
        # one ray batch of the new scene per step, whatever global batch meta-training used
        tcfg.batch_size = 1
        data = RayBatches(
            [views], rays=cfg.rays_per_batch, length=steps, seed=tcfg.seed + 17, scene_ids=[scene]
        )

        def make_opt(_m: torch.nn.Module, params=params, lr=lr) -> torch.optim.Optimizer:
            groups: list[dict] = [{"params": params(), "lr": lr}]
            cam = [p for p in system.cameras.parameters() if p.requires_grad]
            if cam:
                groups.append({"params": cam, "lr": fc.camera_lr})
            return torch.optim.Adam(groups)

        Trainer(
            tcfg,
            model=system,
            optimizer_fn=make_opt,
            loss_fn=loss_fn,
            dataset=data,
            run_dir=run / name,
            collate_fn=first_item,
            run_config=cfg,
        ).fit()
    return model.cpu(), scene, system
