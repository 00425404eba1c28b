"""The compatibility matrix and static checks, run with nox.

    nox -s tests        the unit suite on every supported (Python, Django) pair
    nox -s lint mypy    ruff and mypy --strict
    nox -l              list the sessions

Interpreters are found on PATH as ``python3.X``; when pyenv is installed its
versions are put in front of PATH for this process only (its shims stand for
a single global version and fail for the others), so a fresh clone needs no
``pyenv global``.  ``.ci/run`` runs ``tests``, ``lint`` is also ``dev.py lint``.

The matrix runs the suite on SQLite with the ``test`` dependency group only
(pytest, pytest-django, hypothesis, coverage, and Django REST framework and
django-ninja for the per-view policy examples): no browser, server, Redis or
database driver is installed.  So it leaves out what needs them, the browser
and multi-process tests (``tests/browser``, ``tests/multiprocess``) and the
tests marked ``packaging`` or ``integration``: those do not depend on the
Django version, and run once in ``python3 dev.py test``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

# nox runs from this file's folder, so dev.py is importable: one list of what the unit suite is.
from dev import UNIT_SUITE

ROOT = Path(__file__).resolve().parent

# Django 5.2 (LTS) supports Python 3.10-3.13; Django 6.0 and 6.1 need 3.12+.
MATRIX: list[tuple[str, str]] = [
    ("3.10", "5.2"),
    ("3.11", "5.2"),
    ("3.12", "5.2"),
    ("3.13", "5.2"),
    ("3.12", "6.0"),
    ("3.13", "6.0"),
    ("3.12", "6.1"),
    ("3.13", "6.1"),
]
PYTHONS = sorted({python for python, _ in MATRIX})
LINT_PYTHON = "3.11"

# The unit suite, as `python3 dev.py test --fast` runs it (see the docstring).
MATRIX_PYTEST_ARGS = [*UNIT_SUITE, "-p", "no:cacheprovider"]

nox.options.sessions = ["tests", "lint", "mypy"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"

# The dependency groups (PEP 735) the sessions install.
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def _put_pyenv_versions_on_path() -> None:
    root = _pyenv_root()
    if root is None:
        return
    found: list[str] = []
    for minor in PYTHONS:
        candidates = sorted(
            (path for path in (root / "versions").glob(f"{minor}.*") if (path / "bin" / f"python{minor}").exists()),
            key=lambda path: tuple(int(part) for part in path.name.split(".") if part.isdigit()),
        )
        if candidates:
            found.append(str(candidates[-1] / "bin"))
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_put_pyenv_versions_on_path()


def _django_requirement(series: str) -> str:
    major, minor = (int(part) for part in series.split("."))
    return f"Django>={series},<{major}.{minor + 1}"


@nox.session
@nox.parametrize(("python", "django"), MATRIX, ids=[f"{python}-django{django}" for python, django in MATRIX])
def tests(session: nox.Session, django: str) -> None:
    """The unit suite on SQLite, plus makemigrations --check, on one (Python, Django) pair."""
    # Read from pyproject.toml here rather than `pip install --group`, so the
    # session works with whatever pip the interpreter's venv comes with.
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"), _django_requirement(django))
    session.run("python", "-c", "import django, sys; print('Django', django.get_version(), 'on Python', sys.version)")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT), "DATABASE_URL": "sqlite://"}
    # A model change that needs a migration, or a Django release that
    # would generate a different one, fails here.
    session.run("python", "-m", "django", "makemigrations", "credcors", "--check", "--dry-run", env=env)
    session.run("python", "-m", "pytest", *(session.posargs or MATRIX_PYTEST_ARGS), env=env)


@nox.session(python=LINT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install(*(req for req in nox.project.dependency_groups(PYPROJECT, "lint") if req.startswith("ruff")))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=LINT_PYTHON)
def mypy(session: nox.Session) -> None:
    """mypy with django-stubs: --strict over credcors/, relaxed over tests, bench and the demo (pyproject.toml)."""
    # The integration group too: the browser, multi-process and benchmark code
    # that mypy reads imports Playwright, psycopg, uvicorn and django-cors-headers.
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test", "integration", "lint"))
    session.run("mypy", *session.posargs, env={"PYTHONPATH": str(ROOT)})
