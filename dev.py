#!/usr/bin/env python3
"""One entry point for people and CI: sets up .venv, then runs a task.

    python3 dev.py demo    the two-origin demo: front end :3001, API and admin :8000 (SQLite)
    python3 dev.py test    run the whole test suite, then print its coverage (add pytest arguments after --)
    python3 dev.py test --fast   the unit suite alone: no browser, servers, packaging or integration tests
    python3 dev.py bench   credcors against django-cors-headers (a few minutes; --quick for a smoke run)
    python3 dev.py lint    ruff check, ruff format --check, mypy (--strict on credcors/), import-linter, django-upgrade
    python3 dev.py docs    build the documentation site (docs/ into docs/_build/html), warnings as errors
    python3 dev.py matrix  the suite on every supported Python x Django, with nox (add nox arguments after --)

Needs only Python 3.10+ with pip and venv.  The virtual environment lives in
.venv and is refreshed whenever pyproject.toml changes; coverage data lives
in build/coverage/ (COVERAGE_FILE moves it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CREDCORS_VENV", ROOT / ".venv"))
# One development environment with the test tools, the real parts the
# integration tests drive, and the linters (PEP 735 dependency groups in
# pyproject.toml), so every task below works from it.
GROUPS = "test,integration,lint"
# pip learned `install --group` in 25.1.
PIP_WITH_GROUPS = "pip>=25.1"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(groups: str = GROUPS) -> Path:
    """Create .venv and install credcors (editable) with the dependency ``groups``, once per pyproject change.

    The stamp records the groups installed, so a task that needs more (the
    docs' Sphinx) adds them, and later tasks that need fewer do not reinstall.
    """
    python = venv_python()
    stamp = VENV / ".credcors-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted = set(groups.split(","))
    if python.exists() and stamp.exists():
        recorded_digest, _, recorded = stamp.read_text().partition(" ")
        if recorded_digest == digest:
            if wanted <= set(recorded.split(",")):
                return python
            wanted |= set(filter(None, recorded.split(",")))
    if not python.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("dev.py: installing credcors and its development tools (first run takes a minute)", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", PIP_WITH_GROUPS], check=True)
    installed = ",".join(sorted(wanted))
    pyproject = ROOT / "pyproject.toml"
    group_args = [arg for group in sorted(wanted) for arg in ("--group", f"{pyproject}:{group}")]
    subprocess.run([*pip, "install", "-e", str(ROOT), *group_args], check=True)
    stamp.write_text(f"{digest} {installed}")
    return python


def ensure_chromium() -> None:
    """Browser tests drive Debian's chromium; install it when we are root and it is missing."""
    if os.environ.get("CREDCORS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("dev.py: installing Debian's chromium for the browser tests", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
        return
    print(
        "\n*** dev.py: Chromium is not installed and cannot be installed from here.\n"
        "*** Browser tests will be SKIPPED. Install it with: sudo apt-get install chromium\n",
        file=sys.stderr,
        flush=True,
    )


def run(python: Path, *args: str, env: dict[str, str] | None = None) -> int:
    return subprocess.run([str(python), *args], cwd=ROOT, env={**os.environ, **(env or {})}).returncode


def coverage_file() -> Path:
    """Where ``dev.py test`` writes coverage data: ``COVERAGE_FILE``, else build/coverage/.coverage.

    Out of the checkout's top level (build/ is ignored by git), so a run
    leaves ``git status`` and the tree clean; ``.ci/run`` reads it from here
    to erase and combine the same files.
    """
    return Path(os.environ.get("COVERAGE_FILE") or ROOT / "build" / "coverage" / ".coverage")


def _data_files(data: Path) -> set[Path]:
    # The per-process files that `parallel = true` writes (SQLite journals aside).
    return {path for path in data.parent.glob(f"{data.name}.*") if not path.name.endswith("-journal")}


#: The unit suite: what ``test --fast`` and every nox matrix session run.  It
#: leaves out the browser and multi-process tests and those marked
#: ``packaging`` or ``integration``, which need the integration group's real
#: parts and do not depend on the Python or Django version.
UNIT_SUITE = [
    "tests",
    "--ignore=tests/browser",
    "--ignore=tests/multiprocess",
    "-m",
    "not packaging and not integration",
]


def task_test(args: list[str]) -> int:
    python = ensure_venv()
    if args[:1] == ["--fast"]:
        rest = args[1:]
        # A folder, file or test named after --fast narrows the unit suite to it.
        named = any(arg.startswith("tests") for arg in rest)
        return run(python, "-m", "pytest", *UNIT_SUITE[1:] if named else UNIT_SUITE, *rest)
    ensure_chromium()
    data = coverage_file()
    data.parent.mkdir(parents=True, exist_ok=True)
    before = _data_files(data)
    status = run(python, "-m", "coverage", "run", "-m", "pytest", *args, env={"COVERAGE_FILE": str(data)})
    report_coverage(python, sorted(_data_files(data) - before))
    return status


def report_coverage(python: Path, files: list[Path]) -> None:
    """Print the coverage of this run's data ``files`` alone, leaving them in place.

    They are combined into a scratch file, with --keep: .ci/run runs this
    task twice (SQLite, then PostgreSQL) and combines both runs' files at the
    end, where fail_under is enforced; here it is a summary (--fail-under 0),
    never a reason to fail the run.  Files from earlier runs are left out.
    """
    if not files:
        return
    where = files[0].parent
    shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
    print(f"\ndev.py test: coverage of credcors/ in this run (data in {shown}/)", flush=True)
    with tempfile.TemporaryDirectory(prefix="credcors-coverage-") as scratch:
        summary = str(Path(scratch) / ".coverage")
        combine = ["-m", "coverage", "combine", "-q", "--keep", "--data-file", summary, *map(str, files)]
        if run(python, *combine) == 0:
            run(python, "-m", "coverage", "report", "--data-file", summary, "--fail-under", "0")


#: The oldest Django credcors supports: django-upgrade rewrites anything older.
OLDEST_DJANGO = "5.2"
#: Directories of the checkout that hold no code of ours.
NOT_OURS = {".venv", ".nox", ".git", "build", "dist", "_build", "node_modules"}


def python_files() -> list[str]:
    """The repository's own .py files, relative to ROOT, sorted."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if not NOT_OURS.intersection(path.relative_to(ROOT).parts[:-1])
    )


def task_lint(args: list[str]) -> int:
    """Run every static check, even after one fails, and fail if any did."""
    python = ensure_venv()
    failures = 0
    for command in (
        ["-m", "ruff", "check", *(args or ["."])],
        ["-m", "ruff", "format", "--check", *(args or ["."])],
        ["-m", "mypy"],
        # The import-linter contracts in pyproject.toml: the layers, and a core without Django.
        ["-c", "import sys; from importlinter.cli import lint_imports_command as lint; sys.exit(lint())", "--no-cache"],
        # --check lists what it would rewrite and fails; run it without --check to apply.
        # request_headers is skipped: on the hot path credcors reads one key of
        # request.META, where request.headers would first copy every header.
        [
            "-m",
            "django_upgrade",
            "--check",
            "--target-version",
            OLDEST_DJANGO,
            "--skip",
            "request_headers",
            *python_files(),
        ],
    ):
        files = [word for word in command if word.endswith(".py")]
        shown = [word for word in command[1:] if word not in files] + ([f"({len(files)} files)"] if files else [])
        print(f"dev.py lint: {' '.join(shown)}", flush=True)
        failures += run(python, *command) != 0
    return 1 if failures else 0


def task_matrix(args: list[str]) -> int:
    python = ensure_venv()
    return run(python, "-m", "nox", *(args or ["-s", "tests"]))


def task_docs(args: list[str]) -> int:
    """Build the Sphinx site; any warning (a broken reference, a bad directive) fails the build."""
    python = ensure_venv(f"{GROUPS},docs")
    out = ROOT / "docs" / "_build" / "html"
    return run(python, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs", str(out), *args)


def task_demo(args: list[str]) -> int:
    python = ensure_venv()
    process = subprocess.Popen([str(python), "-m", "example_project.demo", *args], cwd=ROOT)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the demo too (same process group): let it stop its
        # servers and exit, rather than printing a traceback here.
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def task_bench(args: list[str]) -> int:
    python = ensure_venv()
    return run(python, "-m", "bench.run", *args)


TASKS = {
    "test": task_test,
    "bench": task_bench,
    "demo": task_demo,
    "lint": task_lint,
    "docs": task_docs,
    "matrix": task_matrix,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    task, rest = argv[0], argv[1:]
    if rest[:2] == ["--fast", "--"]:
        rest = ["--fast", *rest[2:]]
    elif rest[:1] == ["--"]:
        rest = rest[1:]
    return TASKS[task](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
