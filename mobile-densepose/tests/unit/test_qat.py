"""BatchNorm folding is exact; QAT trains through fake quantisation (all four islands),
resumes exactly and converts to the same int8 model from its run folder."""

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from mobile_densepose.config import train_presets
from mobile_densepose.data.dataset import DensePoseDataset, collate
from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic
from mobile_densepose.infer import load_run
from mobile_densepose.model.backbone import TimmBackbone
from mobile_densepose.qat import (
    QATConfig,
    convert_qat,
    finetune_qat,
    load_qat_run,
    prepare_qat,
    qat_presets,
    set_observers,
)
from mobile_densepose.quantize import fold_batchnorm, islands_of
from mobile_densepose.train import detector_loss, train
from shared_utils.train.checkpoint import latest_checkpoint, load_checkpoint


def _randomise_batchnorm_statistics(module: nn.Module) -> int:
    g = torch.Generator().manual_seed(0)
    n = 0
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
            n += 1
    return n


@pytest.mark.parametrize("norm", ["bn", "frozen_bn"])
def test_folding_batchnorm_into_convolutions_is_exact(norm: str) -> None:
    net = TimmBackbone("spnasnet_100", "bn", "expansion").eval()
    n_bn = _randomise_batchnorm_statistics(net)
    if norm == "frozen_bn":
        from timm.layers import freeze_batch_norm_2d

        net = freeze_batch_norm_2d(net)
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = net(x)
        folded = fold_batchnorm(net)
        after = net(x)
    # every BatchNorm of the SPNAS backbone directly follows its convolution
    assert folded == n_bn == 63
    assert not any("BatchNorm" in type(m).__name__ for m in net.modules())
    for a, b in zip(before, after, strict=True):  # float32 rounding through 60 layers only
        assert float((a - b).norm() / a.norm()) < 1e-5


def _float_run(root: Path) -> Path:
    data = root / "data"
    make_synthetic(data, SyntheticConfig(num_images=10, height=64, width=80, n_points=40, seed=3))
    cfg = train_presets()["tiny"][1]
    cfg = dataclasses.replace(cfg, data=str(data), run_dir=str(root / "float"), val_fraction=0.2)
    cfg.model = dataclasses.replace(cfg.model, min_size=64, max_size=80)
    cfg.trainer = dataclasses.replace(cfg.trainer, steps=2, batch_size=2, checkpoint_every=2)
    train(cfg)
    return root / "float"


def _qat_cfg(float_run: Path, run_dir: Path) -> QATConfig:
    cfg = dataclasses.replace(
        qat_presets()["tiny"][1],
        float_run=str(float_run),
        run_dir=str(run_dir),
        lr=2e-3,
        observer_steps=2,
        eval_max_images=2,
    )
    cfg.trainer = dataclasses.replace(
        cfg.trainer, steps=4, batch_size=2, log_every=1, checkpoint_every=2
    )
    return cfg


def test_qat_lowers_the_loss_resumes_exactly_and_reloads(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    float_run = _float_run(tmp_path)
    # the fake-quantised model's loss on a fixed training batch, before and after QAT
    fcfg_data = tmp_path / "data"
    data = DensePoseDataset(fcfg_data, ids=None)
    batch = collate([data[i] for i in range(4)])
    qat = prepare_qat(load_run(float_run), data[0][0])
    torch.manual_seed(0)
    loss_before = float(detector_loss(qat, batch)[0])

    straight = _qat_cfg(float_run, tmp_path / "qat")
    final = finetune_qat(straight)
    assert final["step"] == 4
    assert "eval/int8_dp_AP" in final and "eval/int8_box_AP" in final

    # interrupted after 1 step (before the observers freeze at 2), then resumed
    sliced = _qat_cfg(float_run, tmp_path / "qat_sliced")
    assert finetune_qat(sliced, stop_at=1)["step"] == 1
    finetune_qat(sliced)
    a = load_checkpoint(latest_checkpoint(tmp_path / "qat" / "checkpoints"))["model"]
    b = load_checkpoint(latest_checkpoint(tmp_path / "qat_sliced" / "checkpoints"))["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k

    trained = prepare_qat(load_run(float_run), data[0][0])
    trained.load_state_dict(a)
    torch.manual_seed(0)
    loss_after = float(detector_loss(trained, batch)[0])
    assert loss_after < 0.9 * loss_before, (loss_before, loss_after)

    # the observers froze after step 2: the last checkpoint keeps step 2's ranges
    mid = load_checkpoint(tmp_path / "qat" / "checkpoints" / "step_00000002.pt")["model"]
    scales = [k for k in a if k.endswith("activation_post_process_0.scale")]
    assert scales and all(torch.equal(a[k], mid[k]) for k in scales)

    # the run folder converts to the same int8 model as converting in memory: every
    # island (pyramid, RPN head, box head, DensePose head) gives the same outputs
    int8_direct = convert_qat(trained)
    int8_loaded = load_qat_run(tmp_path / "qat")
    for island in islands_of(int8_loaded):
        assert any(".quantized" in type(m).__module__ for m in island.modules())
    x = int8_direct.transform([data[0][0]])[0].tensors
    rois = torch.tensor([[0.0, 4.0, 4.0, 60.0, 40.0], [0.0, 10.0, 2.0, 50.0, 60.0]])
    with torch.no_grad():
        feats = int8_direct.features(x)
        outs = []
        for m in (int8_direct, int8_loaded):
            objectness, deltas = m.rpn.head(list(feats.values()))
            maps = m.densepose(feats, rois)
            outs.append(
                [*m.features(x).values(), *objectness, *deltas, *m.boxes(feats, rois), *maps]
            )
    assert len(outs[0]) == 5 + 10 + 2 + 4
    for p, q in zip(*outs, strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_observers_follow_the_step() -> None:
    from mobile_densepose.config import model_preset
    from mobile_densepose.model.rcnn import DensePoseRCNN

    torch.manual_seed(0)
    model = prepare_qat(DensePoseRCNN(model_preset("tiny")))
    islands = islands_of(model)
    assert all(any(hasattr(m, "observer_enabled") for m in i.modules()) for i in islands)
    fq = [m for m in model.modules() if hasattr(m, "observer_enabled")]
    set_observers(model, 4, 5)
    assert all(int(m.observer_enabled[0]) == 1 for m in fq)
    set_observers(model, 5, 5)
    assert all(int(m.observer_enabled[0]) == 0 for m in fq)
    set_observers(model, 10_000, 0)  # 0: never frozen
    assert all(int(m.observer_enabled[0]) == 1 for m in fq)


def test_qat_without_a_float_run_says_what_is_missing(tmp_path: Path) -> None:
    cfg = QATConfig(float_run=str(tmp_path / "nope"), run_dir=str(tmp_path / "q"))
    with pytest.raises(FileNotFoundError, match=r"nope.*config\.yaml.*float-run"):
        finetune_qat(cfg)
    with pytest.raises(FileNotFoundError, match="not a QAT run folder"):
        load_qat_run(tmp_path)
