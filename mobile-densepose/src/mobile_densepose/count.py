"""Parameter counts and sizes on disk of every preset, against the paper's Tables 4, 5 and 6.

Counting convention (the paper's): ``sum(p.numel() for p in model.parameters())`` of the
whole detector (backbone, neck, RPN, box head + predictor, DensePose head + predictor),
with the backbone's BatchNorms frozen (detectron2 FrozenBN keeps them as buffers, so
they are not parameters). The size on disk is the float32 state dict written by
``torch.save`` (buffers included).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch
from torch import nn

from mobile_densepose.config import PAPER_PARAMS_M, TABLE5_PARAMS_M, model_preset
from mobile_densepose.model.rcnn import DensePoseRCNN

COMPONENTS: dict[str, tuple[str, ...]] = {
    "backbone": ("backbone",),
    "neck": ("neck",),
    "rpn": ("rpn",),
    "box": ("box_head", "box_predictor"),
    "densepose": ("dp_head", "dp_predictor"),
}
"""Report column -> attribute names of DensePoseRCNN."""


@dataclass
class CountRow:
    """One preset's counts."""

    preset: str
    """Preset name."""
    params: int
    """Total parameters."""
    paper_m: float | None
    """The paper's count in millions (None if the paper has none)."""
    size_mb: float
    """float32 state dict size on disk in MB (1e6 bytes)."""
    components: dict[str, int]
    """Parameters per component (backbone, neck, rpn, box, densepose)."""

    @property
    def diff_pct(self) -> float | None:
        """Relative difference to the paper in percent."""
        if self.paper_m is None:
            return None
        return 100.0 * (self.params / 1e6 / self.paper_m - 1.0)


def num_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def state_dict_bytes(module: nn.Module) -> int:
    """Bytes of ``torch.save(module.state_dict())``."""
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getbuffer().nbytes


def paper_count(preset: str) -> float | None:
    """The paper's parameter count (millions) for a preset, or None."""
    if preset in PAPER_PARAMS_M:
        return PAPER_PARAMS_M[preset]
    if preset == "paper":
        return PAPER_PARAMS_M["mobile_b"]
    if preset.startswith("table5_"):
        return TABLE5_PARAMS_M.get(preset.removeprefix("table5_"))
    return None


def count_model(model: DensePoseRCNN) -> dict[str, int]:
    """Parameters per component of a built detector."""
    return {
        name: sum(num_params(getattr(model, attr)) for attr in attrs)
        for name, attrs in COMPONENTS.items()
    }


def count_preset(preset: str) -> CountRow:
    """Build a preset on CPU and count it."""
    model = DensePoseRCNN(model_preset(preset))
    return CountRow(
        preset=preset,
        params=num_params(model),
        paper_m=paper_count(preset),
        size_mb=state_dict_bytes(model) / 1e6,
        components=count_model(model),
    )


def format_table(rows: list[CountRow]) -> str:
    """A markdown table of CountRows."""
    head = "| preset | params (M) | paper (M) | diff | size (MB) | backbone | neck | rpn | box | densepose |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        paper = f"{r.paper_m:.2f}" if r.paper_m is not None else "-"
        diff = f"{r.diff_pct:+.2f}%" if r.diff_pct is not None else "-"
        comps = " | ".join(f"{r.components[k] / 1e6:.3f}" for k in COMPONENTS)
        lines.append(
            f"| {r.preset} | {r.params / 1e6:.3f} | {paper} | {diff} | {r.size_mb:.1f} | {comps} |"
        )
    return "\n".join(lines)
