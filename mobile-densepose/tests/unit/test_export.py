"""Exported TorchScript / ONNX cores match eager; int8 PTQ shrinks the model and stays close."""

from pathlib import Path

import timm
import torch

from mobile_densepose.config import model_preset
from mobile_densepose.export import (
    ExportCore,
    example_inputs,
    export_onnx,
    export_torchscript,
    run_onnx,
    state_dict_mb,
)
from mobile_densepose.model.backbone import TimmBackbone
from mobile_densepose.model.rcnn import DensePoseRCNN
from mobile_densepose.quantize import quantize_int8


def _model() -> DensePoseRCNN:
    torch.manual_seed(0)
    return DensePoseRCNN(model_preset("tiny")).eval()


def test_torchscript_and_onnx_match_eager(tmp_path: Path) -> None:
    model = _model()
    export_torchscript(model, tmp_path / "core.pt")
    export_onnx(model, tmp_path / "core.onnx")
    # another image size and RoIs of very different sizes (every pyramid level is used)
    images, _ = example_inputs(model, 96, 128, 1)
    rois = torch.tensor(
        [
            [0, 2.0, 3.0, 20.0, 30.0],
            [0, 0.0, 0.0, 127.0, 95.0],
            [0, 10.0, 5.0, 90.0, 60.0],
            [0, 40.0, 30.0, 50.0, 44.0],
        ]
    )
    with torch.no_grad():
        eager = ExportCore(model).eval()(images, rois)
        script = torch.jit.load(str(tmp_path / "core.pt"))(images, rois)
    ort = run_onnx(tmp_path / "core.onnx", images, rois)
    assert len(eager) == len(script) == len(ort) == 16
    for e, s, o in zip(eager, script, ort):
        torch.testing.assert_close(s, e)
        torch.testing.assert_close(torch.from_numpy(o), e, atol=1e-4, rtol=1e-4)


def test_expansion_taps_equal_timm_hooks() -> None:
    ours = TimmBackbone("spnasnet_100", "bn", "expansion").eval()
    ref = timm.create_model(
        "spnasnet_100", features_only=True, out_indices=(1, 2, 3, 4), feature_location="expansion"
    ).eval()
    renamed = {}
    for k, v in ref.state_dict().items():
        if k.startswith("conv_stem"):
            k = k.replace("conv_stem", "stem.0", 1)
        elif k.startswith("bn1."):
            k = k.replace("bn1.", "stem.1.", 1)
        else:
            k = k.replace("blocks.", "stages.", 1)
        renamed[k] = v
    ours.body.load_state_dict(renamed)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(ours(x), ref(x), strict=True):
            torch.testing.assert_close(a, b)


def test_int8_quantisation_shrinks_and_tracks_float() -> None:
    model = _model()
    images = [torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    int8 = quantize_int8(model, images)
    assert state_dict_mb(int8) < 0.45 * state_dict_mb(model)
    x = model.transform(images[:1])[0].tensors
    with torch.no_grad():
        fa, fb = model.features(x), int8.features(x)
    for k in fa:
        rel = float((fa[k] - fb[k]).norm() / fa[k].norm())
        assert rel < 0.25, (k, rel)
    # the DensePose maps of the same RoIs track the float model's (the predictor's
    # transposed convolutions stay float: quantised ones broke the maps)
    rois = torch.tensor([[0.0, 4.0, 4.0, 60.0, 40.0], [0.0, 10.0, 2.0, 50.0, 60.0]])
    with torch.no_grad():
        ma, mb = model.densepose(fa, rois), int8.densepose(fb, rois)
    for name, a, b in zip(("coarse", "fine", "u", "v"), ma, mb, strict=True):
        rel = float((a - b).norm() / a.norm())
        assert rel < 0.25, (name, rel)
    with torch.no_grad():
        out = int8([images[0]])
    assert isinstance(out, list) and out[0]["fine"].shape[1:] == (25, 32, 32)
