"""CPU latency of Mobile Parsing R-CNN (B) vs the DensePose R-CNN R50-FPN baseline.

Prints a markdown table and writes bench/results/latency.json. Usage:
    python bench/bench_latency.py [--height 512 --width 512 --repeats 5 --threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mobile_densepose.benchmark import bench_latency, format_bench


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="*", default=["mobile_b", "baseline"])
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = bench_latency(args.presets, args.height, args.width, args.repeats, args.threads)
    print(format_bench(rows))
    out = Path(__file__).parent / "results" / "latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
