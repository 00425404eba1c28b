"""Import origins in bulk: check every entry with the one validator, write in one transaction.

The same code serves ``manage.py credcors import`` and anything else that
imports a list (the admin, for one): nothing is written unless every entry is
valid, and a concurrent writer makes the whole import roll back with a clear
"run it again".  Reading a file into entries (its size limit, the text and
JSON formats) is :mod:`credcors.import_file`.  Problems are
:class:`~credcors.import_file.ImportProblem` with a message ready to show;
every value from the file is quoted with :func:`credcors.quoting.safe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from credcors import audit
from credcors.audit import ADDITION, CHANGE
from credcors.import_file import BAD_ENTRY, Entry, ImportProblem
from credcors.lifetime import LifetimeError, describe, parse_expiry
from credcors.models import AllowedOrigin, canonicalize_origin, validate_policy
from credcors.policy_conf import DEFAULT_POLICY
from credcors.quoting import scrub

__all__ = [
    "MAX_REPORTED_ERRORS",
    "ImportReport",
    "check_entries",
    "import_entries",
]

#: How many invalid entries an import reports before summarizing the rest.
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or would do, for a dry run)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    lines: list[str] = field(default_factory=list)


class Checked(NamedTuple):
    """A valid entry, its canonical origin, and its expiry (:data:`KEEP`: leave the row's as it is)."""

    entry: Entry
    origin: str
    expires: Any


#: An entry that says nothing about expiry leaves a row's as it is.
KEEP: Any = object()


def check_entries(entries: Sequence[Entry]) -> tuple[list[Checked], list[str]]:
    """Each valid entry with its canonical origin and expiry, and a message for every invalid one.

    An entry's policy must be a configured one (see :func:`credcors.models.validate_policy`).
    """
    errors: list[str] = []
    seen: dict[str, str] = {}
    canonical: list[Checked] = []
    now = timezone.now()
    for entry in entries:
        if entry.origin is BAD_ENTRY:
            errors.append(
                f'{entry.where}: expected an origin string or {{"origin": "...", "enabled": true, "note": "...", '
                '"expires_at": "2026-12-31T18:00:00Z"}} with nothing else in it.'
            )
            continue
        try:
            origin = canonicalize_origin(entry.origin)
            # An exported table may hold rows already expired: they are restored as they were.
            expires = KEEP if entry.expires is None else parse_expiry(entry.expires, now, allow_past=True)
        except ValidationError as exc:
            errors.append(f"{entry.where}: {scrub(' '.join(exc.messages), 400)}")
            continue
        except LifetimeError as exc:
            errors.append(f"{entry.where}: {scrub(str(exc), 400)}")
            continue
        if origin in seen:
            errors.append(f"{entry.where}: {origin} is already listed at {seen[origin]}.")
            continue
        try:
            validate_policy(entry.policy or DEFAULT_POLICY)
        except ValidationError as exc:
            errors.append(f"{entry.where}: {scrub(' '.join(exc.messages), 400)}")
            continue
        if entry.trust_for_csrf and "*" in origin:
            errors.append(f"{entry.where}: {origin} is a pattern; only an exact origin can be trusted for CSRF.")
            continue
        seen[origin] = entry.where
        canonical.append(Checked(entry, origin, expires))
    return canonical, errors


def import_entries(
    entries: Sequence[Entry],
    name: str,
    *,
    dry_run: bool = False,
    policy: str | None = None,
    user: Any = None,
    via: str = "",
) -> ImportReport:
    """Check every entry, then write them all in one transaction, or raise :class:`ImportProblem`.

    ``policy`` is the policy of entries that name none (a text file's lines).
    With ``user``, each row added or changed gets an entry in the admin's
    history as that user, saying it came from ``name`` (and ``via``).
    """
    if policy is not None:
        entries = [entry if entry.policy is not None else replace(entry, policy=policy) for entry in entries]
    canonical, errors = check_entries(entries)
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        if len(errors) > MAX_REPORTED_ERRORS:
            shown.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more.")
        raise ImportProblem(
            f"{name}: {len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}; nothing was imported.\n"
            + "\n".join(shown)
        )
    try:
        return _apply(canonical, dry_run=dry_run, user=user, source=f"from {name}{' ' + via if via else ''}")
    except IntegrityError:
        # Another writer added one of these origins after the rows were
        # read: the whole import rolled back, so running it again is safe.
        raise ImportProblem(
            f"{name}: another process added some of these origins during the import; "
            "nothing was imported. Run the import again."
        ) from None


def _apply(canonical: list[Checked], *, dry_run: bool, user: Any, source: str) -> ImportReport:
    # Write the checked entries in one transaction (rolled back for a dry run).
    created = updated = unchanged = 0
    lines: list[str] = []
    history: list[tuple[int, AllowedOrigin, str]] = []
    with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
        # Rows are locked, and new ones inserted, in origin order: two imports
        # of overlapping files then wait for each other instead of
        # deadlocking, and one adding an origin the other just added fails
        # on the unique constraint, which says "run it again".
        in_order = sorted(canonical, key=lambda checked: checked.origin)
        locked = AllowedOrigin.objects.filter(origin__in=[checked.origin for checked in in_order]).order_by("origin")
        existing = {row.origin: row for row in locked.select_for_update()}
        for entry, origin, expires in in_order:
            row = existing.get(origin)
            enabled = True if entry.enabled is None else entry.enabled
            if row is None:
                row = AllowedOrigin(
                    origin=origin,
                    enabled=enabled,
                    note=entry.note or "",
                    policy=entry.policy or DEFAULT_POLICY,
                    trust_for_csrf=bool(entry.trust_for_csrf),
                    expires_at=None if expires is KEEP else expires,
                )
                row.save()
                created += 1
                lines.append(f"  added     {origin}")
                history.append((ADDITION, row, f"Imported {source}."))
                continue
            changes = []
            if row.enabled != enabled:
                row.enabled = enabled
                changes.append("enabled" if enabled else "disabled")
            if entry.note is not None and row.note != entry.note:
                row.note = entry.note
                changes.append("note")
            if entry.policy is not None and row.policy != entry.policy:
                row.policy = entry.policy
                changes.append(f"policy {entry.policy}")
            if entry.trust_for_csrf is not None and row.trust_for_csrf != entry.trust_for_csrf:
                row.trust_for_csrf = entry.trust_for_csrf
                changes.append("trusted for CSRF" if entry.trust_for_csrf else "not trusted for CSRF")
            if expires is not KEEP and row.expires_at != expires:
                row.expires_at = expires
                changes.append(f"expires {describe(expires)}")
            if changes:
                row.save()
                updated += 1
                lines.append(f"  updated   {origin} ({', '.join(changes)})")
                history.append((CHANGE, row, f"Changed {source}: {', '.join(changes)}."))
            else:
                unchanged += 1
        if user is not None:
            for flag in (ADDITION, CHANGE):
                audit.log(user, flag, [(row, message) for kind, row, message in history if kind == flag])
        if dry_run:
            transaction.set_rollback(True)
    return ImportReport(created, updated, unchanged, lines)
