"""The pure core never imports Django: it is tested with plain values, and runs without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PURE = (
    "credcors.core.fetch",
    "credcors.core.hosts",
    "credcors.core.origins",
    "credcors.core.origin_header",
    "credcors.core.matcher",
    "credcors.core.snapshot",
    "credcors.core.grants",
    "credcors.core.rowmap",
    "credcors.core.compile",
    "credcors.core.decision",
    "credcors.core.decide",
    "credcors.core.catalogue",
    "credcors.core.config.entries",
    "credcors.conf",
    "credcors.core.config.policies",
    "credcors.core.config.site",
    "credcors.refused.recorder",
    "credcors.core.quoting",
    "credcors.core.same_site",
    "credcors.core.cookies",
    "credcors.core.diagnose",
    "credcors.core.diagnose.refusal",
)


def test_pure_core_imports_without_django() -> None:
    # A fresh interpreter in which "import django" fails: every pure module
    # must still import, and so must decide() and explain() run.
    script = (
        "import sys\n"
        "sys.modules['django'] = None\n"
        f"for name in {PURE!r}:\n"
        "    __import__(name)\n"
        "from credcors.conf import parse_config\n"
        "from credcors.core.decision import Headers\n"
        "from credcors.core.snapshot import compile_snapshot\n"
        "from credcors.core.decide import decide\n"
        "config = parse_config({'ALLOWED_ORIGINS': ['https://app.example.com']})\n"
        "headers = Headers.build(allow_methods=config.allow_methods, allow_headers=config.allow_headers)\n"
        "snapshot = compile_snapshot(headers, config.rules)\n"
        "assert decide(snapshot, 'GET', 'https://app.example.com').allowed\n"
        "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules if sys.modules[name])\n"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
