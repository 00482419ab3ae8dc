"""timm backbones as feature extractors of strides 4, 8, 16 and 32 (C2..C5).

Two ways to tap the features, both reproducing the paper's parameter counts:

* ``feature_location="expansion"`` (the official Mobile Parsing R-CNN code, used by the
  BiFPN models): ``timm.create_model(..., features_only=True, out_indices=(1, 2, 3, 4),
  feature_location="expansion")``; the taps are the expanded activations.
* ``stage_end`` (the FPN ablations of Tables 4 and 5): C2..C4 are the ends of the last
  stage of each stride and C5 the end of the stage that first reaches stride 32; trailing
  stride-1 stages (e.g. EfficientNet-B0's 320-channel stage, MobileNetV3's 1x1 conv stage)
  are dropped. This is what the counts of Table 5 imply (see the README).

BatchNorms become detectron2's FrozenBatchNorm (affine buffers, not parameters) unless
``norm="bn"``. Weights are never downloaded (``pretrained=False``): ImageNet weights come
from a local file through :func:`load_backbone_weights` (``ModelConfig.backbone_weights``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

import timm
import torch
from timm.layers import freeze_batch_norm_2d
from torch import nn

FeatureLocation = Literal["", "expansion", "bottleneck", "stage_end"]


class _StageTaps(nn.Module):
    """Stem + the kept stages of an EfficientNet-style timm model, returning 4 stage outputs."""

    def __init__(self, net: nn.Module, name: str) -> None:
        super().__init__()
        for attr in ("conv_stem", "bn1", "blocks"):
            if not hasattr(net, attr):
                raise ValueError(f"backbone {name!r} has no {attr!r}: use feature_location ''")
        self.stem = nn.Sequential(cast(nn.Module, net.conv_stem), cast(nn.Module, net.bn1))
        blocks = list(net.blocks)  # type: ignore[arg-type]
        with torch.no_grad():
            x = self.stem(torch.zeros(1, 3, 64, 64))
            strides = []
            channels = []
            for stage in blocks:
                x = stage(x)
                strides.append(64 // x.shape[-1])
                channels.append(int(x.shape[1]))
        taps = []
        for s in (4, 8, 16):
            idx = [i for i, st in enumerate(strides) if st == s]
            if not idx:
                raise ValueError(f"backbone {name!r} has no stage of stride {s}")
            taps.append(idx[-1])
        idx32 = [i for i, st in enumerate(strides) if st == 32]
        if not idx32:
            raise ValueError(f"backbone {name!r} has no stage of stride 32")
        taps.append(idx32[0])
        self.stages = nn.ModuleList(blocks[: taps[-1] + 1])
        self.taps = taps
        self.channels = [channels[i] for i in taps]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.taps:
                feats.append(x)
        return feats


def _split_at_pwl(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a timm inverted-residual / edge-residual block, also returning the input of its
    conv_pwl (the 'expansion' feature). Mirrors timm's block forwards without hooks."""
    b: Any = block
    shortcut = x
    if hasattr(b, "conv_dw"):  # InvertedResidual
        if getattr(b, "conv_s2d", None) is not None:
            x = b.bn_s2d(b.conv_s2d(x))
        x = b.se(b.aa(b.bn2(b.conv_dw(b.bn1(b.conv_pw(x))))))
        tap = x
        x = b.bn3(b.conv_pwl(x))
    else:  # EdgeResidual
        x = b.se(b.aa(b.bn1(b.conv_exp(x))))
        tap = x
        x = b.bn2(b.conv_pwl(x))
    if b.has_skip:
        x = b.drop_path(x) + shortcut
    return x, tap


class _ExpansionTaps(nn.Module):
    """Stem + blocks of an EfficientNet-style model, returning the inputs of the conv_pwl of
    the tap blocks (timm's feature_location='expansion') without forward hooks, so that the
    backbone stays FX-traceable (int8 quantisation)."""

    def __init__(self, net: nn.Module, tap_modules: list[str], name: str) -> None:
        super().__init__()
        taps = []
        for mod in tap_modules:
            parts = mod.split(".")
            if len(parts) != 4 or parts[0] != "blocks" or parts[3] != "conv_pwl":
                raise ValueError(f"backbone {name!r}: unsupported expansion tap {mod!r}")
            taps.append((int(parts[1]), int(parts[2])))
        self.stem = nn.Sequential(cast(nn.Module, net.conv_stem), cast(nn.Module, net.bn1))
        blocks = list(cast(nn.Sequential, net.blocks))
        # keep every block the features_only model holds (the paper counts them all)
        self.stages = nn.ModuleList(blocks)
        self.taps = taps
        # What lies after the last tap (its block's conv_pwl + BN, any later blocks) is
        # counted but never reached by forward: it takes no gradient, so it is not trained
        # (DDP would otherwise stop at parameters that never receive a gradient).
        last = max(taps)
        for si, stage in enumerate(self.stages):
            for bi, block in enumerate(cast(nn.Sequential, stage)):
                dead: list[nn.Module] = []
                if (si, bi) > last:
                    dead = [block]
                elif (si, bi) == last:
                    b: Any = block
                    dead = [b.conv_pwl, b.bn3 if hasattr(b, "conv_dw") else b.bn2]
                for module in dead:
                    module.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for si, stage in enumerate(self.stages):
            for bi, block in enumerate(cast(nn.Sequential, stage)):
                if (si, bi) in self.taps:
                    x, tap = _split_at_pwl(block, x)
                    feats.append(tap)
                    if len(feats) == len(self.taps):
                        return feats
                else:
                    x = block(x)
        return feats


