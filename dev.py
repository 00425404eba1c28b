#!/usr/bin/env python3
"""One entry point for people and CI: sets up .venv, then runs a task.

    python3 dev.py demo    run the example project (SQLite)
    python3 dev.py test    run the whole test suite (add pytest arguments after --)

Needs only Python 3.10+ with pip and venv.  The virtual environment lives in
.venv and is refreshed whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CREDCORS_VENV", ROOT / ".venv"))
EXTRAS = "test"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create .venv and install the package with its test tools, once per pyproject change."""
    python = venv_python()
    stamp = VENV / ".credcors-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("dev.py: installing credcors and its test tools (first run takes a minute)", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[{EXTRAS}]"], check=True)
    stamp.write_text(wanted)
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


def task_test(args: list[str]) -> int:
    python = ensure_venv()
    ensure_chromium()
    return run(python, "-m", "coverage", "run", "-m", "pytest", *args)


def task_demo(args: list[str]) -> int:
    python = ensure_venv()
    return run(python, "-m", "example_project.demo", *args)


TASKS = {"test": task_test, "demo": task_demo}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    task, rest = argv[0], argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return TASKS[task](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
