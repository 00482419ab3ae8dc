"""Typed configurations of DEF and its named presets.

Three parts: how patches are made (:class:`DataConfig`), the patch network
(:class:`ModelConfig`) and optimisation (:class:`OptimConfig`), gathered in
:class:`DefConfig`. Presets:

- ``"paper"``: the official DEF-Sim setting (ResNet-152 U-Net, 244-bin histogram head,
  64x64 patches at pixel size 0.02, truncation 1.0, the seven noise levels).
- ``"tiny"``: a CPU-sized model and dataset for tests and the demo.
- ``"mse"`` / ``"l1"``: the regression-head ablations of the paper preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

#: Pixel sizes (``resolution_3d``) of the three DEF-Sim resolutions.
RESOLUTIONS: dict[str, float] = {"high": 0.02, "med": 0.05, "low": 0.125}
#: The seven noise scales of DEF-Sim (standard deviation along the view direction).
NOISE_LEVELS: tuple[float, ...] = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08)


@dataclass(frozen=True)
class DataConfig:
    """How range-scan patches and their targets are made."""

    patch_size: int = 64
    """Side of a square patch in pixels."""
    pixel_size: float = 0.02
    """Orthographic pixel size (``resolution_3d``) in normalised shape units."""
    noise_std: float = 0.0
    """Standard deviation of Gaussian noise added along the view direction."""
    truncation: float = 1.0
    """Truncation radius eps of the distance-to-feature target."""
    shape_extent: float = 10.0
    """Largest bounding-box extent after the first normalisation step."""
    curve_length_quantile: float = 0.25
    """Quantile of sharp-curve lengths scaled to ``curve_length_target``."""
    curve_length_target: float = 1.0
    """Length the chosen curve-length quantile is scaled to."""
    min_surface_fraction: float = 0.5
    """Reject a patch whose fraction of hit pixels is below this."""
    max_depth_jump: float = 20.0
    """Reject a patch with a depth jump between neighbours above this many pixel sizes."""
    sharp_angle_deg: float = 30.0
    """Dihedral angle above which a mesh edge counts as sharp (meshes without curves)."""
    views_per_shape: int = 32
    """Camera directions tried per shape when making patches."""
    curve_sample_spacing: float = 0.01
    """Spacing of the polyline samples of parametric curves, in normalised units."""


@dataclass(frozen=True)
class ModelConfig:
    """The patch network: a U-Net with a timm ResNet encoder."""

    encoder: str = "resnet152"
    """timm model name of the encoder (``features_only``, one input channel)."""
    decoder_channels: tuple[int, ...] = (512, 256, 128, 64)
    """Output channels of the four decoder blocks, deepest first."""
    head: str = "histogram"
    """``"histogram"`` (distribution over bins) or ``"regression"`` (one channel)."""
    n_bins: int = 240
    """Histogram bins covering [0, truncation]."""
    margin_bins: int = 2
    """Extra bins on each side of [0, truncation] (the paper uses 2: 244 in all)."""
    depth_scale: float = 4.0
    """Dataset constant dividing the depth minus its minimum (network input scale)."""


@dataclass(frozen=True)
class OptimConfig:
    """Loss and optimiser."""

    loss: str = "histogram"
    """``"histogram"`` (KL to a Gaussian-smoothed target), ``"mse"`` or ``"l1"``."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam weight decay."""
    steps: int = 100_000
    """Optimisation steps."""
    batch_size: int = 32
    """Patches per step (global: summed over torchrun processes, so it must divide by
    their number)."""
    amp: Literal["none", "fp16", "bf16"] = "bf16"
    """Mixed precision of the shared Trainer on CUDA (``TrainerConfig.amp``; always fp32
    on CPU). The paper preset trains in bf16 (the workspace trains with AMP on GPU; bf16
    needs no loss scaling and keeps fp32's range for the softmax over the histogram
    bins); the tiny CPU preset uses "none"."""