class TimmBackbone(nn.Module):
    """A timm network returning its C2..C5 feature maps.

    Args:
        name: timm model name.
        norm: 'frozen_bn' (BatchNorm -> frozen affine buffers) or 'bn' (trainable).
        feature_location: '' / 'bottleneck' / 'expansion' (timm's features_only taps) or
            'stage_end' (stage outputs, trailing stride-1 stages dropped).
    """

    def __init__(
        self,
        name: str,
        norm: Literal["frozen_bn", "bn"] = "frozen_bn",
        feature_location: FeatureLocation = "expansion",
    ) -> None:
        super().__init__()
        self.name = name
        """timm model name (what a weights file must be a state dict of)."""
        body: nn.Module
        if feature_location == "stage_end":
            taps = _StageTaps(timm.create_model(name, pretrained=False), name)
            channels = taps.channels
            body = taps
        else:
            kwargs: dict[str, Any] = {}
            if feature_location:
                kwargs["feature_location"] = feature_location
            body = timm.create_model(
                name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4), **kwargs
            )
            info: Any = body.feature_info
            reductions = list(info.reduction())
            if reductions != [4, 8, 16, 32]:
                raise ValueError(f"backbone {name!r} gives strides {reductions}, expected 4..32")
            channels = list(info.channels())
            if feature_location == "expansion":
                body = _ExpansionTaps(
                    timm.create_model(name, pretrained=False), list(info.module_name()), name
                )
        if norm == "frozen_bn":
            body = freeze_batch_norm_2d(body)
        self.body = body
        self.channels: list[int] = channels
        """Channels of C2..C5."""

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised images -> [C2 (B, c2, H/4, W/4), ..., C5 (B, c5, H/32, W/32)]."""
        feats: list[torch.Tensor] = self.body(images)  # already a list; list() breaks FX tracing
        return feats


class BackboneWeightsError(ValueError):
    """A backbone weights file that is missing, unreadable or of another network."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: safetensors (``.safetensors``) or a ``torch.save`` file
    read with ``weights_only=True`` (a bare state dict, or one under a ``state_dict`` or
    ``model`` key)."""
    p = Path(path)
    if not p.is_file():
        raise BackboneWeightsError(f"{p}: backbone weights file not found")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(p), device="cpu")
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as error:  # any reader failure is a bad file
        raise BackboneWeightsError(f"{p}: cannot read backbone weights: {error}") from error
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise BackboneWeightsError(f"{p}: not a state dict of tensors (got {type(obj).__name__})")
    return obj


def _timm_key(key: str) -> str:
    """Name in timm's own model of a key of ``TimmBackbone.body`` (the tap wrappers rename
    conv_stem / bn1 / blocks to stem.0 / stem.1 / stages; timm's features_only models keep
    timm's names)."""
    for ours, theirs in (("stem.0.", "conv_stem."), ("stem.1.", "bn1."), ("stages.", "blocks.")):
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    return key


def load_backbone_weights(backbone: TimmBackbone, path: str | Path) -> int:
    """Copy a timm state dict (e.g. ImageNet weights saved with
    ``torch.save(timm.create_model(name, pretrained=True).state_dict(), path)``) into
    ``backbone``; returns the number of tensors copied.

    Every tensor the backbone holds must be in the file with the same shape; keys the
    backbone does not use (the classifier, timm's head convs) may be there, keys that the
    timm model ``backbone.name`` does not have may not. BatchNorm step counters
    (``num_batches_tracked``) are optional.

    Raises:
        BackboneWeightsError: naming the file and the first mismatching key.
    """
    p = Path(path)
    state = read_state_dict(p)
    reference = timm.create_model(backbone.name, pretrained=False).state_dict()
    for key, value in state.items():
        if key not in reference:
            raise BackboneWeightsError(
                f"{p}: key {key!r} is not in timm model {backbone.name!r} "
                "(weights of another network?)"
            )
        if tuple(value.shape) != tuple(reference[key].shape):
            raise BackboneWeightsError(
                f"{p}: key {key!r} has shape {tuple(value.shape)}, timm model "
                f"{backbone.name!r} expects {tuple(reference[key].shape)}"
            )
    ours = backbone.body.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    for key, value in ours.items():
        name = _timm_key(key)
        if name not in state:
            if key.endswith("num_batches_tracked"):
                loaded[key] = value
                continue
            raise BackboneWeightsError(
                f"{p}: key {name!r} is missing (needed by the backbone {backbone.name!r})"
            )
        if tuple(state[name].shape) != tuple(value.shape):  # only if the wrappers changed it
            raise BackboneWeightsError(
                f"{p}: key {name!r} has shape {tuple(state[name].shape)}, the backbone "
                f"expects {tuple(value.shape)}"
            )
        loaded[key] = state[name]
    backbone.body.load_state_dict(loaded, strict=True)
    return len(loaded)
