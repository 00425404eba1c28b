"""The admin's page of credcors check ids: the catalogue, with the messages this project gets now.

The status panel links each message here (``checks/#credcors-w006``).  Each
id's meaning is the catalogue's sentence, the same one ``docs/checks.md``'s
table holds (a test keeps the two equal), so staff without the docs at hand
read the same explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext

from credcors.admin.status import CheckLine, anchor, run_credcors_checks
from credcors.core.catalogue import CHECKS

__all__ = ["CatalogueEntry", "checks_context", "code_spans"]


def code_spans(text: str) -> SafeString:
    """``text`` as HTML, escaped, its backtick spans as ``<code>``: the one piece of Markdown the catalogue uses.

    The catalogue's sentences are the docs' table cells, written in
    Markdown; the page shows them as the docs do, and nothing else of
    Markdown is read.  A backtick left without its pair stays a backtick.
    """
    parts = text.split("`")
    if len(parts) % 2 == 0:
        # An odd number of backticks: the last one opens nothing.
        parts[-2:] = ["`".join(parts[-2:])]
    html = "".join(f"<code>{escape(part)}</code>" if index % 2 else escape(part) for index, part in enumerate(parts))
    return mark_safe(html)  # Every part was escaped just above.


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One check id, what it means, and the messages it gives now."""

    id: str
    meaning: str  # Markdown: see :func:`code_spans`
    current: tuple[CheckLine, ...]

    @property
    def meaning_html(self) -> SafeString:
        """What the id means, as the page shows it: a sentence, its code spans as code."""
        return code_spans(capfirst(self.meaning))

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
    return {"title": gettext("System checks"), "entries": entries, "current": current}
