"""The jobs of the matrix: lint, independence, the pytest jobs and bench.

Each job returns a :class:`JobOutcome` and leaves a junit file at
``.ci-work/junit/<member>-<job>.xml`` (except when it has nothing to run: EMPTY).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from wstool import junit
from wstool.bootstrap import Tools, uv_env
from wstool.manifest import Member
from wstool.proc import StepResult, run_step

PASS, FAIL, EMPTY = "PASS", "FAIL", "EMPTY"
PYTEST_JOBS = ("unit", "kernels", "smoke", "gpu")


@dataclass(frozen=True)
class JobContext:
    """What every job needs."""

    root: Path
    """The workspace root."""
    tools: Tools
    """uv and the workspace environment."""
    env: dict[str, str]
    """Environment of the test processes (thread counts, MPLBACKEND, ...)."""
    timeout_s: float
    """Wall-clock limit of the whole job."""

    @property
    def work(self) -> Path:
        """Scratch folder ``.ci-work`` (git-ignored)."""
        return self.root / ".ci-work"

    def junit_path(self, member: Member, job: str) -> Path:
        """Where the job's junit file goes."""
        return self.work / "junit" / f"{member.name}-{job}.xml"


@dataclass(frozen=True)
class JobOutcome:
    """The result of one cell of the matrix."""

    status: str
    """PASS, FAIL or EMPTY."""
    seconds: float
    """Wall-clock duration."""
    junit: Path | None
    """The junit file written, if any."""
    detail: str = ""
    """Why it failed or was empty (one line)."""


def test_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of every job: bounded threads, headless plots, stable hashing."""
    env = dict(os.environ if base is None else base)
    threads = str(min(2, os.cpu_count() or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, threads)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    env.pop("VIRTUAL_ENV", None)
    return env


class _Clock:
    """Splits one job's time limit among its steps."""

    def __init__(self, limit_s: float) -> None:
        self.start = time.monotonic()
        self.limit_s = limit_s

    def left(self) -> float:
        return max(self.limit_s - (time.monotonic() - self.start), 1.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _from_steps(
    ctx: JobContext, member: Member, job: str, steps: list[StepResult], clock: _Clock
) -> JobOutcome:
    path = ctx.junit_path(member, job)
    junit.write_steps(path, f"{member.name}-{job}", steps)
    failed = [s for s in steps if not s.ok]
    detail = "; ".join(f"{s.name}: exit {s.returncode}" for s in failed)
    return JobOutcome(FAIL if failed else PASS, clock.elapsed(), path, detail)


def lint_job(ctx: JobContext, member: Member) -> JobOutcome:
    """ruff check, ruff format --check and mypy with the root pyproject's settings.

    All three run even when one fails, so one run shows every problem.
    """
    clock = _Clock(ctx.timeout_s)
    config = str(ctx.root / "pyproject.toml")
    ruff, mypy = str(ctx.tools.bin("ruff")), str(ctx.tools.bin("mypy"))
    commands = [
        ("ruff check", [ruff, "check", "--config", config, member.path]),
        ("ruff format --check", [ruff, "format", "--check", "--config", config, member.path]),
        ("mypy", [mypy, "--config-file", config, *member.mypy_targets()]),
    ]
    steps = [
        run_step(name, argv, cwd=ctx.root, env=ctx.env, timeout_s=clock.left())
        for name, argv in commands
    ]
    return _from_steps(ctx, member, "lint", steps, clock)


def console_module_exists(root: Path, member: Member) -> bool:
    """True when the module behind the member's console script is in its sources."""
    if member.cli is None:
        return False
    with (root / member.path / "pyproject.toml").open("rb") as fh:
        scripts = tomllib.load(fh).get("project", {}).get("scripts", {})
    target = scripts.get(member.cli)
    if not isinstance(target, str):
        return False
    module = target.split(":")[0].strip()
    base = root / member.path / "src" / Path(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def independence_job(ctx: JobContext, member: Member, shared: Member | None) -> JobOutcome:
    """Build the member's wheel and install it alone (with shared-utils) into a fresh venv.

    Dependencies come from the lock (``uv export --frozen``), so the venv holds the same
    versions as ``.venv``; uv's cache hard-links them, which keeps this fast. The import
    and ``<cli> --help`` run from an empty temporary folder, and the imported file must
    lie in the new venv's site-packages, never in the source tree.
    """
    clock = _Clock(ctx.timeout_s)
    uv = list(ctx.tools.uv)
    env = uv_env()
    dist_dir = ctx.work / "dist" / member.name
    venv = ctx.work / "venvs" / member.name
    for folder in (dist_dir, venv):
        shutil.rmtree(folder, ignore_errors=True)
    dist_dir.mkdir(parents=True)
    steps: list[StepResult] = []

    def step(
        name: str, argv: list[str], cwd: Path = ctx.root, step_env: dict[str, str] = env
    ) -> bool:
        result = run_step(name, argv, cwd=cwd, env=step_env, timeout_s=clock.left())
        steps.append(result)
        return result.ok

    packages = [member] + ([shared] if shared is not None and shared.name != member.name else [])
    ok = all(
        step(
            f"uv build {p.distribution}",
            [*uv, "build", "--package", p.distribution, "--out-dir", str(dist_dir)],
        )
        for p in packages
    )
    requirements = dist_dir / "requirements.txt"
    export = [
        *uv,
        "export",
        "--quiet",
        "--frozen",
        "--package",
        member.distribution,
        "--no-emit-workspace",
        "--no-dev",
        "--no-hashes",
        "--no-header",
        "-o",
        str(requirements),
    ]
    ok = ok and step("uv export (locked versions)", export)
    ok = ok and step("uv venv", [*uv, "venv", "--python", str(ctx.tools.base_python()), str(venv)])
    wheels = sorted(str(w) for w in dist_dir.glob("*.whl"))
    python = str(venv / "bin" / "python")
    install = [*uv, "pip", "install", "--python", python, "-r", str(requirements), *wheels]
    ok = ok and step("uv pip install wheels", install)
    ok = ok and step("uv pip check", [*uv, "pip", "check", "--python", python])
    if ok:
        with tempfile.TemporaryDirectory(prefix="ws-independence-") as tmp:
            run_env = test_env(ctx.env)
            run_env.pop("PYTHONPATH", None)
            code = (
                "import importlib, sys; "
                f"m = importlib.import_module({member.import_name!r}); "
                "print('IMPORTED', m.__file__); print('PREFIX', sys.prefix)"
            )
            if step(f"import {member.import_name}", [python, "-P", "-c", code], Path(tmp), run_env):
                steps[-1] = _check_import_location(steps[-1], venv)
            if steps[-1].ok and console_module_exists(ctx.root, member):
                assert member.cli is not None
                step(
                    f"{member.cli} --help",
                    [str(venv / "bin" / member.cli), "--help"],
                    Path(tmp),
                    run_env,
                )
            elif member.cli:
                print(f"(no {member.cli} --help: its cli module is not in the sources yet)")
    return _from_steps(ctx, member, "independence", steps, clock)


def _check_import_location(result: StepResult, venv: Path) -> StepResult:
    """Fail the import step unless the module came from the venv's site-packages."""
    imported = [
        ln.split(" ", 1)[1] for ln in result.output.splitlines() if ln.startswith("IMPORTED ")
    ]
    where = Path(imported[-1]).resolve() if imported else None
    site = (venv / "lib").resolve()
    if where is not None and where.is_relative_to(site) and "site-packages" in where.parts:
        print(f"import resolved inside the fresh venv: {where}")
        return result
    msg = f"\nimport resolved to {where}, not inside {site}/*/site-packages\n"
    print(msg, end="")
    return StepResult(result.name, result.argv, 1, result.seconds, False, result.output + msg)


def _has_test_files(folder: Path) -> bool:
    """Whether pytest's default file patterns match anything under ``folder``."""
    return any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))


