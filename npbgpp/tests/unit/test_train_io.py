"""Training data items, the loss function, model and descriptor files, the CLI help."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from npbgpp.cli import main
from npbgpp.config import PRESETS, preset
from npbgpp.data.scene import Scene
from npbgpp.descriptors_io import export_ply, load_descriptors, save_descriptors
from npbgpp.losses import VGGPerceptual, dice_loss, downsampled_l1
from npbgpp.model.pipeline import NPBGPP, SceneDescriptors
from npbgpp.train import SceneLoss, TargetViews, first_item, load_model, save_model
from shared_utils.io.meshes import read_point_cloud
from shared_utils.kernels import assert_close
from shared_utils.metrics.image import mask_iou


def _toy_scene(views: int = 4, size: int = 32) -> Scene:
    from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras

    g = np.random.default_rng(0)
    K = intrinsics_from_fov(45.0, size, size)
    cams = orbit_cameras(views, 2.8, 30.0, K, size, size)
    images = g.random((views, size, size, 3)).astype(np.float32)
    return Scene("toy", images, cams, (g.random((300, 3)) - 0.5).astype(np.float32))


def test_paper_preset_matches_the_spec() -> None:
    """Every value of /work/shared/specs/npbgpp.md (and the official configs it was read
    from) in the paper preset."""
    paper = preset("paper")
    m = paper.model
    # modeling stage: U-Net extractor, c = 8, visibility at full resolution, m = 6 basis
    # functions on a 3-frequency embedding (official MLP: width 16, two hidden layers)
    assert m.encoder == "spnasnet_100"
    assert m.decoder_channels == (256, 128, 64, 32, 16)
    assert m.descriptor_dim == 8
    assert m.visibility_scale == 1.0  # 0.5 only for ScanNet
    assert m.num_basis == 6 and m.harmonic_frequencies == 3
    assert (m.basis_hidden, m.basis_layers) == (16, 2)
    assert m.ridge_alpha == 1.0
    assert m.align_views is True and m.up_axis == (0.0, 0.0, 1.0)
    # rendering stage: gated refiner 16/32/48/64/80 over 5 scales (1 ... 1/16), RGB only
    assert m.refiner_channels == (16, 32, 48, 64, 80) and m.num_scales == 5
    assert m.predict_mask is False
    # training: 256 px crops, 3 source views (official selection_count), Adam 1e-4
    # constant; VGG-19 perceptual + L1 on 4x downsampled images + self-supervised term
    assert paper.crop_size == 256 and paper.source_views == 3
    assert paper.lr == 1e-4 and paper.lr_schedule == "constant"
    lc = paper.loss
    assert lc.perceptual_weight == 1.0 and lc.vgg19_weights is None  # the user's file
    assert lc.l1_weight == 1.0 and lc.l1_downsample == 4
    assert lc.self_supervised_weight == 1.0
    assert lc.ssim_weight == 0.0  # SSIM only stands in for VGG in the tiny preset
    assert lc.dice_weight == 0.0  # mask losses are optional
    assert paper.trainer.amp == "bf16"  # AMP on GPU (the trainer keeps fp32 on CPU)
    assert paper.trainer.batch_size == 1  # one target view per step
    assert set(PRESETS) == {"tiny", "paper"}
    a = preset("tiny")
    a.model.descriptor_dim = 99
    assert preset("tiny").model.descriptor_dim == 8  # presets are copied


def test_target_views_items() -> None:
    scene = _toy_scene()
    ds = TargetViews([scene, scene], source_views=2, crop_size=16, seed=3, color_augment=True)
    assert len(ds) == 8
    for i in range(len(ds)):
        item = ds[i]
        assert int(item["target"]) not in item["sources"].tolist()
        assert len(set(item["sources"].tolist())) == 2
        y0, x0, h, w = item["crop"].tolist()
        assert (h, w) == (16, 16) and 0 <= y0 <= 16 and 0 <= x0 <= 16
        assert torch.equal(ds[i]["sources"], item["sources"])  # deterministic
        assert sorted(item["perm"].tolist()) == [0, 1, 2]
        assert bool(((item["gain"] >= 0.7) & (item["gain"] <= 1.3)).all())
    assert first_item([ds[0]]) is not None
    with pytest.raises(ValueError, match="one target view"):
        first_item([ds[0], ds[1]])


def test_loss_function_and_a_few_steps_reduce_it() -> None:
    torch.manual_seed(0)
    cfg = preset("tiny")
    cfg.crop_size = 24
    scene = _toy_scene()
    model = NPBGPP(cfg.model, implementation="torch")
    loss_fn = SceneLoss([scene], cfg)
    batch = TargetViews([scene], 2, 24)[0]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss, scalars = loss_fn(model, batch, 0)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert set(scalars) == {"l1", "ssim", "self_supervised"}
    assert losses[-1] < losses[0]


def test_dice_loss_values() -> None:
    a = torch.zeros(1, 1, 4, 4)
    a[..., :2, :] = 1  # 8 pixels
    assert float(dice_loss(a, a)) == pytest.approx(0.0)
    b = 1 - a  # the other 8 pixels: disjoint
    assert float(dice_loss(a, b)) == pytest.approx(1 - 1 / 17)
    c = torch.zeros(1, 1, 4, 4)
    c[..., :, :2] = 1  # 8 pixels, 4 shared with a
    assert float(dice_loss(a, c)) == pytest.approx(1 - 9 / 17)
    assert float(dice_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))) == 0.0
    both = dice_loss(torch.cat([a, a]), torch.cat([a, b]))
    assert float(both) == pytest.approx(0.5 * (1 - 1 / 17))


def test_dice_term_learns_the_foreground_mask() -> None:
    from npbgpp.data.synthetic import make_scene

    torch.manual_seed(0)
    cfg = preset("tiny")
    with pytest.raises(ValueError, match="predict_mask"):
        SceneLoss([], dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, dice_weight=1.0)))
    cfg.model.predict_mask = True
    cfg.loss.dice_weight = 1.0
    scene, _ = make_scene(2, views=5, size=32, num_points=1500)
    assert scene.masks is not None
    model = NPBGPP(cfg.model, implementation="torch")
    loss_fn = SceneLoss([scene], cfg)
    batch = TargetViews([scene], 3, 32)[0]

    def current_iou() -> float:
        with torch.no_grad():
            views = [(scene.image_tensor(int(v)), scene.camera(int(v))) for v in batch["sources"]]
            desc = model.model_scene(scene.point_tensor(), views)
            _, logit = model.render_with_mask(desc, scene.camera(int(batch["target"])))
        assert logit is not None and logit.shape == (1, 32, 32)
        pred = logit[0] > 0
        true = torch.from_numpy(scene.masks[int(batch["target"])]) > 0.5
        return mask_iou(pred, true)

    before = current_iou()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        opt.zero_grad()
        loss, scalars = loss_fn(model, batch, 0)
        loss.backward()
        opt.step()
    assert "dice" in scalars
    after = current_iou()
    print(f"mask IoU {before:.3f} -> {after:.3f}")
    assert after > 0.8 and after > before + 0.2, (before, after)


def test_downsampled_l1_value() -> None:
    a = torch.zeros(1, 3, 8, 8)
    b = torch.zeros(1, 3, 8, 8)
    b[..., :4, :4] = 1.0  # one 4x4 block: after pooling one of four cells differs by 1
    assert_close(downsampled_l1(a, b, 4), torch.tensor(0.25))


def test_vgg_loss_needs_local_weights(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vgg19_weights"):
        VGGPerceptual(tmp_path / "vgg19.pth")


def test_perceptual_weight_without_vgg_file_is_an_error(tmp_path: Path) -> None:
    cfg = preset("paper")  # builds without the VGG-19 file
    assert cfg.loss.perceptual_weight == 1.0 and cfg.loss.vgg19_weights is None
    NPBGPP(cfg.model)  # so does its model
    for build in (
        lambda: SceneLoss([_toy_scene()], cfg),
        lambda: main(["train", "paper", "--run-dir", str(tmp_path / "run")]),
    ):
        with pytest.raises(ValueError) as err:
            build()
        text = str(err.value)
        for needed in ("--loss.vgg19-weights", "torchvision", "vgg19", "perceptual-weight 0"):
            assert needed in text, text
    assert not (tmp_path / "run").exists()  # refused before anything was written
    cfg.loss.perceptual_weight = 0.0  # without the perceptual term it builds
    assert SceneLoss([_toy_scene()], cfg).perceptual is None
    cfg.loss.perceptual_weight = 1.0
    cfg.loss.vgg19_weights = str(tmp_path / "vgg19.pth")  # a named but missing file
    with pytest.raises(FileNotFoundError, match="vgg19_weights"):
        SceneLoss([_toy_scene()], cfg)


def test_model_and_descriptor_files_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = preset("tiny").model
    model = NPBGPP(cfg)
    save_model(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    desc = SceneDescriptors(
        torch.rand(10, 3), torch.rand(10, 8), torch.rand(10, 6, 8), torch.arange(10) * 2
    )
    save_descriptors(tmp_path / "d.h5", desc)
    back = load_descriptors(tmp_path / "d.h5")
    for name in ("points", "beta0", "beta", "source_index"):
        assert torch.equal(getattr(back, name), getattr(desc, name)), name
    export_ply(tmp_path / "d.ply", desc)
    cloud = read_point_cloud(tmp_path / "d.ply")
    np.testing.assert_allclose(cloud.points, desc.points.numpy(), atol=1e-6)
    assert cloud.colors is not None and cloud.colors.min() >= 0 and cloud.colors.max() <= 1
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_corrupted_model_file_is_refused(tmp_path: Path) -> None:
    from shared_utils.train.checkpoint import CheckpointError

    save_model(NPBGPP(preset("tiny").model), tmp_path / "model.pt")
    data = bytearray((tmp_path / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "model.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.pt"):
        load_model(tmp_path / "model.pt")


def test_cli_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("prepare", "train", "model", "render", "eval", "export", "demo"):
        assert command in text


def test_every_cli_option_has_help_text() -> None:
    from npbgpp.cli import _parser
    from shared_utils.testing import undocumented_options

    assert undocumented_options(_parser()) == []
    # `train` takes the config fields (their docstrings are the help); the tiny preset's
    # description names its real view size
    assert "48 px views" in PRESETS["tiny"][0]
    assert preset("tiny").data.image_size == 48


def test_prepare_needs_photos(tmp_path: Path) -> None:
    from npbgpp.data.prepare import prepare_scene
    from npbgpp.data.scene import SceneError

    with pytest.raises(SceneError, match="need at least 3 images"):
        prepare_scene(tmp_path, tmp_path / "out")
    for bad in [(100.0, 100.0, 32.0), (100.0, -1.0, 32.0, 32.0), (100.0, float("nan"), 32.0, 32.0)]:
        with pytest.raises(SceneError, match="intrinsics"):
            prepare_scene(tmp_path, tmp_path / "out", intrinsics=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_cli_eval_render_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from npbgpp.evaluate import model_scene
    from shared_utils.io.video import read_video

    torch.manual_seed(0)
    model = NPBGPP(preset("tiny").model)
    save_model(model, tmp_path / "m.pt")
    with torch.no_grad():
        desc = model_scene(model, _toy_scene(views=3, size=16))
    save_descriptors(tmp_path / "d.h5", desc)
    assert (
        main(
            [
                "eval",
                "--weights",
                str(tmp_path / "m.pt"),
                "--size",
                "16",
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "e.json").read_text())
    assert summary["time_to_render_s"] > 0 and np.isfinite(summary["psnr"])
    assert "NPBG++ (ours)" in capsys.readouterr().out
    args = ["render", "--weights", str(tmp_path / "m.pt"), "--descriptors", str(tmp_path / "d.h5")]
    assert main([*args, "--orbit", "3", "--size", "16", "--out", str(tmp_path / "o.mp4")]) == 0
    frames, _ = read_video(tmp_path / "o.mp4")
    assert frames.shape[0] == 3 and frames.shape[1:3] == (16, 16)
    assert (
        main(["export", "--descriptors", str(tmp_path / "d.h5"), "--out", str(tmp_path / "d.ply")])
        == 0
    )
    assert read_point_cloud(tmp_path / "d.ply").points.shape == (len(desc.points), 3)


def test_lr_schedules() -> None:
    from npbgpp.train import lr_scheduler

    def factors(schedule: str, steps: int) -> list[float]:
        opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
        sched = lr_scheduler(opt, schedule, steps)
        out = []
        for _ in range(steps + 1):
            out.append(opt.param_groups[0]["lr"] / 2e-3)
            opt.step()
            sched.step()
        return out

    assert factors("constant", 10) == [1.0] * 11
    cos = factors("cosine", 10)
    assert cos[0] == pytest.approx(1.0) and cos[5] == pytest.approx(0.55)
    assert cos[10] == pytest.approx(0.1)
    assert all(a > b for a, b in itertools.pairwise(cos))  # strictly decaying
    assert preset("tiny").lr_schedule == "cosine" and preset("paper").lr_schedule == "constant"
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        factors("step", 3)
