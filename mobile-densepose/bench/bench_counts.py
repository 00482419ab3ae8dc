"""Parameter counts and sizes of every preset vs the paper's Tables 4, 5 and 6.

Prints a markdown table and writes bench/results/counts.json. Usage: python bench/bench_counts.py
"""

from __future__ import annotations

import json
from pathlib import Path

from mobile_densepose.config import model_presets
from mobile_densepose.count import count_preset, format_table


def main() -> None:
    rows = [count_preset(name) for name in model_presets()]
    print(format_table(rows))
    out = Path(__file__).parent / "results" / "counts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            [
                {
                    "preset": r.preset,
                    "params": r.params,
                    "paper_M": r.paper_m,
                    "diff_pct": r.diff_pct,
                    "size_MB": r.size_mb,
                }
                for r in rows
            ],
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