def pytest_job(ctx: JobContext, member: Member, job: str) -> JobOutcome:
    """``pytest tests/<job>`` from inside the member folder; exit 5 or no folder = EMPTY."""
    clock = _Clock(ctx.timeout_s)
    folder = ctx.root / member.path
    tests = member.tests_dir(job)
    path = ctx.junit_path(member, job)
    path.unlink(missing_ok=True)
    if not (folder / tests).is_dir():
        print(f"{member.path}/{tests}: no such folder")
        return JobOutcome(EMPTY, clock.elapsed(), None, f"no {tests}/ folder")
    if not _has_test_files(folder / tests):
        # Skip pytest's start-up (imports torch through conftest: ~20 s on 2 cores).
        print(f"{member.path}/{tests}: no test_*.py / *_test.py files")
        return JobOutcome(EMPTY, clock.elapsed(), None, "no test files")
    env = dict(ctx.env)
    if job == "kernels":
        env["TRITON_INTERPRET"] = "1"
    argv = [
        str(ctx.tools.python),
        "-m",
        "pytest",
        tests,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={path}",
        "-o",
        f"junit_suite_name={member.name}-{job}",
    ]
    result = run_step(f"pytest {tests}", argv, cwd=folder, env=env, timeout_s=clock.left())
    if result.returncode == 5:
        path.unlink(missing_ok=True)
        return JobOutcome(EMPTY, clock.elapsed(), None, "no tests collected")
    if result.ok:
        return JobOutcome(PASS, clock.elapsed(), path, "")
    detail = "timed out" if result.timed_out else f"pytest exit {result.returncode}"
    if result.timed_out or not path.is_file():
        # pytest was killed (or crashed) before writing its report: record the failure.
        junit.write_single(
            path,
            f"{member.name}-{job}",
            tests,
            error=f"{detail}\n{result.output}",
            seconds=result.seconds,
        )
    return JobOutcome(FAIL, clock.elapsed(), path, detail)


def bench_job(ctx: JobContext, member: Member) -> JobOutcome:
    """Run every ``bench/*.py`` script of the member (each prints a table, writes JSON)."""
    clock = _Clock(ctx.timeout_s)
    folder = ctx.root / member.path
    scripts = sorted((folder / "bench").glob("*.py")) if (folder / "bench").is_dir() else []
    scripts = [s for s in scripts if not s.name.startswith("_")]
    if not scripts:
        print(f"{member.path}/bench: no scripts")
        return JobOutcome(EMPTY, clock.elapsed(), None, "no bench scripts")
    steps = [
        run_step(
            f"bench/{s.name}",
            [str(ctx.tools.python), str(s.relative_to(folder))],
            cwd=folder,
            env=ctx.env,
            timeout_s=clock.left(),
        )
        for s in scripts
    ]
    return _from_steps(ctx, member, "bench", steps, clock)


def run_job(ctx: JobContext, member: Member, job: str, shared: Member | None) -> JobOutcome:
    """Dispatch one cell of the matrix."""
    if job == "lint":
        return lint_job(ctx, member)
    if job == "independence":
        return independence_job(ctx, member, shared)
    if job == "bench":
        return bench_job(ctx, member)
    if job in PYTEST_JOBS:
        return pytest_job(ctx, member, job)
    print(f"unknown job {job!r}", file=sys.stderr)
    return JobOutcome(FAIL, 0.0, None, f"unknown job {job!r}")