@dataclass(frozen=True)
class DefConfig:
    """Everything one DEF run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    """Patch construction."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Patch network."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Loss and optimiser."""
    seed: int = 0
    """Random seed."""


@dataclass(frozen=True)
class CurveConfig:
    """Extraction of parametric feature curves from a distance field (lengths in
    normalised shape units; the curve-length quantile is scaled to 1)."""

    threshold: float = 0.06
    """Points whose distance is below this are feature points (official: 0.06)."""
    link_radius: float = 0.06
    """Feature points closer than this are linked in the graph (~3 pixel sizes)."""
    corner_radius: float = 0.25
    """Neighbourhood radius of the corner score; points this close to a corner are
    cut out of the graph, which splits it into the curves between corners."""
    corner_score: float = 0.2
    """Minimal ``lambda_2 / lambda_1`` of a corner's neighbourhood (0 on a line)."""
    step: float = 0.04
    """Arc-length step of the ordered centre line of a curve."""
    polyline_tol: float = 0.02
    """Ramer-Douglas-Peucker tolerance of the polyline fit."""
    spline_tol: float = 0.005
    """Target RMS deviation of the smoothing spline from the centre line."""
    min_length: float = 0.3
    """Curves shorter than this (corner to corner, or end to end) are dropped."""
    min_points: int = 5
    """Curves supported by fewer feature points are dropped."""
    max_residual: float = 0.1
    """Curves whose band lies farther (RMS) from their spline are dropped as weak."""
    refine: bool = True
    """Refine the curve network jointly against the field before the final spline fits
    (:mod:`def_features.curve_network`; the official vectorisation's polyline
    optimisation)."""
    refine_rounds: int = 3
    """Rounds of (assign points, move nodes); segments are split between rounds."""
    refine_steps: int = 150
    """Adam steps per round."""
    refine_lr: float = 0.002
    """Adam step size for node positions (shape units)."""
    refine_outlier: float = 0.06
    """Feature points whose distance to the network differs from the field by more than
    this are left out of the fit (points of dropped curves, noise)."""
    smooth_weight: float = 0.01
    """Weight of the mean ``1 - cos`` turn between consecutive segments of a curve."""
    split_threshold: float = 0.03
    """A segment whose worst interior residual ``|dist - d|`` exceeds this is split."""
    topology: bool = False
    """Clean up the network's topology after every refinement round (merge close
    corners, re-link free ends, drop duplicate, unsupported and small isolated curves;
    :func:`def_features.curve_network.clean_graph`). Off by default: measured, it left the
    demo part's true-field curves unchanged and made the real ABC item's Chamfer
    slightly worse (0.00856 -> 0.00861), so it has not earned its place yet."""
    merge_radius: float = 0.06
    """Corners closer than this become one node, and a free curve end this close to a
    corner is attached to it (the official code re-links ends to corners within its
    ``corner_connector_radius``)."""
    min_curve_points: int = 5
    """A curve to whose segments fewer feature points are assigned is dropped (official:
    paths of one segment with fewer than 5 points)."""
    duplicate_distance: float = 0.05
    """A curve whose samples lie on average closer than this to another curve is a
    duplicate; of two such curves the one with less support is dropped."""
    min_component_length: float = 0.4
    """Open curves in a connected group of at most ``min_component_curves`` curves whose
    total length is below this are dropped (official ``small_lines_clip_primitives_length``)."""
    min_component_curves: int = 3
    """Largest group size that the small-group rule applies to (official
    ``small_lines_clip_primitive_number``)."""
    sharp_breaks: bool = False
    """After refinement, split a curve at a vertex where it turns sharply next to a
    straight stretch, and make that vertex a corner (the official vectorisation's
    breakpoint split of paths before the spline fits;
    :func:`def_features.curve_network.split_sharp_turns`). Off by default: measured, it
    found no missed true corner, only false ones (real ABC item: corner precision
    0.214 -> 0.200; demo model field: 0.32 -> 0.286; demo true field unchanged)."""
    break_cos: float = 0.2
    """A vertex is a sharp turn when the cosine between its two segment directions is
    below this (official ``breakpoint_threshold``: 0.2, i.e. a turn of more than ~78 deg)."""
    straight_cos: float = 0.977
    """A neighbouring vertex is straight when its turn cosine is above this (official
    ``straight_threshold``: 0.977, a turn under ~12 deg); a sharp vertex is a break only
    next to a straight one."""


def _paper() -> DefConfig:
    return DefConfig()


def _tiny() -> DefConfig:
    return DefConfig(
        data=DataConfig(pixel_size=0.02, views_per_shape=24, curve_sample_spacing=0.02),
        model=ModelConfig(encoder="resnet10t", decoder_channels=(32, 16, 16, 16), n_bins=60),
        optim=OptimConfig(lr=2e-3, steps=300, batch_size=8, amp="none"),
    )


def _ablation(loss: str) -> DefConfig:
    base = _paper()
    return dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, head="regression"),
        optim=dataclasses.replace(base.optim, loss=loss),
    )


PRESETS: dict[str, tuple[str, DefConfig]] = {
    "paper": ("official DEF-Sim setting: ResNet-152 U-Net, 244-bin histogram loss", _paper()),
    "tiny": ("CPU tests and demo: ResNet-10t encoder, small decoder, 64 bins", _tiny()),
    "mse": ("paper model with a regression head and MSE loss (ablation)", _ablation("mse")),
    "l1": ("paper model with a regression head and L1 loss (ablation)", _ablation("l1")),
}


def preset(name: str) -> DefConfig:
    """The named preset; raises ``KeyError`` listing the known names."""
    if name not in PRESETS:
        raise KeyError(f"unknown DEF preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name][1]
