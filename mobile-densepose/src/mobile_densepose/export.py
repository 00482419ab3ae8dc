"""Mobile deployment: TorchScript and ONNX export of the network core, int8 PTQ, sizes on disk.

What is exported is the part of the detector with all the weights and nearly all the
compute, as a fixed graph: ``ExportCore(images, rois)`` runs backbone + neck, the RPN
head on P2..P6, the box head on the given RoIs and the DensePose head + predictor on
the same RoIs. Anchor decoding, NMS and resizing (data-dependent control flow) stay in
the host code, as in typical mobile detector deployments. ONNX uses opset 17
(``torch.onnx.export(..., dynamo=False)``, RoIAlign with half-pixel alignment);
onnxruntime's outputs are checked against eager PyTorch.

Quantisation: post-training static int8 (torch.ao FX graph mode, fbgemm/x86 on CPU) of
the backbone + neck, the RPN head, the box head + predictor and the DensePose head +
predictor (:mod:`mobile_densepose.quantize`), calibrated on a few images; RoIAlign,
proposal selection and the box post-processing stay in float.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobile_densepose.count import state_dict_bytes
from mobile_densepose.model.rcnn import LEVELS, DensePoseRCNN


class ExportCore(nn.Module):
    """(images (B, 3, H, W) normalised and padded to /32, rois (R, 5)) -> a tuple of tensors:
    class logits (R, K+1), box deltas (R, 4(K+1)), coarse (R, 15, S, S), fine, u, v
    (R, 25, S, S), then the RPN objectness (B, A, h_l, w_l) and deltas (B, 4A, h_l, w_l) of
    P2..P6."""

    def __init__(self, model: DensePoseRCNN) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.neck = model.neck
        self.rpn_head = model.rpn.head
        self.box_pooler = model.box_pooler
        self.box_head = model.box_head
        self.box_predictor = model.box_predictor
        self.dp_pooler = model.dp_pooler
        self.dp_head = model.dp_head
        self.dp_predictor = model.dp_predictor
        self.dp_p2_only = model.cfg.dp_levels == "p2"

    def forward(self, images: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pyramid = self.neck(self.backbone(images))
        feats = [pyramid[k] for k in LEVELS]
        objectness, deltas = self.rpn_head(feats)
        logits, box_deltas = self.box_predictor(self.box_head(self.box_pooler(feats[:4], rois)))
        dp_feats = feats[:1] if self.dp_p2_only else feats[:4]
        out = self.dp_predictor(self.dp_head(self.dp_pooler(dp_feats, rois)))
        return (logits, box_deltas, out.coarse, out.fine, out.u, out.v, *objectness, *deltas)


def example_inputs(
    model: DensePoseRCNN, height: int = 128, width: int = 160, n_rois: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed (image, rois) pair for tracing and checks."""
    g = torch.Generator().manual_seed(0)
    images = torch.randn(1, 3, height, width, generator=g)
    x1 = torch.rand(n_rois, generator=g) * width * 0.5
    y1 = torch.rand(n_rois, generator=g) * height * 0.5
    w = 16 + torch.rand(n_rois, generator=g) * width * 0.4
    h = 16 + torch.rand(n_rois, generator=g) * height * 0.4
    rois = torch.stack([torch.zeros(n_rois), x1, y1, x1 + w, y1 + h], dim=1)
    return images, rois


def export_torchscript(model: DensePoseRCNN, path: str | Path) -> torch.jit.ScriptModule:
    """Trace the core with example inputs and save it."""
    core = ExportCore(model).eval()
    with torch.no_grad():
        traced = torch.jit.trace(core, example_inputs(model), check_trace=False)
    traced.save(str(path))
    return traced


def export_onnx(model: DensePoseRCNN, path: str | Path, opset: int = 17) -> None:
    """Export the core to ONNX (TorchScript-based exporter, dynamic batch of RoIs and image size)."""
    core = ExportCore(model).eval()
    images, rois = example_inputs(model)
    n_out = 6 + 2 * len(LEVELS)
    names = ["class_logits", "box_deltas", "coarse", "fine", "u", "v"]
    names += [f"objectness_{k}" for k in LEVELS] + [f"rpn_deltas_{k}" for k in LEVELS]
    assert len(names) == n_out
    dynamic = {"images": {2: "height", 3: "width"}, "rois": {0: "num_rois"}}
    for k in ("class_logits", "box_deltas", "coarse", "fine", "u", "v"):
        dynamic[k] = {0: "num_rois"}
    with torch.no_grad():
        torch.onnx.export(
            core,
            (images, rois),
            str(path),
            input_names=["images", "rois"],
            output_names=names,
            opset_version=opset,
            dynamic_axes=dynamic,
            dynamo=False,
        )


def run_onnx(path: str | Path, images: torch.Tensor, rois: torch.Tensor) -> list[np.ndarray]:
    """Run an exported core with onnxruntime (CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(session.run(None, {"images": images.numpy(), "rois": rois.numpy()}))


def file_mb(path: str | Path) -> float:
    """File size in MB (1e6 bytes)."""
    return Path(path).stat().st_size / 1e6


def state_dict_mb(module: nn.Module) -> float:
    """Size of ``torch.save(module.state_dict())`` in MB."""
    return state_dict_bytes(module) / 1e6
