"""What an import would do, line by line, before anything changes.

The verdicts come from the import code ``credcors import`` runs: the one
validator through :func:`~credcors.importing.check_entries`, and a dry run of
:func:`~credcors.importing.import_entries` (written, then rolled back) for
what would be added or updated.  Confirming imports the valid entries
through that same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from credcors.import_file import Entry
from credcors.importing import check_entries, import_entries
from credcors.quoting import scrub

__all__ = ["ADDED", "PRESENT", "REFUSED", "UPDATED", "Preview", "PreviewLine", "preview"]

ADDED, UPDATED, PRESENT, REFUSED = "added", "updated", "present", "refused"


@dataclass(frozen=True, slots=True)
class PreviewLine:
    """One entry of an import and what confirming would do with it."""

    where: str
    written: str  # the entry as written, printable and bounded
    status: str  # ADDED, UPDATED, PRESENT or REFUSED
    origin: str = ""  # the canonical origin, for valid entries
    detail: str = ""  # the validator's reason, or what an update changes


@dataclass(frozen=True, slots=True)
class Preview:
    """Every line's verdict, and the entries a confirmation imports."""

    lines: tuple[PreviewLine, ...]
    valid: tuple[Entry, ...]

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)


def preview(entries: Sequence[Entry], name: str) -> Preview:
    """What importing ``entries`` would do; nothing is changed.

    Raises :class:`~credcors.import_file.ImportProblem` like the import itself.
    """
    canonical, errors = check_entries(entries)
    # check_entries words each problem as "<where>: <reason>".
    refused = dict(error.partition(": ")[::2] for error in errors)
    valid = tuple(checked.entry for checked in canonical)
    report = import_entries(valid, name, dry_run=True)
    done: dict[str, tuple[str, str]] = {}
    for text in report.lines:
        verb, origin, *rest = text.split(maxsplit=2)
        done[origin] = (verb, rest[0].strip("()") if rest else "")
    by_where = {checked.entry.where: checked.origin for checked in canonical}
    lines = []
    for entry in entries:
        written = scrub(entry.origin, 200) if isinstance(entry.origin, str) else "(not an origin entry)"
        if entry.where in refused:
            lines.append(PreviewLine(entry.where, written, REFUSED, detail=refused[entry.where]))
            continue
        origin = by_where[entry.where]
        verb, detail = done.get(origin, (PRESENT, ""))
        lines.append(PreviewLine(entry.where, written, verb, origin, detail))
    return Preview(tuple(lines), valid)
