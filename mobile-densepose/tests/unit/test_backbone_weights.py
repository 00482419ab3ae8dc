"""Pretrained backbone weights from a local file (ModelConfig.backbone_weights)."""

from pathlib import Path

import pytest
import timm
import torch

from mobile_densepose.config import TrainConfig, model_preset, train_presets
from mobile_densepose.model.backbone import (
    BackboneWeightsError,
    TimmBackbone,
    _timm_key,
    load_backbone_weights,
)
from mobile_densepose.model.rcnn import DensePoseRCNN
from shared_utils.config import cli_from_presets


def _random_timm_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    """A timm state dict whose every float tensor (BN statistics included) is moved off
    timm's initialisation, so that a copy cannot match by accident; small moves keep the
    activations finite."""
    torch.manual_seed(seed)
    state = timm.create_model(name, pretrained=False).state_dict()
    out = {}
    for key, value in state.items():
        if value.is_floating_point():
            noise = torch.rand_like(value) if "running_var" in key else torch.randn_like(value)
            value = value + 0.05 * noise
        out[key] = value
    return out


def _assert_copied(backbone: TimmBackbone, state: dict[str, torch.Tensor]) -> int:
    n = 0
    for key, value in backbone.body.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        assert torch.equal(value, state[_timm_key(key)]), key
        n += 1
    return n


@pytest.mark.parametrize("preset", ["tiny", "mobile_b"])  # trainable BN, FrozenBN (paper)
def test_timm_state_dict_round_trips_into_the_detector(tmp_path: Path, preset: str) -> None:
    state = _random_timm_state("spnasnet_100", seed=1)
    path = tmp_path / "spnas.pt"
    torch.save(state, path)
    model = DensePoseRCNN(model_preset(preset))
    copied = load_backbone_weights(model.backbone, path)
    assert copied == len(model.backbone.body.state_dict())
    # every tensor of the backbone (all blocks are kept) is the file's, bit for bit
    n = _assert_copied(model.backbone, state)
    assert n > 300
    if preset == "tiny":
        # and the hook-free expansion taps compute what timm's own feature model computes
        ref = timm.create_model(
            "spnasnet_100",
            features_only=True,
            out_indices=(1, 2, 3, 4),
            feature_location="expansion",
        )
        ref.load_state_dict({k: state[k] for k in ref.state_dict()})
        x = torch.randn(1, 3, 64, 96)
        with torch.no_grad():
            ours = model.backbone.eval()(x)
            theirs = ref.eval()(x)
        assert len(ours) == 4
        for a, b in zip(ours, theirs, strict=True):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "location"), [("spnasnet_100", "stage_end"), ("resnet18", "")])
def test_other_tap_layouts_and_safetensors(tmp_path: Path, name: str, location: str) -> None:
    from safetensors.torch import save_file

    state = _random_timm_state(name, seed=2)
    path = tmp_path / f"{name}.safetensors"
    save_file(state, str(path))
    backbone = TimmBackbone(name, "frozen_bn", location)  # type: ignore[arg-type]
    load_backbone_weights(backbone, path)
    assert _assert_copied(backbone, state) == len(backbone.body.state_dict())


def test_wrong_files_name_the_file_and_key(tmp_path: Path) -> None:
    backbone = TimmBackbone("spnasnet_100", "frozen_bn", "expansion")
    before = {k: v.clone() for k, v in backbone.body.state_dict().items()}
    missing = tmp_path / "nope.pt"
    with pytest.raises(BackboneWeightsError, match=r"nope\.pt: backbone weights file not found"):
        load_backbone_weights(backbone, missing)
    # weights of another network: its first key is not a key of spnasnet_100
    other = tmp_path / "resnet18.pt"
    torch.save(timm.create_model("resnet18").state_dict(), other)
    with pytest.raises(BackboneWeightsError, match=r"resnet18\.pt: key 'conv1\.weight' is not in"):
        load_backbone_weights(backbone, other)
    # a wrong shape is named with both shapes
    state = timm.create_model("spnasnet_100").state_dict()
    state["blocks.1.0.conv_pw.weight"] = torch.zeros(3, 3, 1, 1)
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(
        BackboneWeightsError, match=r"bad\.pt: key 'blocks\.1\.0\.conv_pw\.weight' has shape"
    ):
        load_backbone_weights(backbone, bad)
    # a tensor the backbone needs is absent
    state = timm.create_model("spnasnet_100").state_dict()
    del state["bn1.running_mean"]
    torch.save(state, bad)
    with pytest.raises(BackboneWeightsError, match=r"bad\.pt: key 'bn1\.running_mean' is missing"):
        load_backbone_weights(backbone, bad)
    # not a state dict
    torch.save([1, 2], bad)
    with pytest.raises(BackboneWeightsError, match=r"bad\.pt: not a state dict"):
        load_backbone_weights(backbone, bad)
    for key, value in backbone.body.state_dict().items():  # failed loads changed nothing
        assert torch.equal(value, before[key])


def test_train_cli_flag() -> None:
    cfg = cli_from_presets(train_presets(), args=["paper", "--backbone-weights", "in1k.pt"])
    assert isinstance(cfg, TrainConfig)
    assert cfg.model.backbone_weights == "in1k.pt"
    assert cfg.model.backbone_norm == "frozen_bn"
    dotted = cli_from_presets(train_presets(), args=["tiny", "--model.backbone-weights", "a.pt"])
    assert dotted.model.backbone_weights == "a.pt"
    assert cli_from_presets(train_presets(), args=["tiny"]).model.backbone_weights is None
