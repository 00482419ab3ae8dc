"""Eager whole-detector latency of Mobile (B) vs the R50-FPN baseline while one condition
changes at a time (threads, input size, detections), to see what moves their ratio.

Random weights, score threshold 0 so each run keeps exactly ``detections`` boxes; median
of 3 calls after 2 warm-up calls. Usage:
    python bench/latency_sweep.py
"""

from __future__ import annotations

import torch

from mobile_densepose.benchmark import fixed_workload_model, median_ms

CONDITIONS = [(1, 512, 512, 10), (2, 512, 512, 10), (1, 512, 512, 100), (1, 800, 1216, 10)]
"""(threads, height, width, detections) of each row."""


def eager_ms(preset: str, height: int, width: int, detections: int) -> float:
    """Median latency (ms) of one image through the whole eager detector."""
    model, image = fixed_workload_model(preset, height, width, detections)
    with torch.no_grad():
        return median_ms(lambda: model([image]), repeats=3, warmup=2)


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
