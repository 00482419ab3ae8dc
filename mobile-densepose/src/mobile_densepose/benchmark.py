"""CPU latency of whole detectors and of their exported cores (eager, TorchScript, ONNX Runtime, int8).

Every model runs on the same random image at a stated size with a fixed workload: the
detector keeps exactly ``detections`` boxes (score threshold 0), so the DensePose head
always sees the same number of RoIs; the exported core gets the same number of RoIs.
Untrained weights: latency does not depend on the values.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mobile_densepose.config import model_preset
from mobile_densepose.count import num_params, state_dict_bytes
from mobile_densepose.export import ExportCore, export_onnx, file_mb
from mobile_densepose.model.rcnn import DensePoseRCNN


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Median wall time (ms) of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    # several warm-up calls: TorchScript's profiling executor re-optimises on the first ones
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def fixed_workload_model(
    preset: str, height: int, width: int, detections: int
) -> tuple[DensePoseRCNN, torch.Tensor]:
    """An untrained detector of ``preset`` (seed 0, eval mode) that keeps exactly
    ``detections`` boxes at this input size, and a random (3, height, width) image."""
    cfg = dataclasses.replace(
        model_preset(preset),
        min_size=min(height, width),
        max_size=max(height, width),
        detections_per_img=detections,
        score_thresh=0.0,
    )
    torch.manual_seed(0)
    return DensePoseRCNN(cfg).eval(), torch.rand(3, height, width)


def bench_preset(
    preset: str, height: int, width: int, repeats: int, detections: int = 10
) -> dict[str, Any]:
    """Latencies (ms) and sizes of one preset."""
    model, image = fixed_workload_model(preset, height, width, detections)
    row: dict[str, Any] = {
        "preset": preset,
        "params_M": num_params(model) / 1e6,
        "fp32_MB": state_dict_bytes(model) / 1e6,
    }
    with torch.no_grad():
        row["eager_ms"] = median_ms(lambda: model([image]), repeats)
        batch = model.transform([image])[0].tensors
        boxes = torch.tensor(
            [
                [0.0, 10.0 + 5 * i, 10.0 + 3 * i, 10.0 + width * 0.5, 20.0 + height * 0.6]
                for i in range(detections)
            ]
        )
        core = ExportCore(model).eval()
        traced = torch.jit.trace(core, (batch, boxes), check_trace=False)
        row["torchscript_core_ms"] = median_ms(lambda: traced(batch, boxes), repeats)
        row["eager_core_ms"] = median_ms(lambda: core(batch, boxes), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "core.onnx"
        try:
            export_onnx(model, path)
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = torch.get_num_threads()
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            feed = {"images": batch.numpy(), "rois": boxes.numpy()}
            row["onnxruntime_core_ms"] = median_ms(lambda: sess.run(None, feed), repeats)
            row["onnx_MB"] = file_mb(path)
        except Exception as exc:  # report, do not hide: the row says why
            row["onnxruntime_core_ms"] = f"failed: {type(exc).__name__}"
    try:
        from mobile_densepose.quantize import quantize_int8

        int8 = quantize_int8(model, [torch.rand(3, height, width) for _ in range(2)])
        with torch.no_grad():
            row["int8_eager_ms"] = median_ms(lambda: int8([image]), repeats)
        row["int8_MB"] = state_dict_bytes(int8) / 1e6
    except Exception as exc:
        row["int8_eager_ms"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    return row


def bench_latency(
    presets: list[str], height: int, width: int, repeats: int, threads: int
) -> list[dict[str, Any]]:
    """One row per preset, with the thread count and input size recorded."""
    torch.set_num_threads(threads)
    rows = [bench_preset(p, height, width, repeats) for p in presets]
    for r in rows:
        r.update(threads=threads, input=f"{height}x{width}")
    return rows


def format_bench(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows, plus the speed/size ratios of the first row vs the others."""
    keys = [
        "preset",
        "params_M",
        "fp32_MB",
        "int8_MB",
        "eager_ms",
        "eager_core_ms",
        "torchscript_core_ms",
        "onnxruntime_core_ms",
        "int8_eager_ms",
    ]

    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "-")) for k in keys) + " |" for r in rows]
    if len(rows) >= 2 and isinstance(rows[0]["eager_ms"], float):
        a = rows[0]
        for b in rows[1:]:
            lines.append(
                f"\n{b['preset']} / {a['preset']}: eager latency x{b['eager_ms'] / a['eager_ms']:.2f}, fp32 size x{b['fp32_MB'] / a['fp32_MB']:.1f}"
            )
    return "\n".join(lines)
