"""What an import would do, line by line, before anything changes.

The verdicts come from the import code ``credcors import`` runs: the one
validator through :func:`~credcors.rows.importing.check_entries`, and the plan of
:func:`~credcors.rows.importing.plan_import` (one chunked read of the rows
involved, nothing written, nothing locked) for what would be added, updated
or left as it is.  A line the staff member may not apply (adding without the
add permission, changing a row without the change permission) is refused
with that reason.  Confirming imports the other valid entries through
:func:`~credcors.rows.importing.import_entries`, which plans again under locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from credcors.core.quoting import scrub
from credcors.rows.import_format import Entry
from credcors.rows.importing import CREATE, UPDATE, check_entries, plan_digest, plan_import, refusal

__all__ = ["ADDED", "PRESENT", "REFUSED", "UPDATED", "Preview", "PreviewLine", "preview"]

ADDED, UPDATED, PRESENT, REFUSED = "added", "updated", "present", "refused"
_STATUS = {CREATE: ADDED, UPDATE: UPDATED}
_WOULD = {CREATE: "would be added", UPDATE: "would be updated"}


@dataclass(frozen=True, slots=True)
class PreviewLine:
    """One entry of an import and what confirming would do with it."""

    where: str
    written: str  # the entry as written, printable and bounded
    status: str  # ADDED, UPDATED, PRESENT or REFUSED
    origin: str = ""  # the canonical origin, for valid entries
    detail: str = ""  # the validator's or the permission's reason, or what an update changes
    policy: str = ""  # the row's policy once imported, for valid entries


@dataclass(frozen=True, slots=True)
class Preview:
    """Every line's verdict, and the entries a confirmation imports."""

    lines: tuple[PreviewLine, ...]
    valid: tuple[Entry, ...]
    #: :func:`~credcors.rows.importing.plan_digest` of what confirming the valid
    #: entries does: a line that becomes valid, or does something else,
    #: changes it.
    plan: str = ""

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)


def preview(entries: Sequence[Entry], *, may_create: bool = True, may_change: bool = True) -> Preview:
    """What importing ``entries`` would do, as a user with these permissions; nothing is changed or locked."""
    canonical, errors = check_entries(entries)
    # check_entries words each problem as "<where>: <reason>".
    refused = dict(error.partition(": ")[::2] for error in errors)
    planned = {item.checked.entry.where: item for item in plan_import(canonical)}
    lines = []
    valid = []
    confirmed = []
    for entry in entries:
        written = scrub(entry.origin, 200) if isinstance(entry.origin, str) else "(not an origin entry)"
        if entry.where in refused:
            lines.append(PreviewLine(entry.where, written, REFUSED, detail=refused[entry.where]))
            continue
        item = planned[entry.where]
        origin, detail = item.checked.origin, ", ".join(item.changes)
        reason = refusal(item.kind, may_create=may_create, may_change=may_change)
        if reason:
            detail = f"{_WOULD[item.kind]}{f' ({detail})' if detail else ''}, but {reason}"
            lines.append(PreviewLine(entry.where, written, REFUSED, origin, detail, item.policy))
            continue
        valid.append(entry)
        confirmed.append(item)
        lines.append(PreviewLine(entry.where, written, _STATUS.get(item.kind, PRESENT), origin, detail, item.policy))
    return Preview(tuple(lines), tuple(valid), plan_digest(confirmed))
