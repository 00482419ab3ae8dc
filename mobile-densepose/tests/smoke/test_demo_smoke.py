"""The demo's own run, asserting its DensePose bar: synthetic data -> untrained eval ->
train Mobile (B) tiny -> eval -> export -> int8 PTQ -> inference.

:func:`mobile_densepose.demo.run_demo` runs with the demo's defaults (96 images of
128x160, 800 training steps of batch 4 with its schedule, the same seed), less the
parts that other tests cover and that add nothing to the bar: the QAT fine-tune
(``tests/unit/test_qat.py``) and the preset parameter counts (``tests/unit/test_count.py``).
So the numbers asserted here are the demo's numbers at this thread count.

Bars, each with room below what was measured at 1 thread and at 2 threads (CPU training
is not bit-reproducible across thread counts, so the two runs train different models;
numbers also in the README, "Tests"):

* the demo's DensePose bar: trained DensePose AP >= untrained + 1 (``densepose_bar``),
  and trained DensePose AP >= MIN_DP_AP (3.0) on the 19 held-out images: measured
  0.0 -> 9.1 (1 thread) and 0.0 -> 10.6 (2 threads);
* box AP >= MIN_BOX_AP (25) and >= untrained + 20: measured 1.8 -> 43.3 / 45.0;
* the training loss falls below half of its first logged value (step 25): measured
  27.2 -> 5.7 / 27.8 -> 5.7;
* the DensePose head on the held-out ground-truth boxes (detection bypassed,
  :mod:`mobile_densepose.eval.gt_box_points`) picks the annotated part at >= 0.4 of the
  points (chance 1/25), >= 0.1 above the majority-part rate (0.238) and >= 0.3 above the
  untrained head (0.047), with a mean per-part recall >= 0.25 (a head that answers the
  most common part everywhere has 1/24): measured 0.535 / 0.529, recall 0.402 / 0.387;
* the exported ONNX core matches eager (onnxruntime, max |diff| 2.3e-5 / 3.1e-5), the
  int8 model is evaluated, and the inference overlay of a held-out image is a valid IUV
  image with detections.

Wall time: 200 s at 1 thread (training 184 s); 148 s at 2 threads in a clean-clone CI
run on an idle 2-core machine.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from mobile_densepose.config import TrainConfig
from mobile_densepose.demo import DemoConfig, densepose_bar, run_demo
from mobile_densepose.eval.gt_box_points import gt_box_point_scores
from mobile_densepose.infer import iuv_image, load_run
from mobile_densepose.model.rcnn import DensePoseRCNN
from mobile_densepose.train import make_datasets
from shared_utils.config import load_config

THREADS = 2
"""CI's runners have 2 cores; the bars below hold at 1 and 2 threads (README, "Tests")."""
MIN_DP_AP = 3.0
"""Minimum trained DensePose AP (GPS, AP points) on the held-out images."""
MIN_BOX_AP = 25.0
"""Minimum trained box AP."""


def run_and_check(tmp_path: Path, threads: int) -> dict[str, float]:
    """The demo run and every assertion of this test, at ``threads`` torch threads."""
    torch.set_num_threads(threads)
    cfg = dataclasses.replace(DemoConfig(), qat_steps=0, count_presets=())
    head = run_demo(tmp_path, cfg)
    print(json.dumps(head, indent=1))
    assert head["bar_met"] and densepose_bar(head["untrained_dp_AP"], head["trained_dp_AP"])
    assert head["trained_dp_AP"] >= MIN_DP_AP, head
    assert head["trained_box_AP"] >= MIN_BOX_AP, head
    assert head["trained_box_AP"] >= head["untrained_box_AP"] + 20, head

    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    losses = [h["train/loss"] for h in history if "train/loss" in h]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0], losses

    # the head on ground-truth boxes, trained vs untrained (same seed as the demo's)
    tcfg = load_config(TrainConfig, tmp_path / "run" / "config.yaml")
    _, val, _ = make_datasets(tcfg)
    assert val is not None
    model = load_run(tmp_path / "run")
    torch.manual_seed(cfg.seed)
    before = gt_box_point_scores(DensePoseRCNN(tcfg.model), val)
    after = gt_box_point_scores(model, val)
    print({"gt_box_points_before": before, "gt_box_points_after": after})
    assert before["n_points"] == after["n_points"] > 0
    assert after["part_accuracy"] >= 0.4, after
    assert after["part_accuracy"] >= after["majority_rate"] + 0.1, after
    assert after["mean_part_recall"] >= 0.25, after
    assert after["part_accuracy"] >= before["part_accuracy"] + 0.3, (before, after)

    # export and int8: onnxruntime matches eager; the int8 model was evaluated
    assert head["onnx_max_abs_diff"] < 1e-4, head
    assert np.isfinite(head["int8_dp_AP"]) and np.isfinite(head["int8_mean_GPS"]), head
    assert (tmp_path / "core.onnx").exists() and (tmp_path / "int8_state_dict.pt").exists()

    # inference overlay on a held-out image
    iuv, dets = iuv_image(model, val[0][0].permute(1, 2, 0).numpy(), score_thresh=0.5)
    assert iuv.shape == (cfg.height, cfg.width, 3) and dets[0]["boxes"].shape[0] > 0
    assert set(np.unique(iuv[..., 0]).astype(int).tolist()) <= set(range(25))
    assert (iuv[..., 0] > 0).mean() > 0.02  # some body pixels are labelled
    assert (tmp_path / "synthetic_overlay.png").exists()
    return head


def test_demo_densepose_bar(tmp_path: Path) -> None:
    run_and_check(tmp_path, THREADS)
