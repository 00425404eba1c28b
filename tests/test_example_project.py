"""The example project is a project a reader can copy: it imports nothing from the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import django

django.setup()
from django.core.management import call_command

call_command("check", fail_level="WARNING")
import example_project.urls, example_project.demo, example_project.frontend_server, example_project.wsgi
borrowed = sorted(name for name in sys.modules if name == "tests" or name.startswith("tests."))
print("borrowed:", borrowed)
"""


def _run_example(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "example_project.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_example_project_checks_clean_without_importing_tests(tmp_path: Path) -> None:
    result = _run_example(PROBE, CREDCORS_DEMO_DB=str(tmp_path / "example.sqlite3"))

    assert result.returncode == 0, result.stderr
    assert "borrowed: []" in result.stdout


def test_example_project_reads_database_url_itself(tmp_path: Path) -> None:
    code = "from django.conf import settings; db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'])"
    sqlite = _run_example(code, DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    postgres = _run_example(code, DATABASE_URL="postgres://someone@db.internal:5433/shop")

    assert sqlite.stdout.split() == ["django.db.backends.sqlite3", f"{tmp_path}/x.sqlite3"], sqlite.stderr
    assert postgres.stdout.split() == ["django.db.backends.postgresql", "shop"], postgres.stderr
