"""Static int8 quantisation (torch.ao FX graph mode) of a trained detector: PTQ and QAT.

Four parts of the float detector are traced and quantised as separate islands
(:class:`Islands`), each behind an adapter in the model's own slot so that
:class:`~mobile_densepose.model.rcnn.DensePoseRCNN` runs unchanged around them:

1. backbone + neck: normalised image batch (B, 3, H, W) -> P2..P6;
2. RPN head on one pyramid level: (B, C, h, w) -> objectness (B, A, h, w) and deltas
   (B, 4A, h, w); the adapter calls it once per level, so the five levels share one set
   of int8 ranges, as they share the float weights;
3. box head + box predictor: pooled RoIs (R, C, S, S) -> class logits (R, K+1) and
   foreground box deltas (R, 4K) (the background's zero deltas are added in float);
4. DensePose head + predictor: pooled RoIs (R, C, S', S') -> coarse, fine, u, v maps.

RoIAlign, anchors, proposal selection, NMS and box decoding run in float between them.
Inside the islands the BiFPN's fast normalised fusions (a division by learnt weights)
and the predictor's transposed convolutions (see :func:`qconfig_mapping`) stay float.

Before an island is traced every BatchNorm that directly follows a convolution is folded
into it (:func:`fold_batchnorm`), as the official code fuses conv + BN before quantising:
timm's BatchNormAct2d is not a leaf module for FX, so unfolded it would be traced into a
float ``batch_norm`` call between a dequantise and a quantise after every convolution.

:func:`quantize_int8` calibrates observers on images (post-training), which
:func:`calibration_images` takes from the training split; the QAT path
(:mod:`mobile_densepose.qat`) trains fake-quantised islands built by :func:`build_islands`
and converts them with :func:`install_islands` + ``convert_fx``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

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

from mobile_densepose.data.dataset import DensePoseDataset
from mobile_densepose.model.bifpn import FastNormalizedFusion
from mobile_densepose.model.box_head import BoxPredictor, with_background_deltas
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


class _RPNLevel(nn.Module):
    """The RPN head on one pyramid level (a traceable island)."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, h, w) -> (objectness (B, A, h, w), deltas (B, 4A, h, w))."""
        objectness, deltas = self.head([x])
        return objectness[0], deltas[0]


class _RPNHeadPerLevel(nn.Module):
    """Adapter in the rpn.head slot: the RPN island run on each level (RPNHead's interface).

    One island called five times, not a graph of the five levels: FX lowering gives a
    module called at several places of one graph the output scale of its last call.
    """

    def __init__(self, island: nn.Module) -> None:
        super().__init__()
        self.island = island

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """[(B, C, h_l, w_l)] -> ([objectness (B, A, h_l, w_l)], [deltas (B, 4A, h_l, w_l)])."""
        outs = [self.island(f) for f in feats]
        return [o[0] for o in outs], [o[1] for o in outs]


class _BoxHead(nn.Module):
    """Box head + predictor's linear layers -> (logits, foreground deltas) (a traceable island)."""

    def __init__(self, head: nn.Module, predictor: BoxPredictor) -> None:
        super().__init__()
        self.head = head
        self.predictor = predictor

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, C, S, S) pooled RoIs -> (logits (R, K+1), foreground deltas (R, 4K))."""
        return self.predictor.scores_and_deltas(self.head(x))


class _BoxOutput(nn.Module):
    """The box_predictor slot: adds the background's zero deltas to the island's output."""

    def forward(self, out: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (R, K+1), deltas (R, 4K)) -> (logits, deltas (R, 4(K+1)))."""
        logits, deltas = out
        return logits, with_background_deltas(deltas)


class _DPHead(nn.Module):
    """DensePose head + predictor -> tuple of maps (a traceable island)."""

    def __init__(self, head: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.predictor = predictor

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.predictor(self.head(x)))


class _TupleToHead(nn.Module):
    """Wraps a head + predictor island in a head slot (dp_head, box_head): returns its tuple."""

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


class Islands(NamedTuple):
    """The four quantised parts of a detector (float, observed, fake-quantised or int8)."""

    pyramid: nn.Module
    """backbone + neck: (B, 3, H, W) normalised batch -> (P2, ..., P6)."""
    rpn: nn.Module
    """RPN head on one level: (B, C, h, w) -> (objectness (B, A, h, w), deltas (B, 4A, h, w))."""
    box: nn.Module
    """box head + predictor: (R, C, S, S) -> (logits (R, K+1), foreground deltas (R, 4K))."""
    densepose: nn.Module
    """DensePose head + predictor: (R, C, S', S') -> (coarse, fine, u, v)."""


def _float_islands(
    model: DensePoseRCNN, example_image: torch.Tensor
) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """(name, float island, example input) of each island of ``model`` (shared modules).

    Examples: the transformed ``example_image`` (1, 3, H, W) for the pyramid; fixed random
    tensors for the others: one level (1, C, 16, 16), pooled RoIs (2, C, S, S) at the box
    and DensePose pooler resolutions.
    """
    cfg, g = model.cfg, torch.Generator().manual_seed(0)
    c, s_box, s_dp = cfg.neck_channels, cfg.box_pool_resolution, cfg.dp_pool_resolution
    return [
        (
            "backbone + neck",
            _Pyramid(model.backbone, model.neck),
            model.transform([example_image.cpu()])[0].tensors,
        ),
        ("RPN head", _RPNLevel(model.rpn.head), torch.randn(1, c, 16, 16, generator=g)),
        (
            "box head",
            _BoxHead(model.box_head, model.box_predictor),
            torch.randn(2, c, s_box, s_box, generator=g),
        ),
        (
            "DensePose head",
            _DPHead(model.dp_head, model.dp_predictor),
            torch.randn(2, c, s_dp, s_dp, generator=g),
        ),
    ]


