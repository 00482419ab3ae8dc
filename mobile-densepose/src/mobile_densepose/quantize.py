"""Post-training static int8 quantisation (torch.ao FX graph mode) of a trained detector.

Two float islands are quantised: (1) backbone + neck (image -> P2..P6) and (2) the
DensePose head + predictor (pooled RoI features -> maps); each gets observers, is
calibrated on real images, and converted to int8 kernels (x86/fbgemm on CPU). The
BiFPN's fast normalised fusions (a division by learnt weights) and the predictor's
transposed convolutions (see ``_qconfig``) stay float; RoIAlign,
the RPN, the box head and post-processing run in float between the islands.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from mobile_densepose.model.bifpn import FastNormalizedFusion
from mobile_densepose.model.rcnn import LEVELS, DensePoseRCNN


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


def _qconfig():  # type: ignore[no-untyped-def]
    # The predictor's ConvTranspose2d layers stay float: quantised transposed convolutions
    # (x86 engine, per-channel and per-tensor alike) were measured to wreck the maps (demo
    # model: U error 2.3 on a [0, 1] range, mean GPS 42 -> 4); float they cost 0.3 MB.
    return (
        get_default_qconfig_mapping("x86")
        .set_object_type(FastNormalizedFusion, None)
        .set_object_type(nn.ConvTranspose2d, None)
    )


def quantize_int8(
    model: DensePoseRCNN, calibration_images: Iterable[torch.Tensor]
) -> DensePoseRCNN:
    """A copy of ``model`` whose backbone+neck and DensePose head+predictor run in int8.

    Args:
        model: a trained float model (CPU).
        calibration_images: (3, H, W) images in [0, 1] for the observers.
    """
    from mobile_densepose.model.predictor import DensePoseOutput

    torch.backends.quantized.engine = (
        "x86" if "x86" in torch.backends.quantized.supported_engines else "qnnpack"
    )
    float_model = copy.deepcopy(model).cpu().eval()
    images = list(calibration_images)
    if not images:
        raise ValueError("quantize_int8 needs at least one calibration image")
    batch = float_model.transform(images[:1])[0].tensors
    custom = PrepareCustomConfig().set_non_traceable_module_classes([FastNormalizedFusion])
    pyramid = prepare_fx(
        _Pyramid(float_model.backbone, float_model.neck),
        _qconfig(),
        (batch,),
        prepare_custom_config=custom,
    )
    pooled_example = torch.randn(
        1, model.cfg.neck_channels, model.cfg.dp_pool_resolution, model.cfg.dp_pool_resolution
    )
    dp = prepare_fx(
        _DPHead(float_model.dp_head, float_model.dp_predictor), _qconfig(), (pooled_example,)
    )
    # calibration: run the float detector, recording through the observed islands
    observed = copy.deepcopy(float_model)
    observed.backbone = nn.Identity()  # type: ignore[assignment]
    observed.neck = _PyramidAsDict(pyramid)
    observed.dp_head = _TupleToHead(dp)
    observed.dp_predictor = _HeadToOutput(DensePoseOutput)  # type: ignore[assignment]
    observed.box_stage.score_thresh = 0.0
    with torch.no_grad():
        for img in images:
            observed([img])
    qpyr, qdp = convert_fx(pyramid), convert_fx(dp)
    out = copy.deepcopy(float_model)
    out.backbone = nn.Identity()  # type: ignore[assignment]
    out.neck = _PyramidAsDict(qpyr)
    out.dp_head = _TupleToHead(qdp)
    out.dp_predictor = _HeadToOutput(DensePoseOutput)  # type: ignore[assignment]
    return out


class _TupleToHead(nn.Module):
    """Wraps the head+predictor island in the dp_head slot (returns the maps tuple)."""

    def __init__(self, island: nn.Module) -> None:
        super().__init__()
        self.island = island

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.island(x))


class _HeadToOutput(nn.Module):
    """The dp_predictor slot: turns the island's tuple back into a DensePoseOutput."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def forward(self, maps: tuple[torch.Tensor, ...]):  # type: ignore[no-untyped-def]
        return self.cls(*maps)
