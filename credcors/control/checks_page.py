"""The admin's page of credcors check ids: the catalogue, with the messages this project gets now.

The status panel links each message here (``checks/#credcors-w006``).  Each
id's meaning is the catalogue's sentence, the same one ``docs/checks.md``'s
table holds (a test keeps the two equal), so staff without the docs at hand
read the same explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credcors.catalogue import CHECKS
from credcors.control.status import CheckLine, anchor, run_credcors_checks

__all__ = ["CatalogueEntry", "checks_context"]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One check id, what it means, and the messages it gives now."""

    id: str
    meaning: str
    current: tuple[CheckLine, ...]

    @property
    def anchor(self) -> str:
        return anchor(self.id)


def checks_context() -> dict[str, Any]:
    """Template context: the whole catalogue, in id order."""
    current = run_credcors_checks()
    entries = [
        CatalogueEntry(check_id, meaning, tuple(line for line in current if line.id == check_id))
        for check_id, meaning in sorted(CHECKS.items())
    ]
    return {"title": "credcors system checks", "entries": entries, "current": current}
