"""LPIPS column of `npbgpp eval` with weights files in the real formats (random values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torchvision.models import alexnet

from npbgpp.cli import main
from npbgpp.config import preset
from npbgpp.data.synthetic import make_scene
from npbgpp.evaluate import evaluate_scene, summarize, table3_rows
from npbgpp.model.pipeline import NPBGPP
from npbgpp.train import save_model
from shared_utils.metrics.lpips import LPIPS

ALEX_CHANNELS = (64, 192, 384, 256, 256)


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lpips")
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), folder / "alexnet-owt-7be5be79.pth")
    g = torch.Generator().manual_seed(1)
    heads = {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
        for i, c in enumerate(ALEX_CHANNELS)
    }
    torch.save(heads, folder / "alex.pth")
    return folder / "alexnet-owt-7be5be79.pth", folder / "alex.pth"


def test_scene_lpips_equals_the_metric_on_its_renders(lpips_files: tuple[Path, Path]) -> None:
    torch.manual_seed(0)
    model = NPBGPP(preset("tiny").model)
    inputs, held = make_scene(3, views=6, size=64, num_points=1500, heldout=2)
    assert held is not None
    metric = LPIPS("alex", backbone_weights=lpips_files[0], head_weights=lpips_files[1])
    result = evaluate_scene(model, inputs, held, lpips=metric)
    gt = torch.stack([held.image_tensor(i) for i in range(len(held))])
    with torch.no_grad():
        expected = float(metric(torch.stack(result.renders), gt).mean())
        expected_base = float(metric(torch.stack(result.baselines), gt).mean())
    assert result.lpips == pytest.approx(expected, rel=1e-5)
    assert result.baseline_lpips == pytest.approx(expected_base, rel=1e-5)
    summary = summarize([result])
    _, rows = table3_rows("embedded", summary)
    assert rows[1][4] == round(expected, 3) and rows[2][4] == round(expected_base, 3)
    # without weights: no LPIPS column values
    plain = summarize([evaluate_scene(model, inputs, held)])
    assert "lpips" not in plain and table3_rows("embedded", plain)[1][1][4] is None


def test_eval_command_writes_lpips_and_names_missing_files(
    tmp_path: Path, lpips_files: tuple[Path, Path]
) -> None:
    torch.manual_seed(0)
    save_model(NPBGPP(preset("tiny").model), tmp_path / "m.pt")
    base = ["eval", "--weights", str(tmp_path / "m.pt"), "--size", "64"]
    out = tmp_path / "e.json"
    lp = ["--lpips-backbone", str(lpips_files[0]), "--lpips-head", str(lpips_files[1])]
    assert main([*base, *lp, "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["lpips"] >= 0 and summary["baseline_lpips"] >= 0
    missing = tmp_path / "nowhere" / "alex.pth"
    with pytest.raises(FileNotFoundError, match=r"alex\.pth"):
        main([*base, "--lpips-backbone", str(lpips_files[0]), "--lpips-head", str(missing)])


def test_mask_iou_column_when_the_model_predicts_masks() -> None:
    from shared_utils.metrics.image import mask_iou

    torch.manual_seed(0)
    cfg = preset("tiny")
    cfg.model.predict_mask = True
    model = NPBGPP(cfg.model)
    inputs, held = make_scene(3, views=6, size=64, num_points=1500, heldout=2)
    assert held is not None and held.masks is not None
    result = evaluate_scene(model, inputs, held)
    desc = model.model_scene(
        inputs.point_tensor(), [(inputs.image_tensor(i), inputs.camera(i)) for i in range(6)]
    )
    expected = []
    with torch.no_grad():
        for i in range(len(held)):
            _, logit = model.render_with_mask(desc, held.camera(i))
            assert logit is not None
            expected.append(mask_iou(logit[0] > 0, held.mask_tensor(i)[0] > 0.5))
    assert result.mask_iou == pytest.approx(sum(expected) / len(expected))
    assert len(result.pred_masks) == len(held) and result.pred_masks[0].dtype == torch.bool
    assert summarize([result])["mask_iou"] == pytest.approx(result.mask_iou)
    plain = evaluate_scene(NPBGPP(preset("tiny").model), inputs, held)
    assert plain.mask_iou is None and "mask_iou" not in summarize([plain])
