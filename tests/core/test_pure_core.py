"""The pure core never imports Django: it is tested with plain values, and runs without it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import credcors.core

ROOT = Path(__file__).resolve().parents[2]


def core_modules() -> list[str]:
    """Every module of ``credcors.core``, found by walking the package (a new module is covered the day it lands)."""
    found = pkgutil.walk_packages(credcors.core.__path__, prefix="credcors.core.")
    return ["credcors.core", *sorted(module.name for module in found)]


def test_the_walk_finds_the_core() -> None:
    # A walk that found nothing would make the test below pass vacuously.
    modules = core_modules()

    assert {"credcors.core.decide", "credcors.core.config", "credcors.core.diagnose.explain"} <= set(modules)
    assert len(modules) > 20


def test_every_core_module_imports_without_django() -> None:
    # A fresh interpreter in which "import django" fails: every core module
    # must still import, and decide() and explain() must run.
    script = (
        "import sys\n"
        "sys.modules['django'] = None\n"
        f"for name in {core_modules()!r}:\n"
        "    __import__(name)\n"
        "from credcors.core.config import parse_config\n"
        "from credcors.core.compile import compile_settings\n"
        "from credcors.core.decide import decide\n"
        "config = parse_config({'ALLOWED_ORIGINS': ['https://app.example.com']})\n"
        "snapshot = compile_settings(config)\n"
        "assert decide(snapshot, 'GET', 'https://app.example.com').allowed\n"
        "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules if sys.modules[name])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr


def test_django_blocked_really_blocks() -> None:
    # The guard itself: with django blocked, importing it fails, so the test above can fail.
    script = "import sys\nsys.modules['django'] = None\nimport django.conf\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)

    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr
