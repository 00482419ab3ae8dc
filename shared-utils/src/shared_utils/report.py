"""The demo report: per-member sections saved as JSON, gathered into one static HTML page.

Each member's demo fills a ``ReportSection`` (text, images, videos, tables, metrics)
and saves it as ``out_dir/report.json``; media files live under ``out_dir`` and are
referenced by paths relative to it. ``write_index`` then reads the sections and writes
``demo_root/index.html``: one self-contained page (inline CSS, no external assets)
with a contents list, a section per member, and a visible "not run / failed" block
for members whose section is missing or failed. All text is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from shared_utils.io.images import write_image
from shared_utils.io.video import write_video

REPORT_FILE = "report.json"
"""Name of a section's JSON file inside its folder."""
FORMAT_VERSION = 1
"""Version of the report.json layout."""

Cell = str | int | float | bool | None


class ReportFormatError(ValueError):
    """A report.json is missing, unreadable or malformed (names the file and field)."""


class ReportSection:
    """One member's part of the demo report, accumulated in order and saved as JSON.

    Items are plain dicts with a ``kind`` among text, image, video, table, metrics.
    """

    def __init__(self, out_dir: str | os.PathLike[str], title: str, member: str) -> None:
        """Args:
        out_dir: folder of this section (created); media files are written here.
        title: heading shown on the page.
        member: member name (e.g. "npbgpp"), used as the page anchor.
        """
        self.out_dir = Path(out_dir)
        self.title = str(title)
        self.member = str(member)
        self.items: list[dict[str, Any]] = []
        self.status = "ok"
        self.error: str | None = None
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def text(self, text: str) -> None:
        """Add a paragraph (plain text; blank lines separate paragraphs)."""
        self.items.append({"kind": "text", "text": str(text)})

    def image(
        self,
        image: str | os.PathLike[str] | np.ndarray,
        caption: str = "",
        *,
        name: str | None = None,
    ) -> Path:
        """Add an image.

        Args:
            image: a file path (copied under out_dir unless already there) or an array
                (H, W), (H, W, 3) or (H, W, 4), float in [0, 1] or uint8, saved as PNG.
            caption: shown under the image.
            name: file name for an array (default ``image_NNN.png``).

        Returns:
            The image's path under out_dir.
        """
        if isinstance(image, np.ndarray):
            path = self.out_dir / (name or f"image_{self._count('image'):03d}.png")
            write_image(path, image)
        else:
            path = self._adopt(Path(image), "image")
        self.items.append({"kind": "image", "path": self._rel(path), "caption": str(caption)})
        return path

    def video(
        self,
        video: str | os.PathLike[str] | np.ndarray | Sequence[np.ndarray],
        caption: str = "",
        *,
        fps: float = 10.0,
        name: str | None = None,
    ) -> Path:
        """Add a video.

        Args:
            video: an .mp4 path (copied under out_dir unless already there) or frames
                (T, H, W, 3) float in [0, 1] or uint8, encoded as H.264 mp4 (yuv420p,
                odd sizes padded by one edge pixel) with imageio-ffmpeg.
            caption: shown under the video.
            fps: frame rate for frames.
            name: file name for frames (default ``video_NNN.mp4``).

        Returns:
            The video's path under out_dir.
        """
        if isinstance(video, (str, os.PathLike)):
            path = self._adopt(Path(video), "video")
        else:
            path = self.out_dir / (name or f"video_{self._count('video'):03d}.mp4")
            write_video(path, np.stack([np.asarray(f) for f in video]), fps)
        self.items.append({"kind": "video", "path": self._rel(path), "caption": str(caption)})
        return path

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = ""
    ) -> None:
        """Add a table; every row must have ``len(headers)`` cells (str, int, float, bool, None)."""
        heads = [str(h) for h in headers]
        clean = []
        for r, row in enumerate(rows):
            cells = [_cell(c, f"table row {r}") for c in row]
            if len(cells) != len(heads):
                raise ValueError(
                    f"ReportSection.table: row {r} has {len(cells)} cells, headers have {len(heads)}"
                )
            clean.append(cells)
        self.items.append(
            {"kind": "table", "headers": heads, "rows": clean, "caption": str(caption)}
        )

    def metrics(self, metrics: Mapping[str, Any], caption: str = "") -> None:
        """Add metrics: {name: value} (a two-column table) or {row: {column: value}}."""
        clean: dict[str, Any] = {}
        for key, value in metrics.items():
            if isinstance(value, Mapping):
                clean[str(key)] = {str(k): _cell(v, f"metrics[{key!r}]") for k, v in value.items()}
            else:
                clean[str(key)] = _cell(value, f"metrics[{key!r}]")
        self.items.append({"kind": "metrics", "metrics": clean, "caption": str(caption)})

    def fail(self, reason: str) -> None:
        """Mark the section as failed; the page shows the reason above any items."""
        self.status = "failed"
        self.error = str(reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "title": self.title,
            "member": self.member,
            "status": self.status,
            "error": self.error,
            "items": self.items,
        }

    def save(self) -> Path:
        """Write ``out_dir/report.json`` (atomically) and return its path."""
        path = self.out_dir / REPORT_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def _count(self, kind: str) -> int:
        return sum(1 for item in self.items if item["kind"] == kind)

    def _rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.out_dir.resolve()).as_posix()

    def _adopt(self, path: Path, kind: str) -> Path:
        """A file under out_dir as is; anything else copied in (name made unique)."""
        if not path.is_file():
            raise FileNotFoundError(f"ReportSection.{kind}: no such file {path}")
        try:
            path.resolve().relative_to(self.out_dir.resolve())
            return path
        except ValueError:
            pass
        target = self.out_dir / path.name
        k = 1
        while target.exists():
            target = self.out_dir / f"{path.stem}_{k}{path.suffix}"
            k += 1
        shutil.copyfile(path, target)
        return target


