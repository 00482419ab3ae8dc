"""The paper's Table 7 layout from per-fit results.

Table 7 of the paper (H3DS, single input view) has one row per method and, for the face
region and for the full head, one column per input view (F frontal, L left, R right) and
their mean; every cell is a one-way Chamfer distance in mm after ICP. Each fit here is
scored by ``multineus eval ... --method NAME --view F --out RESULT.json``, which writes
one result file::

    {"method": "Multi-NeuS", "view": "F", "scene": "3b5a2eb92a501d54",
     "face_mm": 1.9, "head_mm": 13.0}

:func:`build_table` averages the results of each (method, view) cell over scenes; the
``mean`` column is the mean of a row's view cells that exist (the paper's mean over
F / L / R), so a row without any fit for a view shows "-" there and still has a mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

VIEWS = ("F", "L", "R")
"""Input views of Table 7, in its column order: frontal, left, right."""
METRICS = ("face_mm", "head_mm")
"""The two column groups: face region and full head Chamfer (mm)."""
PAPER_ROWS: dict[str, dict[str, dict[str, float | None]]] = {
    "H3D-Net 3-view (paper)": {
        "face_mm": {"F": None, "L": None, "R": None, "mean": 1.34},
        "head_mm": {"F": None, "L": None, "R": None, "mean": 10.53},
    },
    "H3D-Net 1-view (paper)": {
        "face_mm": {"F": 1.82, "L": 1.83, "R": 1.91, "mean": 1.85},
        "head_mm": {"F": 13.83, "L": 13.01, "R": 12.51, "mean": 13.12},
    },
    "Multi-NeuS 1-view (paper)": {
        "face_mm": {"F": 1.89, "L": 1.77, "R": 1.86, "mean": 1.84},
        "head_mm": {"F": 13.00, "L": 13.27, "R": 11.95, "mean": 12.74},
    },
}
"""The rows printed in the paper's Table 7 (the 3-view row reports only means)."""


class ResultFormatError(ValueError):
    """A per-fit result file is missing a field or holds a bad value."""


@dataclass(frozen=True)
class FitResult:
    """One fit scored against its ground truth."""

    method: str
    """Row of the table."""
    view: str
    """Input view the fit used: F, L or R."""
    face_mm: float
    """One-way Chamfer of the face region (mm)."""
    head_mm: float
    """One-way Chamfer of the full head (mm)."""
    scene: str = ""
    """Which scene (informative; cells average over scenes)."""


def result_record(
    method: str, view: str, face_mm: float, head_mm: float, scene: str = ""
) -> dict[str, object]:
    """The JSON object of one fit's result (what ``eval --out`` writes)."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return {"method": method, "view": view, "scene": scene, "face_mm": face_mm, "head_mm": head_mm}


def read_result(path: str | Path) -> FitResult:
    """Read one result file.

    Raises:
        ResultFormatError: naming the file and the missing or bad field.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultFormatError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ResultFormatError(f"{path}: expected a JSON object, got {type(data).__name__}")
    for key in ("method", "view", *METRICS):
        if key not in data:
            raise ResultFormatError(f"{path}: missing field {key!r}")
    if not isinstance(data["method"], str) or not data["method"]:
        raise ResultFormatError(f"{path}: field 'method' must be a non-empty string")
    if data["view"] not in VIEWS:
        raise ResultFormatError(
            f"{path}: field 'view' must be one of {VIEWS}, got {data['view']!r}"
        )
    values = {}
    for key in METRICS:
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise ResultFormatError(
                f"{path}: field {key!r} must be a finite number >= 0, got {v!r}"
            )
        values[key] = float(v)
    return FitResult(data["method"], data["view"], scene=str(data.get("scene", "")), **values)


def build_table(
    results: Iterable[FitResult], *, paper_rows: bool = False
) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{method: {"face_mm" | "head_mm": {"F", "L", "R", "mean": value or None}}}``.

    Rows keep the order methods first appear in (after the paper's rows when
    ``paper_rows``); a cell is the mean over its results, None where there is none.
    """
    cells: dict[str, dict[str, dict[str, list[float]]]] = {}
    for r in results:
        row = cells.setdefault(r.method, {m: {v: [] for v in VIEWS} for m in METRICS})
        for m in METRICS:
            row[m][r.view].append(getattr(r, m))
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    if paper_rows:
        table.update({k: {m: dict(c) for m, c in v.items()} for k, v in PAPER_ROWS.items()})
    for method, row in cells.items():
        table[method] = {}
        for m in METRICS:
            per_view: dict[str, float | None] = {
                v: (sum(xs) / len(xs) if xs else None) for v, xs in row[m].items()
            }
            present = [x for x in per_view.values() if x is not None]
            per_view["mean"] = sum(present) / len(present)  # every row has >= 1 result
            table[method][m] = per_view
    return table


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_markdown(table: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """Markdown in the paper's layout: method | face F L R mean | head F L R mean."""
    cols = [*VIEWS, "mean"]
    head = ["method", *(f"face {c}" for c in cols), *(f"head {c}" for c in cols)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, row in table.items():
        cells = [_cell(row[m][c]) for m in METRICS for c in cols]
        lines.append("| " + " | ".join([method, *cells]) + " |")
    return "\n".join(lines) + "\n"


def write_table(
    table: dict[str, dict[str, dict[str, float | None]]], stem: str | Path
) -> tuple[Path, Path]:
    """Write ``STEM.md`` and ``STEM.json``; returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    md.write_text(table_markdown(table))
    js.write_text(json.dumps(table, indent=2) + "\n")
    return md, js


def table_from_files(
    paths: Sequence[str | Path], *, paper_rows: bool = False
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Read result files (a folder stands for every ``*.json`` in it) into the table.

    Raises:
        ResultFormatError: a bad file (named), or no result file at all.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise ResultFormatError(f"{p}: no such result file or folder")
    if not files:
        raise ResultFormatError(f"no result files (*.json) in {', '.join(map(str, paths))}")
    return build_table([read_result(f) for f in files], paper_rows=paper_rows)
