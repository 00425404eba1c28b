"""The built distribution: what the wheel holds, and that it works installed on its own.

Builds the sdist and the wheel with ``python -m build`` (the wheel from the
sdist, so a file missing from the sdist fails here too), then installs the
wheel into a fresh virtual environment and runs a small Django project
against it from a directory outside the repository.  Takes about a minute;
select it with ``-m packaging``, leave it out with ``-m "not packaging"``.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import credcors

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "credcors"


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    """Run a command with an environment that cannot see the repository."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONHOME")
    }
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", outdir, ROOT, cwd=outdir)
    return outdir


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def package_files() -> set[str]:
    """The files under credcors/ that belong in the wheel (no bytecode, no editor litter)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith((".pyc", "~", ".swp"))
    }


def test_wheel_holds_exactly_the_package_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    dist_info = f"credcors-{credcors.__version__}.dist-info/"

    payload = {name for name in names if not name.startswith(dist_info)}

    assert payload == package_files()
    assert {"credcors/py.typed", "credcors/migrations/0001_initial.py", "credcors/migrations/__init__.py"} <= payload
    assert not any(name.startswith(("tests/", "example_project/", "bench")) for name in names)


def test_wheel_metadata_has_version_python_and_django_support(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(f"credcors-{credcors.__version__}.dist-info/METADATA").decode()
    metadata = email.parser.Parser().parsestr(raw)

    assert metadata["Name"] == "credcors"
    assert metadata["Version"] == credcors.__version__
    assert metadata["Requires-Python"] == ">=3.10"
    classifiers = metadata.get_all("Classifier") or []
    for django in ("5.2", "6.0", "6.1"):
        assert f"Framework :: Django :: {django}" in classifiers
    for python in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {python}" in classifiers
    assert any(requirement.startswith("Django") for requirement in metadata.get_all("Requires-Dist") or [])


def test_sdist_carries_license_readme_and_changelog(dist: Path) -> None:
    sdists = list(dist.glob("*.tar.gz"))
    assert [path.name for path in sdists] == [f"credcors-{credcors.__version__}.tar.gz"]
    with tarfile.open(sdists[0]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    assert {"LICENSE", "README.md", "pyproject.toml", "credcors/py.typed"} <= names


SETTINGS = """
SECRET_KEY = "smoke-test"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "smoke_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "smoke.sqlite3"}}
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "credcors",
]
MIDDLEWARE = [
    "credcors.middleware.CredCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"]}
"""

URLS = """
from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("api/ping", lambda request: HttpResponse("pong"))]
"""

SMOKE = """
import sys
from pathlib import Path

import django

django.setup()

import credcors
from django.test import Client

from credcors.models import AllowedOrigin

# The installed copy runs, not the repository's.
assert Path(credcors.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), credcors.__file__

client = Client()
settings_origin = client.get("/api/ping", HTTP_ORIGIN="https://app.example.com")
assert settings_origin.status_code == 200, settings_origin.status_code
assert settings_origin["Access-Control-Allow-Origin"] == "https://app.example.com"
assert settings_origin["Access-Control-Allow-Credentials"] == "true"

refused = client.get("/api/ping", HTTP_ORIGIN="https://evil.example.net")
assert "Access-Control-Allow-Origin" not in refused

AllowedOrigin.objects.create(origin="https://partner.example.net")
preflight = client.options(
    "/api/ping",
    HTTP_ORIGIN="https://partner.example.net",
    HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
)
assert preflight.status_code == 204, preflight.status_code
assert preflight["Access-Control-Allow-Origin"] == "https://partner.example.net"
print("smoke ok", credcors.__version__, django.get_version())
"""


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtualenv with only the wheel (and its dependencies), and a project directory."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", wheel, cwd=root)
    project = root / "project"
    project.mkdir()
    (project / "smoke_settings.py").write_text(SETTINGS)
    (project / "smoke_urls.py").write_text(URLS)
    (project / "smoke.py").write_text(SMOKE)
    (project / "manage.py").write_text(
        textwrap.dedent(
            """
            import os, sys
            from django.core.management import execute_from_command_line
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smoke_settings")
            execute_from_command_line(sys.argv)
            """
        )
    )
    return python, project


def test_installed_wheel_passes_check_and_migrates(installed: tuple[Path, Path]) -> None:
    python, project = installed

    check = run(python, "manage.py", "check", "--fail-level", "WARNING", cwd=project)
    run(python, "manage.py", "migrate", "--no-input", "-v", "0", cwd=project)
    migrations = run(python, "manage.py", "makemigrations", "credcors", "--check", "--dry-run", cwd=project)

    assert "System check identified no issues" in check
    assert "No changes detected" in migrations


def test_installed_wheel_serves_cors_headers(installed: tuple[Path, Path]) -> None:
    python, project = installed
    run(python, "manage.py", "migrate", "--no-input", "-v", "0", cwd=project)

    output = run(
        python,
        "-c",
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'smoke_settings'; exec(open('smoke.py').read())",
        cwd=project,
    )

    assert output.startswith(f"smoke ok {credcors.__version__} ")


def test_installed_wheel_is_typed(installed: tuple[Path, Path]) -> None:
    python, project = installed

    output = run(
        python,
        "-c",
        "import credcors, pathlib; print((pathlib.Path(credcors.__file__).parent / 'py.typed').exists())",
        cwd=project,
    )

    assert output.strip() == "True"
