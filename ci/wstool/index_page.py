"""Write the demo index page with ``shared_utils.report.write_index``.

Runs inside the workspace environment (``.venv/bin/python``), called by ``ws.py demo``:

    python ci/wstool/index_page.py DEMO_ROOT SECTIONS_JSON TITLE

SECTIONS_JSON maps member -> {"folder": section folder holding report.json}, or
{"error": why its demo failed (the command and its last lines)}, or {"pending": why it
has no demo yet}. A pending member gets a one-paragraph section saying so (shown as a
listed member, not as a failure); errors show as failed.
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
    from shared_utils.report import ReportSection, write_index

    sections: dict[str, Path | str] = {}
    for member, entry in raw.items():
        if not isinstance(entry, dict) or len(entry) != 1:
            print(f"{spec}: {member!r} must map to one of folder/error/pending", file=sys.stderr)
            return 2
        ((key, value),) = entry.items()
        if key == "folder":
            sections[member] = Path(value)
        elif key == "pending":
            section = ReportSection(demo_root / member, f"{member}: no demo yet", member)
            section.text(str(value))
            section.save()
            sections[member] = demo_root / member
        else:
            sections[member] = str(value)
    page = write_index(demo_root, sections, title=title)
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