def _fold_checked(name: str, island: nn.Module, example: torch.Tensor) -> None:
    """Fold ``island``'s BatchNorms; its outputs must stay within 1e-4 relative error."""
    with torch.no_grad():
        before = island(example)
        fold_batchnorm(island)
        after = island(example)
    for a, b in zip(before, after, strict=True):
        err = float((a - b).norm() / a.norm().clamp_min(1e-12))
        if err > 1e-4:
            raise RuntimeError(f"folding BatchNorms changed the {name} island (rel {err:.1e})")


def build_islands(
    model: DensePoseRCNN, example_image: torch.Tensor, qat: bool = False
) -> DensePoseRCNN:
    """A copy of ``model`` whose four islands are observed (PTQ) or fake-quantised (QAT).

    BatchNorms are folded first; each folded float island must reproduce the original
    (relative error < 1e-4 on its example input) or a ``RuntimeError`` names the island.

    Args:
        model: a trained float model.
        example_image: (3, H, W) an image in [0, 1] (traces and checks the pyramid island).
        qat: fake-quantise for training (``prepare_qat_fx``) instead of observing.
    """
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    set_quantized_engine()
    float_model = copy.deepcopy(model).cpu().eval()
    prepare: Prepare = prepare_qat_fx if qat else prepare_fx
    custom = PrepareCustomConfig().set_non_traceable_module_classes([FastNormalizedFusion])
    prepared = []
    for name, island, example in _float_islands(float_model, example_image):
        _fold_checked(name, island, example)
        if qat:
            island.train()
        prepared.append(
            prepare(island, qconfig_mapping(qat), (example,), prepare_custom_config=custom)
        )
    return install_islands(float_model, Islands(*prepared))


def install_islands(model: DensePoseRCNN, islands: Islands) -> DensePoseRCNN:
    """``model`` (in place) with its four quantised parts replaced by ``islands``.

    Slots: neck <- pyramid (backbone becomes an identity), rpn.head <- the RPN island per
    level, box_head + box_predictor <- the box island, dp_head + dp_predictor <- the
    DensePose island.
    """
    model.backbone = nn.Identity()  # type: ignore[assignment]
    model.neck = _PyramidAsDict(islands.pyramid)
    model.rpn.head = _RPNHeadPerLevel(islands.rpn)  # type: ignore[assignment]
    model.box_head = _TupleToHead(islands.box)  # type: ignore[assignment]
    model.box_predictor = _BoxOutput()  # type: ignore[assignment]
    model.dp_head = _TupleToHead(islands.densepose)
    model.dp_predictor = _HeadToOutput()  # type: ignore[assignment]
    return model


def islands_of(model: DensePoseRCNN) -> Islands:
    """The four islands of a model built by :func:`build_islands` (or converted)."""
    neck, rpn, box, dp = model.neck, model.rpn.head, model.box_head, model.dp_head
    if not (
        isinstance(neck, _PyramidAsDict)
        and isinstance(rpn, _RPNHeadPerLevel)
        and isinstance(box, _TupleToHead)
        and isinstance(dp, _TupleToHead)
    ):
        raise TypeError("the model has no quantisation islands (use build_islands first)")
    return Islands(neck.pyramid, rpn.island, box.island, dp.island)


def convert_islands(model: DensePoseRCNN) -> DensePoseRCNN:
    """A copy of an observed / fake-quantised model with int8 islands (eval mode)."""
    out = copy.deepcopy(model).cpu().eval()
    converted = []
    for island in islands_of(out):
        assert isinstance(island, GraphModule)
        converted.append(convert_fx(island.eval()))
    return install_islands(out, Islands(*converted))


def quantize_int8(
    model: DensePoseRCNN, calibration_images: Iterable[torch.Tensor]
) -> DensePoseRCNN:
    """Post-training quantisation: a copy whose four islands run in int8.

    Args:
        model: a trained float model (CPU).
        calibration_images: (3, H, W) images in [0, 1] for the observers.
    """
    images = list(calibration_images)
    if not images:
        raise ValueError("quantize_int8 needs at least one calibration image")
    observed = build_islands(model, images[0])
    # calibration: run the detector (every proposal feeds the box island), every box
    # (score 0) feeding the DensePose island
    observed.box_stage.score_thresh = 0.0
    with torch.no_grad():
        for img in images:
            observed([img])
    observed.box_stage.score_thresh = model.box_stage.score_thresh
    return convert_islands(observed)


def calibration_images(
    train_set: DensePoseDataset, num: int, offset: int = 0
) -> tuple[list[int], list[torch.Tensor]]:
    """Image ids and images of ``num`` consecutive training images, for PTQ calibration.

    Pass the training set (:func:`mobile_densepose.train.make_datasets`' first): the
    observers' ranges are part of the int8 model, so calibrating on held-out images would
    fit the model to its own test set. Images ``offset .. offset + num - 1`` of the
    unmirrored originals are taken (a flip-augmented set lists its mirrored copies after
    them); disjoint offsets give disjoint calibration sets.

    Returns:
        (ids, images): ``num`` image ids and (3, H, W) float images in [0, 1].
    """
    if num < 1 or offset < 0 or offset + num > len(train_set.records):
        raise ValueError(
            f"calibration images {offset}..{offset + num - 1} outside the "
            f"{len(train_set.records)} training images"
        )
    picked = range(offset, offset + num)
    return [train_set.records[i].id for i in picked], [train_set[i][0] for i in picked]
