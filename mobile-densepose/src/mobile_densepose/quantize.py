"""Static int8 quantisation (torch.ao FX graph mode) of a trained detector: PTQ and QAT.

Two float islands are quantised: (1) backbone + neck (image -> P2..P6) and (2) the
DensePose head + predictor (pooled RoI features -> maps). RoIAlign, the RPN, the box
head and post-processing run in float between them. Inside the islands the BiFPN's fast
normalised fusions (a division by learnt weights) and the predictor's transposed
convolutions (see :func:`qconfig_mapping`) stay float.

Before an island is traced every BatchNorm that directly follows a convolution is folded
into it (:func:`fold_batchnorm`), as the official code fuses conv + BN before quantising:
timm's BatchNormAct2d is not a leaf module for FX, so unfolded it would be traced into a
float ``batch_norm`` call between a dequantise and a quantise after every convolution.

:func:`quantize_int8` calibrates observers on images (post-training); the QAT path
(:mod:`mobile_densepose.qat`) trains fake-quantised islands built by :func:`build_islands`
and converts them with :func:`install_islands` + ``convert_fx``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.ao.quantization import (
    QConfigMapping,
    get_default_qat_qconfig_mapping,
    get_default_qconfig_mapping,
)
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
from torch.fx import GraphModule

from mobile_densepose.model.bifpn import FastNormalizedFusion
from mobile_densepose.model.predictor import DensePoseOutput
from mobile_densepose.model.rcnn import LEVELS, DensePoseRCNN

_BN_TYPES = (nn.BatchNorm2d, nn.SyncBatchNorm)
"""Trainable BatchNorms (timm's BatchNormAct2d subclasses nn.BatchNorm2d)."""


class _Pyramid(nn.Module):
    """backbone + neck -> tuple of P2..P6 (a traceable island)."""

    def __init__(self, backbone: nn.Module, neck: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p = self.neck(self.backbone(x))
        return tuple(p[k] for k in LEVELS)


class _PyramidAsDict(nn.Module):
    """Adapter: a quantised _Pyramid behind the neck's dict interface."""

    def __init__(self, pyramid: nn.Module) -> None:
        super().__init__()
        self.pyramid = pyramid

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(LEVELS, self.pyramid(feats), strict=True))


class _DPHead(nn.Module):
    """DensePose head + predictor -> tuple of maps (a traceable island)."""

    def __init__(self, head: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.predictor = predictor

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.predictor(self.head(x)))


class _TupleToHead(nn.Module):
    """Wraps the head+predictor island in the dp_head slot (returns the maps tuple)."""

    def __init__(self, island: nn.Module) -> None:
        super().__init__()
        self.island = island

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.island(x))


class _HeadToOutput(nn.Module):
    """The dp_predictor slot: turns the island's tuple back into a DensePoseOutput."""

    def forward(self, maps: tuple[torch.Tensor, ...]) -> DensePoseOutput:
        return DensePoseOutput(*maps)


def _is_batchnorm(m: nn.Module) -> bool:
    # frozen variants (torchvision's FrozenBatchNorm2d, timm's FrozenBatchNormAct2d) are
    # plain modules holding the same four affine/statistics tensors
    return isinstance(m, _BN_TYPES) or type(m).__name__ in (
        "FrozenBatchNorm2d",
        "FrozenBatchNormAct2d",
    )


@torch.no_grad()
def _fold_into(conv: nn.Conv2d, bn: nn.Module) -> None:
    """conv <- bn(conv) with the BN's running statistics (its inference behaviour)."""
    var, mean = bn.running_var, bn.running_mean
    assert isinstance(var, torch.Tensor) and isinstance(mean, torch.Tensor)
    eps = float(bn.eps)  # type: ignore[arg-type]
    weight = bn.weight if bn.weight is not None else torch.ones_like(var)
    bias = bn.bias if bn.bias is not None else torch.zeros_like(var)
    assert isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)
    scale = weight * torch.rsqrt(var + eps)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    old_bias = conv.bias if conv.bias is not None else torch.zeros_like(var)
    conv.bias = nn.Parameter((old_bias - mean) * scale + bias)


