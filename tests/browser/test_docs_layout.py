"""The built docs at a laptop's width: no code block is cut off or scrolls sideways.

Builds the Sphinx docs (skipped where Sphinx, MyST or Furo is missing) and opens
the troubleshooting page, whose ``credcors explain`` output has the longest
lines ("Why: ..."), in Chromium at 1280 px.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 1280


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("sphinx", "myst_parser", "furo"):
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("docs_html")
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(ROOT / "docs"), str(out)],
        check=True,
        timeout=300,
    )
    return out


@pytest.mark.parametrize("page_name", ["troubleshooting.html", "quickstart.html"])
def test_docs_code_blocks_fit_at_1280_px(browser: Browser, built_docs: Path, page_name: str) -> None:
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    try:
        page = context.new_page()
        page.goto((built_docs / page_name).as_uri())
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll("pre")]
                .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
                .map(pre => pre.textContent.slice(0, 80))"""
        )
        assert page.evaluate("document.querySelectorAll('pre').length") > 0
    finally:
        context.close()
    assert overflowing == []
