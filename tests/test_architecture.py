"""docs/architecture.md names every module of the package, and no module that is gone."""

from __future__ import annotations

import re
from pathlib import Path

import credcors

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"


def package_modules() -> set[str]:
    """Every ``.py`` file of credcors/ (migrations aside: their names are Django's), relative to the repository."""
    package = Path(credcors.__file__).resolve().parent
    return {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*.py")
        if "migrations" not in path.relative_to(package).parts
    }


def listed_modules() -> set[str]:
    return set(re.findall(r"`(credcors/[\w/]+\.py)`", PAGE.read_text(encoding="utf-8")))


def test_the_package_walk_finds_modules() -> None:
    assert {"credcors/middleware.py", "credcors/core/decide.py"} <= package_modules()


def test_every_module_is_on_the_architecture_page() -> None:
    missing = package_modules() - listed_modules()

    assert not missing, f"add a line for each to docs/architecture.md: {sorted(missing)}"


def test_the_architecture_page_names_no_module_that_is_gone() -> None:
    gone = listed_modules() - package_modules()

    assert not gone, f"remove from docs/architecture.md: {sorted(gone)}"