def _activation_of(bn: nn.Module) -> nn.Module:
    """What is left of a BN after folding: timm's norm-act layers keep drop + act."""
    act, drop = getattr(bn, "act", None), getattr(bn, "drop", None)
    parts = [m for m in (drop, act) if isinstance(m, nn.Module) and not isinstance(m, nn.Identity)]
    if not parts:
        return nn.Identity()
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold, in place, every BatchNorm that directly follows a Conv2d sibling into it.

    "Directly follows" is registration order among a module's children, which is the
    data order in timm's blocks (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3), in
    ResNets and in our BiFPN's separable convs; :func:`build_islands` checks the folded
    network against the original, so a block where this does not hold is caught.
    Returns the number of folded BatchNorms.
    """
    folded = 0
    for parent in list(module.modules()):
        children = list(parent.named_children())
        for (_, prev), (name, child) in itertools.pairwise(children):
            if isinstance(prev, nn.Conv2d) and _is_batchnorm(child):
                _fold_into(prev, child)
                setattr(parent, name, _activation_of(child))
                folded += 1
    return folded


def qconfig_mapping(qat: bool = False) -> QConfigMapping:
    """The x86 (fbgemm) int8 mapping, fake-quantised for QAT, with two float exceptions."""
    mapping = get_default_qat_qconfig_mapping("x86") if qat else get_default_qconfig_mapping("x86")
    # The predictor's ConvTranspose2d layers stay float: quantised transposed convolutions
    # (x86 engine, per-channel and per-tensor alike) were measured to wreck the maps (demo
    # model: U error 2.3 on a [0, 1] range, mean GPS 42 -> 4); float they cost 0.3 MB.
    return mapping.set_object_type(FastNormalizedFusion, None).set_object_type(
        nn.ConvTranspose2d, None
    )


def set_quantized_engine() -> None:
    """x86 kernels where this build has them (qnnpack on ARM)."""
    torch.backends.quantized.engine = (
        "x86" if "x86" in torch.backends.quantized.supported_engines else "qnnpack"
    )


Prepare = Callable[..., Any]


def build_islands(
    model: DensePoseRCNN, example_image: torch.Tensor, qat: bool = False
) -> DensePoseRCNN:
    """A copy of ``model`` whose two islands are observed (PTQ) or fake-quantised (QAT).

    BatchNorms are folded first; the folded float islands must reproduce the original
    (relative error < 1e-4 on ``example_image``) or a ``RuntimeError`` names the island.

    Args:
        model: a trained float model.
        example_image: (3, H, W) an image in [0, 1] (traces and checks the islands).
        qat: fake-quantise for training (``prepare_qat_fx``) instead of observing.
    """
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    set_quantized_engine()
    float_model = copy.deepcopy(model).cpu().eval()
    batch = float_model.transform([example_image.cpu()])[0].tensors
    pooled = torch.randn(
        2,
        model.cfg.neck_channels,
        model.cfg.dp_pool_resolution,
        model.cfg.dp_pool_resolution,
        generator=torch.Generator().manual_seed(0),
    )
    islands = (
        ("backbone + neck", _Pyramid(float_model.backbone, float_model.neck), batch),
        ("DensePose head", _DPHead(float_model.dp_head, float_model.dp_predictor), pooled),
    )
    prepare: Prepare = prepare_qat_fx if qat else prepare_fx
    custom = PrepareCustomConfig().set_non_traceable_module_classes([FastNormalizedFusion])
    prepared = []
    for name, island, example in islands:
        with torch.no_grad():
            before = island(example)
            fold_batchnorm(island)
            after = island(example)
        for a, b in zip(before, after, strict=True):
            err = float((a - b).norm() / a.norm().clamp_min(1e-12))
            if err > 1e-4:
                raise RuntimeError(f"folding BatchNorms changed the {name} island (rel {err:.1e})")
        if qat:
            island.train()
        prepared.append(
            prepare(island, qconfig_mapping(qat), (example,), prepare_custom_config=custom)
        )
    return install_islands(float_model, prepared[0], prepared[1])


def install_islands(model: DensePoseRCNN, pyramid: nn.Module, dp: nn.Module) -> DensePoseRCNN:
    """``model`` (in place) with backbone+neck and the DensePose head replaced by islands."""
    model.backbone = nn.Identity()  # type: ignore[assignment]
    model.neck = _PyramidAsDict(pyramid)
    model.dp_head = _TupleToHead(dp)
    model.dp_predictor = _HeadToOutput()  # type: ignore[assignment]
    return model


def islands_of(model: DensePoseRCNN) -> tuple[nn.Module, nn.Module]:
    """The (pyramid, DensePose head) islands of a model built by :func:`build_islands`."""
    if not isinstance(model.neck, _PyramidAsDict) or not isinstance(model.dp_head, _TupleToHead):
        raise TypeError("the model has no quantisation islands (use build_islands first)")
    return model.neck.pyramid, model.dp_head.island


def convert_islands(model: DensePoseRCNN) -> DensePoseRCNN:
    """A copy of an observed / fake-quantised model with int8 islands (eval mode)."""
    out = copy.deepcopy(model).cpu().eval()
    pyramid, dp = islands_of(out)
    assert isinstance(pyramid, GraphModule) and isinstance(dp, GraphModule)
    return install_islands(out, convert_fx(pyramid.eval()), convert_fx(dp.eval()))


def quantize_int8(
    model: DensePoseRCNN, calibration_images: Iterable[torch.Tensor]
) -> DensePoseRCNN:
    """Post-training quantisation: a copy whose two islands run in int8.

    Args:
        model: a trained float model (CPU).
        calibration_images: (3, H, W) images in [0, 1] for the observers.
    """
    images = list(calibration_images)
    if not images:
        raise ValueError("quantize_int8 needs at least one calibration image")
    observed = build_islands(model, images[0])
    # calibration: run the detector, every box (score 0) feeding the DensePose island
    observed.box_stage.score_thresh = 0.0
    with torch.no_grad():
        for img in images:
            observed([img])
    observed.box_stage.score_thresh = model.box_stage.score_thresh
    return convert_islands(observed)
