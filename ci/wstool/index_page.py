"""Write the demo index page with ``shared_utils.report.write_index``.

Runs inside the workspace environment (``.venv/bin/python``), called by ``ws.py demo``:

    python ci/wstool/index_page.py DEMO_ROOT SECTIONS_JSON TITLE

SECTIONS_JSON maps member -> its section folder (holding report.json) or the error /
status text shown instead ("no demo yet", the failing command and its last lines).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Entry point; returns the exit status."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    demo_root, spec, title = Path(argv[0]), Path(argv[1]), argv[2]
    raw = json.loads(spec.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        print(f"{spec}: expected a JSON object member -> folder or message", file=sys.stderr)
        return 2
    from shared_utils.report import write_index

    sections: dict[str, Path | str] = {}
    for member, value in raw.items():
        folder = Path(value)
        sections[member] = folder if (folder / "report.json").is_file() else str(value)
    page = write_index(demo_root, sections, title=title)
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
