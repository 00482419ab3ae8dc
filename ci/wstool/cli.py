"""Command line of ``python3 ci/ws.py``: bootstrap, check, test, demo, release, workflow.

Exit status: 0 all good, 1 a job/check/demo failed, 2 the tool could not run
(bad manifest, bad arguments, bootstrap failure).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wstool import junit, workflow
from wstool.bootstrap import BootstrapError, Tools, bootstrap, existing_tools
from wstool.check import check_workspace
from wstool.demo import run_demo
from wstool.jobs import JobContext, test_env
from wstool.manifest import Manifest, ManifestError, load_manifest
from wstool.matrix import JobContextFactory, render_table, run_matrix, select
from wstool.release import ReleaseError, make_release


def _tools(root: Path, no_bootstrap: bool) -> Tools:
    if no_bootstrap:
        return existing_tools(root)
    return bootstrap(root)[0]


def cmd_check(manifest: Manifest) -> int:
    """Print consistency problems; 0 when there are none."""
    problems = check_workspace(manifest)
    for problem in problems:
        print(f"check: {problem}")
    print(f"check: {len(problems)} problem(s)" if problems else "check: workspace consistent")
    return 1 if problems else 0


def cmd_test(manifest: Manifest, args: argparse.Namespace) -> int:
    """check, bootstrap, then the selected matrix cells; prints the table and totals."""
    start = time.monotonic()
    root = manifest.root
    selection = select(manifest, args.member, args.job)
    junit_dir = root / ".ci-work" / "junit"
    junit_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    t0 = time.monotonic()
    problems = check_workspace(manifest)
    for problem in problems:
        print(f"check: {problem}")
    print(f"check: {len(problems)} problem(s)" if problems else "check: workspace consistent")
    check_s = time.monotonic() - t0
    files.append(junit_dir / "check.xml")
    junit.write_single(
        files[-1],
        "check",
        "workspace consistency",
        error="\n".join(problems) or None,
        seconds=check_s,
    )

    t0 = time.monotonic()
    files.append(junit_dir / "bootstrap.xml")
    try:
        tools = _tools(root, args.no_bootstrap)
    except BootstrapError as exc:
        print(f"bootstrap failed: {exc}")
        junit.write_single(
            files[-1], "bootstrap", "bootstrap", error=str(exc), seconds=time.monotonic() - t0
        )
        print(junit.sum_counts(files).summary_line())
        return 2
    boot_s = time.monotonic() - t0
    junit.write_single(files[-1], "bootstrap", "bootstrap", error=None, seconds=boot_s)

    base = JobContext(root=root, tools=tools, env=test_env(), timeout_s=manifest.timeout_s)
    result = run_matrix(manifest, selection, JobContextFactory(manifest, base))
    files += result.junit_files()
    counts = junit.sum_counts(files)
    print()
    print(render_table(selection, result))
    print()
    print(f"check: {'FAIL' if problems else 'PASS'} {check_s:.1f}s; bootstrap: {boot_s:.1f}s")
    failed = result.failed
    if failed:
        print("failed: " + ", ".join(f"{m}/{j}" for m, j in failed))
    print(f"total: {time.monotonic() - start:.1f} s")
    print(counts.summary_line())
    return 1 if failed or problems else 0


def cmd_workflow(manifest: Manifest, check_only: bool) -> int:
    """Write (or compare) ``.github/workflows/ci.yml`` from the manifest."""
    path = manifest.root / workflow.WORKFLOW_PATH
    text = workflow.render_workflow(manifest)
    if check_only:
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        print(f"{path}: {'up to date' if same else 'differs from the generated text'}")
        return 0 if same else 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="python3 ci/ws.py",
        description="Workspace tooling: bootstrap the locked environment, run the CI matrix, "
        "the demos and releases. Reads workspace.toml.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bootstrap", help="install uv if missing and sync the locked environment")
    sub.add_parser("check", help="fast consistency checks of manifest, pyprojects and workflow")
    test = sub.add_parser("test", help="check, bootstrap, then the member x job matrix")
    test.add_argument("--member", action="append", default=[], help="only this row (repeatable)")
    test.add_argument("--job", action="append", default=[], help="only this job (repeatable)")
    test.add_argument("--no-bootstrap", action="store_true", help="use the existing .venv as is")
    demo = sub.add_parser("demo", help="run every member's demo and write runs/demo/index.html")
    demo.add_argument("--member", action="append", default=[], help="only this member")
    demo.add_argument("--no-bootstrap", action="store_true", help="use the existing .venv as is")
    rel = sub.add_parser("release", help="write releases/<member>-v<version>/manifest.json")
    rel.add_argument("member")
    rel.add_argument(
        "--checkpoint", action="append", default=[], type=Path, help="a file to checksum"
    )
    rel.add_argument(
        "--results", type=Path, default=None, help="results JSON (default <member>/results.json)"
    )
    rel.add_argument("--no-bootstrap", action="store_true", help="use the existing .venv as is")
    wf = sub.add_parser("workflow", help="write .github/workflows/ci.yml from workspace.toml")
    wf.add_argument("--check", action="store_true", help="only compare, do not write")
    return parser


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    """Run one command; ``root`` defaults to the folder above ``ci/``."""
    args = build_parser().parse_args(argv)
    root = root or Path(__file__).resolve().parents[2]
    try:
        manifest = load_manifest(root / "workspace.toml")
        if args.command == "bootstrap":
            bootstrap(root)
            return 0
        if args.command == "check":
            return cmd_check(manifest)
        if args.command == "test":
            return cmd_test(manifest, args)
        if args.command == "demo":
            return run_demo(manifest, _tools(root, args.no_bootstrap), args.member)
        if args.command == "release":
            tools = _tools(root, args.no_bootstrap)
            make_release(manifest, tools, args.member, args.checkpoint, args.results)
            return 0
        if args.command == "workflow":
            return cmd_workflow(manifest, args.check)
    except (ManifestError, BootstrapError, ReleaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")
