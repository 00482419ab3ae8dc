"""``ws.py demo``: the main job. Every member's demo end to end, then one HTML page.

For each member with ``demo = true`` in workspace.toml this runs
``<cli> demo --out runs/demo/<member>`` (the demo writes ``report.json`` there through
``shared_utils.report.ReportSection``). Members without a demo yet, and members whose
demo fails, still appear on the page with their status; a failure makes the command
exit non-zero but never stops the other members. The page itself is written by
``shared_utils.report.write_index`` inside the workspace environment
(``ci/wstool/index_page.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from wstool.bootstrap import Tools
from wstool.jobs import test_env
from wstool.manifest import Manifest, Member
from wstool.proc import run_step

INDEX_SCRIPT = Path(__file__).with_name("index_page.py")
"""The helper that runs inside the environment and calls ``write_index``."""


def _demo_member(manifest: Manifest, tools: Tools, member: Member, out: Path) -> str | None:
    """Run one demo; return None on success, else the error shown on the page."""
    if member.cli is None:
        return f"workspace.toml sets demo = true for {member.name!r} but it has no cli"
    exe = tools.bin(member.cli)
    if not exe.exists():
        return f"console script {exe} not installed (run python3 ci/ws.py bootstrap)"
    report = out / "report.json"
    report.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    argv = [str(exe), "demo", "--out", str(out.relative_to(manifest.root))]
    timeout = manifest.timeout_for(member)
    result = run_step(
        f"{member.cli} demo", argv, cwd=manifest.root, env=test_env(), timeout_s=timeout
    )
    if not result.ok:
        reason = (
            f"timed out after {timeout:.0f} s" if result.timed_out else f"exit {result.returncode}"
        )
        tail = "\n".join(result.output.splitlines()[-15:])
        return f"demo failed ({reason}): {result.command}\n{tail}"
    if not report.is_file():
        return f"demo exited 0 but wrote no {report.relative_to(manifest.root)}"
    return None


def run_demo(manifest: Manifest, tools: Tools, members: Sequence[str] = ()) -> int:
    """Run the demos and write ``runs/demo/index.html``; return the exit status."""
    demo_root = manifest.root / "runs" / "demo"
    demo_root.mkdir(parents=True, exist_ok=True)
    chosen = {manifest.member(name).name for name in members} or {m.name for m in manifest.members}
    sections: dict[str, dict[str, str]] = {}
    failed: list[str] = []
    for member in manifest.members:
        if member.cli is None and not member.demo:
            continue  # a library (shared-utils): nothing to demonstrate on its own
        out = demo_root / member.name
        if member.name not in chosen:
            done = (out / "report.json").is_file()
            sections[member.name] = (
                {"folder": str(out)} if done else {"error": "not run in this invocation"}
            )
            continue
        if not member.demo:
            print(f"--> {member.name}: no demo yet (workspace.toml has no demo = true)")
            sections[member.name] = {
                "pending": f"No demo yet: the {member.name} implementation is in progress "
                f"(workspace.toml sets demo = true once `{member.cli or member.name} demo` exists)."
            }
            continue
        print(f"======================== demo: {member.name} ========================", flush=True)
        error = _demo_member(manifest, tools, member, out)
        if error is None:
            sections[member.name] = {"folder": str(out)}
            print(f"--> {member.name}: demo PASS", flush=True)
        else:
            sections[member.name] = {"error": error}
            failed.append(member.name)
            print(f"--> {member.name}: demo FAIL: {error.splitlines()[0]}", flush=True)
    spec = demo_root / "sections.json"
    spec.write_text(json.dumps(sections, indent=2) + "\n", encoding="utf-8")
    title = f"{manifest.name}: demos"
    argv = [str(tools.python), str(INDEX_SCRIPT), str(demo_root), str(spec), title]
    page = run_step("write_index", argv, cwd=manifest.root, env=test_env(), timeout_s=300)
    if not page.ok:
        print("could not write the index page (shared_utils.report.write_index failed)")
        return 1
    print(f"demo page: {demo_root / 'index.html'}")
    if failed:
        print(f"demo failed for: {', '.join(failed)}")
        return 1
    return 0
