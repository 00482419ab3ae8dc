"""Eager whole-detector latency of Mobile (B) vs the R50-FPN baseline while one condition
changes at a time (threads, input size, detections), to see what moves their ratio.

Random weights, score threshold 0 so each run keeps exactly ``detections`` boxes; median
of 3 calls after 2 warm-up calls. Usage:
    python bench/latency_sweep.py
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch

from mobile_densepose.config import model_preset
from mobile_densepose.model.rcnn import DensePoseRCNN

CONDITIONS = [(1, 512, 512, 10), (2, 512, 512, 10), (1, 512, 512, 100), (1, 800, 1216, 10)]
"""(threads, height, width, detections) of each row."""


def eager_ms(preset: str, height: int, width: int, detections: int) -> float:
    """Median latency (ms) of one image through the whole eager detector."""
    cfg = dataclasses.replace(
        model_preset(preset),
        min_size=min(height, width),
        max_size=max(height, width),
        detections_per_img=detections,
        score_thresh=0.0,
    )
    torch.manual_seed(0)
    model = DensePoseRCNN(cfg).eval()
    image = torch.rand(3, height, width)
    times = []
    with torch.no_grad():
        for i in range(5):
            start = time.perf_counter()
            model([image])
            if i >= 2:
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    for threads, height, width, detections in CONDITIONS:
        torch.set_num_threads(threads)
        mobile = eager_ms("mobile_b", height, width, detections)
        base = eager_ms("baseline", height, width, detections)
        print(
            f"threads {threads}, input {height}x{width}, {detections} detections: "
            f"Mobile (B) {mobile:.0f} ms, baseline {base:.0f} ms, ratio {base / mobile:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