def load_section(out_dir: str | os.PathLike[str]) -> ReportSection:
    """Read ``out_dir/report.json`` back into a ReportSection (raises ReportFormatError)."""
    path = Path(out_dir) / REPORT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportFormatError(f"{path}: file not found") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportFormatError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ReportFormatError(f"{path}: top level must be an object")
    for field, kind in (("title", str), ("member", str), ("items", list), ("status", str)):
        if not isinstance(data.get(field), kind):
            raise ReportFormatError(f"{path}: field {field!r} missing or not a {kind.__name__}")
    section = ReportSection.__new__(ReportSection)
    section.out_dir = Path(out_dir)
    section.title = data["title"]
    section.member = data["member"]
    section.status = data["status"]
    section.error = data.get("error")
    needed = {
        "text": ("text",),
        "image": ("path", "caption"),
        "video": ("path", "caption"),
        "table": ("headers", "rows", "caption"),
        "metrics": ("metrics", "caption"),
    }
    for k, item in enumerate(data["items"]):
        if not isinstance(item, dict) or item.get("kind") not in needed:
            raise ReportFormatError(f"{path}: items[{k}].kind missing or unknown")
        for field in needed[item["kind"]]:
            if field not in item:
                raise ReportFormatError(f"{path}: items[{k}].{field} missing ({item['kind']} item)")
    section.items = data["items"]
    return section


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1.5em}
h1{border-bottom:2px solid #444;padding-bottom:.3em}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em 1.5em;margin:1.5em 0}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figure img,figure video{max-width:100%;border:1px solid #ccc;image-rendering:pixelated}
figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th{background:#eee}
td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;font-size:.9em;color:#555;padding-top:.3em}
.failed{background:#fde8e8;border:1px solid #d33;color:#900;padding:.8em;border-radius:4px;white-space:pre-wrap}
.status-failed{color:#c00}.status-ok{color:#080}
"""


def write_index(
    demo_root: str | os.PathLike[str],
    sections: Mapping[str, str | os.PathLike[str]] | Sequence[os.PathLike[str]],
    *,
    title: str = "Demo report",
) -> Path:
    """Write ``demo_root/index.html`` gathering member sections.

    Args:
        demo_root: folder of the page (created).
        sections: either {member: section folder (a Path) or failure reason (a str)},
            or a list of section folders (members named by their report.json). A folder
            without a readable report.json shows as "not run".
        title: page title.

    Returns:
        The path of index.html.
    """
    root = Path(demo_root)
    root.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, ReportSection | None, str | None]] = []
    if isinstance(sections, Mapping):
        for member, value in sections.items():
            if isinstance(value, str):
                entries.append((str(member), None, f"failed: {value}"))
            else:
                entries.append(_load_entry(str(member), Path(value)))
    else:
        for value in sections:
            entries.append(_load_entry(None, Path(value)))
    body = [f"<h1>{_esc(title)}</h1>", "<nav><h2>Contents</h2><ul>"]
    for member, section, error in entries:
        label = section.title if section is not None else member
        state = "failed" if (error or (section and section.status != "ok")) else "ok"
        body.append(
            f'<li><a href="#{_anchor(member)}">{_esc(label)}</a> '
            f'<span class="status-{state}">({_esc(member)}: {state})</span></li>'
        )
    body.append("</ul></nav>")
    for member, section, error in entries:
        body.append(_section_html(member, section, error, root))
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )
    path = root / "index.html"
    tmp = path.with_name("index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _load_entry(member: str | None, folder: Path) -> tuple[str, ReportSection | None, str | None]:
    """(member, section, error); the member defaults to the one named in report.json."""
    if not (folder / REPORT_FILE).exists():
        return member or folder.name, None, f"not run: no {REPORT_FILE} in {folder}"
    try:
        section = load_section(folder)
    except ReportFormatError as exc:
        return member or folder.name, None, f"failed: unreadable report ({exc})"
    return member or section.member, section, None


def _section_html(member: str, section: ReportSection | None, error: str | None, root: Path) -> str:
    title = section.title if section is not None else member
    out = [f'<section id="{_anchor(member)}">', f"<h2>{_esc(title)}</h2>"]
    if error is not None:
        out.append(f'<div class="failed">{_esc(error)}</div>')
    if section is not None and section.status != "ok":
        out.append(f'<div class="failed">failed: {_esc(section.error or "no reason given")}</div>')
    if section is not None:
        for item in section.items:
            out.append(_item_html(item, section.out_dir, root))
    out.append("</section>")
    return "\n".join(out)


def _item_html(item: dict[str, Any], folder: Path, root: Path) -> str:
    kind = item["kind"]
    if kind == "text":
        paras = [p for p in str(item["text"]).split("\n\n") if p.strip()]
        return "\n".join(f"<p>{_esc(p)}</p>" for p in paras)
    caption = str(item.get("caption", ""))
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    if kind in ("image", "video"):
        src = _href(folder / item["path"], root)
        if kind == "image":
            media = f'<img src="{src}" alt="{_esc(caption)}" loading="lazy">'
        else:
            media = f'<video controls loop muted src="{src}"></video>'
        return f"<figure>{media}{cap}</figure>"
    if kind == "table":
        return _table_html(item["headers"], item["rows"], caption)
    metrics = item["metrics"]
    nested = [v for v in metrics.values() if isinstance(v, dict)]
    if nested:
        columns: list[str] = []
        for sub in nested:
            columns += [c for c in sub if c not in columns]
        rows = [
            [key, *[(val.get(c) if isinstance(val, dict) else None) for c in columns]]
            for key, val in metrics.items()
        ]
        return _table_html(["", *columns], rows, caption)
    return _table_html(["metric", "value"], [[k, v] for k, v in metrics.items()], caption)


def _table_html(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str) -> str:
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{_esc(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{_esc(str(h))}</th>" for h in headers) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_esc(_fmt(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value)


def _cell(value: Any, where: str) -> Cell:
    """A JSON-safe table cell: numpy scalars become Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(
        f"ReportSection: {where}: cells must be str, int, float, bool or None, got {type(value).__name__}"
    )


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _anchor(member: str) -> str:
    return "member-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in member)


def _href(path: Path, root: Path) -> str:
    rel = os.path.relpath(path.resolve(), root.resolve())
    return _esc(quote(Path(rel).as_posix()))
