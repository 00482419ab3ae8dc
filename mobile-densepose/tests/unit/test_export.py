"""Exported TorchScript / ONNX cores match eager; int8 PTQ shrinks the model and stays close
and is calibrated on training images only."""

import dataclasses
from pathlib import Path

import pytest
import timm
import torch
from torch.ao.nn import quantized as nnq
from torch.ao.nn.intrinsic import quantized as nniq

from mobile_densepose.cli import _calibration
from mobile_densepose.config import model_preset, train_presets
from mobile_densepose.data.dataset import DensePoseDataset
from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic
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
from mobile_densepose.quantize import (
    _float_islands,
    calibration_images,
    fold_batchnorm,
    islands_of,
    quantize_int8,
)
from mobile_densepose.train import make_datasets, split_ids
from shared_utils.config import save_config


def _model(box_head: str = "conv") -> DensePoseRCNN:
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_preset("tiny"), box_head=box_head, box_fc_dim=64)
    return DensePoseRCNN(cfg).eval()


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


def _quantised_types(module: torch.nn.Module) -> set[type]:
    return {type(m) for m in module.modules() if ".quantized" in type(m).__module__}


@pytest.mark.parametrize("box_head", ["conv", "linear"])
def test_int8_box_island_is_quantised_and_tracks_float(box_head: str) -> None:
    """Both box heads (Mobile's 2 convs, the baseline's 2 FCs) run in int8 + the predictor."""
    model = _model(box_head)
    images = [torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    int8 = quantize_int8(model, images)
    box = islands_of(int8).box
    quantised = _quantised_types(box)
    assert nnq.Linear in quantised  # the predictor's class scores and box deltas
    assert (nniq.ConvReLU2d if box_head == "conv" else nniq.LinearReLU) in quantised
    # int8 from the input's quantise to the two outputs (no float step, e.g. the flatten)
    dequantised = [n for n in box.graph.nodes if n.target == "dequantize"]
    assert len(dequantised) == 2 and all([u.op for u in n.users] == ["output"] for n in dequantised)
    # the same pooled features (float pyramid, same RoIs) through float and int8 heads
    x = model.transform(images[:1])[0].tensors
    rois = torch.tensor(
        [[0.0, 4.0, 4.0, 60.0, 40.0], [0.0, 10.0, 2.0, 50.0, 60.0], [0.0, 0.0, 0.0, 95.0, 63.0]]
    )
    with torch.no_grad():
        feats = model.features(x)
        (la, da), (lb, db) = model.boxes(feats, rois), int8.boxes(feats, rois)
    assert da.shape == db.shape == (3, 8) and torch.equal(db[:, :4], torch.zeros(3, 4))
    # measured relative errors: logits 2.7 % / 1.7 %, deltas 2.5 % / 1.5 % (conv / linear)
    for name, a, b in (("logits", la, lb), ("deltas", da, db)):
        rel = float((a - b).norm() / a.norm())
        assert rel < 0.06, (name, rel)


def test_int8_rpn_island_is_quantised_and_tracks_float() -> None:
    """The RPN island: one int8 head shared by the levels, calibrated on all of them.

    Calibrated directly on pyramid levels of equal scale, as a trained model's are (the
    untrained model's P5 is 70x its P2, and one shared int8 range cannot serve both).
    """
    from torch.ao.quantization.quantize_fx import convert_fx

    from mobile_densepose.quantize import build_islands

    model = _model()
    observed = islands_of(build_islands(model, torch.rand(3, 64, 96))).rpn
    g = torch.Generator().manual_seed(0)
    levels = [torch.randn(1, 32, s, s * 3 // 2, generator=g) for s in (16, 8, 4, 2, 1)]
    with torch.no_grad():
        for f in levels:
            observed(f)
        int8 = convert_fx(observed.eval())
        assert {nniq.ConvReLU2d, nnq.Conv2d} <= _quantised_types(int8)
        float_out = model.rpn.head(levels)
        for level, f in enumerate(levels):
            for name, a, b in zip(("objectness", "deltas"), (o[level] for o in float_out), int8(f)):
                rel = float((a - b).norm() / a.norm())
                # measured: objectness 1.9-3.1 %, deltas 3.0-4.2 % over the levels
                assert rel < 0.08, (level, name, rel)


def test_every_island_folds_exactly() -> None:
    """Folding keeps every island's outputs (only backbone + neck have BatchNorms)."""
    model = _model()
    for m in model.modules():  # non-trivial statistics for the pyramid's BNs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    islands = _float_islands(
        model, torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(0))
    )
    names = [name for name, _, _ in islands]
    assert names == ["backbone + neck", "RPN head", "box head", "DensePose head"]
    for name, island, example in islands:
        with torch.no_grad():
            before = island(example)
            n_bn = fold_batchnorm(island)
            after = island(example)
        assert (n_bn > 0) == (name == "backbone + neck"), (name, n_bn)  # heads: no BN
        for a, b in zip(before, after, strict=True):
            if n_bn == 0:
                assert torch.equal(a, b), name
            else:
                assert float((a - b).norm() / a.norm()) < 1e-5, name


def test_calibration_images_come_from_the_training_split(tmp_path: Path) -> None:
    """PTQ's observers must not see held-out images: the calibration helper (demo, export)
    takes unmirrored images of the train split, and disjoint offsets give disjoint sets."""
    data = tmp_path / "data"
    make_synthetic(data, SyntheticConfig(num_images=10, height=64, width=80, n_points=40, seed=3))
    cfg = dataclasses.replace(train_presets()["tiny"][1], data=str(data), val_fraction=0.3)
    train_ids, val_ids = split_ids(cfg)
    train_set, val_set, _ = make_datasets(cfg)
    assert val_set is not None and train_set.flip is not None  # mirrored copies present
    ids, images = calibration_images(train_set, 4)
    more, _ = calibration_images(train_set, len(train_ids) - 4, offset=4)
    assert set(ids) <= set(train_ids) and not set(ids) & set(val_ids)
    assert not set(ids) & {r.id for r in val_set.records}
    assert not set(ids) & set(more) and set(ids) | set(more) == set(train_ids)
    for i, img in zip(ids, images, strict=True):  # the original, not the mirrored image
        assert img.shape == (3, 64, 80)
        torch.testing.assert_close(img, DensePoseDataset(data, ids=[i])[0][0])
    with pytest.raises(ValueError, match="training images"):
        calibration_images(train_set, len(train_ids) - 3, offset=4)
    # `export --calibration` with the run's own data folder: the train split only, capped
    save_config(cfg, tmp_path / "run" / "config.yaml")
    cli_images = _calibration(str(tmp_path / "run"), str(data), 100)
    assert len(cli_images) == len(train_ids)
    for a, b in zip(cli_images, images, strict=False):
        torch.testing.assert_close(a, b)
