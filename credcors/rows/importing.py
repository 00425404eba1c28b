"""Import origins in bulk: check every entry with the one validator, plan it, write in one transaction.

The same code serves ``manage.py credcors import`` and the admin's import
page.  Every entry is checked (:func:`check_entries`), then planned against
the existing rows of its origin, read in chunks in one pass
(:func:`plan_import`): it would add a row (:data:`CREATE`), change one
(:data:`UPDATE`) or leave it as it is (:data:`UNCHANGED`).  Planning writes
nothing and locks nothing, so a preview or a dry run of any size leaves
other writers alone.  :func:`import_entries` then writes: nothing unless
every entry is valid, in one transaction that plans again under row locks;
a concurrent writer makes the whole import roll back with a clear "run it
again".  Who may do what is one rule (:func:`refusal`): adding a row needs
the add permission, changing one the change permission; the command line
runs as the operator, with both.

Reading a file into entries (its size limit, the text and JSON formats) is
:mod:`credcors.rows.import_format`.  Problems are
:class:`~credcors.rows.import_format.ImportProblem` with a message ready to show;
every value from the file is quoted with :func:`credcors.core.quoting.safe`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.quoting import scrub
from credcors.core.scopes import ScopeError
from credcors.models import AllowedOrigin, canonicalize_origin, validate_policy
from credcors.rows.edit import host_scope, on_hosts, save_rows
from credcors.rows.import_format import BAD_ENTRY, Entry, ImportProblem
from credcors.rows.lifetime import LifetimeError, describe, parse_expiry

__all__ = [
    "CREATE",
    "MAX_REPORTED_ERRORS",
    "READ_CHUNK",
    "UNCHANGED",
    "UPDATE",
    "Checked",
    "ImportReport",
    "Planned",
    "check_entries",
    "import_entries",
    "plan_import",
    "refusal",
    "with_policy",
]

#: How many invalid entries an import reports before summarizing the rest.
MAX_REPORTED_ERRORS = 20
#: Origins looked up per query: below every backend's limit on parameters (SQLite's was 999).
READ_CHUNK = 500
#: What importing an entry does to the table.
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"


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
    #: Its hosts as the row stores them (``""``: every host), or ``None``: leave the row's as they are.
    hosts: str | None = None


class Planned(NamedTuple):
    """What importing one valid entry does: its :data:`CREATE`, :data:`UPDATE` or :data:`UNCHANGED`."""

    checked: Checked
    kind: str
    #: The fields to set, by name (every field, for a new row).
    values: dict[str, Any]
    #: The changes in words, for an update (``"enabled"``, ``"policy partners"``).
    changes: tuple[str, ...]
    #: The row's policy once the entry is imported.
    policy: str


#: An entry that says nothing about expiry leaves a row's as it is.
KEEP: Any = object()


def plan_digest(planned: Iterable[Planned]) -> str:
    """What a plan does, line by line, as a short digest: a confirmation compares it with what was previewed."""
    seen = sorted(
        (item.checked.entry.where, item.checked.origin, item.kind, item.changes, item.policy) for item in planned
    )
    return hashlib.sha256(repr(seen).encode()).hexdigest()


#: Why a confirmation imported nothing: the rows it names changed after the preview staff saw.
CHANGED_SINCE_PREVIEW = (
    "the rows this import names changed since it was previewed (someone else added, changed or removed one, "
    "or this preview was confirmed already); nothing was imported. Preview the list again."
)


def refusal(kind: str, *, may_create: bool, may_change: bool) -> str:
    """Why a user with these permissions may not import an entry of this kind; ``""`` when they may."""
    if kind == CREATE and not may_create:
        return "adding a row needs the add permission"
    if kind == UPDATE and not may_change:
        return "changing an existing row needs the change permission"
    return ""


def check_entries(entries: Sequence[Entry]) -> tuple[list[Checked], list[str]]:
    """Each valid entry with its canonical origin and expiry, and a message for every invalid one.

    An entry's policy must be a configured one (see :func:`credcors.models.validate_policy`), and its
    hosts hosts that ``ALLOWED_HOSTS`` accepts (see :func:`credcors.rows.edit.host_scope`).
    """
    errors: list[str] = []
    seen: dict[str, str] = {}
    canonical: list[Checked] = []
    now = timezone.now()
    for entry in entries:
        if entry.origin is BAD_ENTRY:
            errors.append(
                f'{entry.where}: expected an origin string or {{"origin": "...", "enabled": true, "note": "...", '
                '"expires_at": "2026-12-31T18:00:00Z", "hosts": ["api.example.com"]}} with nothing else in it.'
            )
            continue
        try:
            # For the policy the entry names (new rows without one go to the
            # default policy); save() checks an existing row's own policy again.
            origin = canonicalize_origin(entry.origin, DEFAULT_POLICY if entry.policy is None else entry.policy)
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
            # "" is no policy name: never read as "the default".
            validate_policy(DEFAULT_POLICY if entry.policy is None else entry.policy)
        except ValidationError as exc:
            errors.append(f"{entry.where}: {scrub(' '.join(exc.messages), 400)}")
            continue
        if entry.trust_for_csrf and "*" in origin:
            errors.append(f"{entry.where}: {origin} is a pattern; only an exact origin can be trusted for CSRF.")
            continue
        unstorable = _unstorable(entry.note or "")
        if unstorable:
            errors.append(f"{entry.where}: the note holds {unstorable}, which the database cannot store; remove it.")
            continue
        hosts = None
        if entry.hosts is not None:
            try:
                hosts = host_scope(entry.hosts)
            except ScopeError as exc:
                errors.append(f"{entry.where}: hosts: {scrub(exc.message, 400)}")
                continue
        seen[origin] = entry.where
        canonical.append(Checked(entry, origin, expires, hosts))
    return canonical, errors


def _unstorable(text: str) -> str:
    # What a text column cannot hold: PostgreSQL refuses NUL, and no
    # database driver can encode a lone surrogate (JSON's "\ud800") as UTF-8.
    if "\x00" in text:
        return "a NUL character (\\x00)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate (\\u{ord(text[exc.start]):04x})"
    return ""


def plan_import(canonical: Sequence[Checked]) -> list[Planned]:
    """What importing the checked entries would do, from one chunked read of their rows; nothing is written.

    No row is locked and no transaction is opened: other writers go on while
    a big import is previewed.  :func:`import_entries` plans again, under
    locks, before it writes.
    """
    return _plan(canonical, _existing([checked.origin for checked in canonical], lock=False))


#: The columns an import plans with (and the primary key, to update a row).
_COLUMNS = ("pk", "origin", "enabled", "note", "policy", "hosts", "trust_for_csrf", "expires_at")


def _existing(origins: Iterable[str], *, lock: bool) -> dict[str, Any]:
    # The rows of these origins (their _COLUMNS, no model instances: 100,000
    # of those cost seconds), READ_CHUNK origins a query, in origin order;
    # locked in that order too (see _apply).
    ordered = sorted(origins)
    rows: dict[str, Any] = {}
    for start in range(0, len(ordered), READ_CHUNK):
        query = AllowedOrigin.objects.filter(origin__in=ordered[start : start + READ_CHUNK]).order_by("origin")
        if lock:
            query = query.select_for_update()
        rows.update((row.origin, row) for row in query.values_list(*_COLUMNS, named=True))
    return rows


def _plan(canonical: Sequence[Checked], rows: Mapping[str, Any]) -> list[Planned]:
    return [_plan_one(checked, rows.get(checked.origin)) for checked in canonical]


def _plan_one(checked: Checked, row: Any) -> Planned:
    entry, origin, expires, hosts = checked
    enabled = True if entry.enabled is None else entry.enabled
    if row is None:
        policy = entry.policy or DEFAULT_POLICY
        values = {
            "origin": origin,
            "enabled": enabled,
            "note": entry.note or "",
            "policy": policy,
            "trust_for_csrf": bool(entry.trust_for_csrf),
            "expires_at": None if expires is KEEP else expires,
            "hosts": hosts or "",
        }
        return Planned(checked, CREATE, values, (), policy)
    values = {}
    changes = []
    if row.enabled != enabled:
        values["enabled"] = enabled
        changes.append("enabled" if enabled else "disabled")
    if entry.note is not None and row.note != entry.note:
        values["note"] = entry.note
        changes.append("note")
    if entry.policy is not None and row.policy != entry.policy:
        values["policy"] = entry.policy
        changes.append(f"policy {entry.policy}")
    if entry.trust_for_csrf is not None and row.trust_for_csrf != entry.trust_for_csrf:
        values["trust_for_csrf"] = entry.trust_for_csrf
        changes.append("trusted for CSRF" if entry.trust_for_csrf else "not trusted for CSRF")
    if expires is not KEEP and row.expires_at != expires:
        values["expires_at"] = expires
        changes.append(f"expires {describe(expires)}")
    if hosts is not None and row.hosts != hosts:
        values["hosts"] = hosts
        changes.append(on_hosts(hosts))
    return Planned(checked, UPDATE if values else UNCHANGED, values, tuple(changes), entry.policy or row.policy)


def import_entries(
    entries: Sequence[Entry],
    name: str,
    *,
    dry_run: bool = False,
    policy: str | None = None,
    user: Any = None,
    may_create: bool = True,
    may_change: bool = True,
    expect: str | None = None,
) -> ImportReport:
    """Check every entry, then write them all in one transaction, or raise :class:`ImportProblem`.

    ``policy`` is the policy of entries that name none (a text file's lines).
    With ``user``, each row added or changed gets an entry in the admin's
    history as that user, worded by :mod:`credcors.rows.edit` as every change is.
    ``dry_run`` plans without writing or locking.  Without ``may_create``
    (``may_change``), an entry that would add (change) a row refuses the
    whole import, for the admin's staff without the add (change) permission.
    With ``expect`` (a :func:`plan_digest`), the plan made under locks must
    be that one, or nothing is written: what staff confirmed is what they saw.
    """
    canonical, errors = check_entries(with_policy(entries, policy))
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        if len(errors) > MAX_REPORTED_ERRORS:
            shown.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more.")
        raise ImportProblem(
            f"{name}: {len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}; nothing was imported.\n"
            + "\n".join(shown)
        )
    if dry_run:
        return _report(plan_import(canonical))
    try:
        return _apply(
            canonical,
            name=name,
            user=user,
            may_create=may_create,
            may_change=may_change,
            expect=expect,
        )
    except ValidationError as exc:
        # save() validates each row for its own policy: an entry naming no
        # policy that updates a row of a stricter one (an http:// origin where
        # that policy sends credentials) is refused here, all rolled back.
        raise ImportProblem(f"{name}: {scrub(' '.join(exc.messages), 400)}; nothing was imported.") from None
    except IntegrityError:
        # Another writer added one of these origins after the rows were
        # read: the whole import rolled back, so running it again is safe.
        raise ImportProblem(
            f"{name}: another process added some of these origins during the import; "
            "nothing was imported. Run the import again."
        ) from None


def _report(planned: Iterable[Planned]) -> ImportReport:
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0}
    lines: list[str] = []
    for item in sorted(planned, key=lambda item: item.checked.origin):
        counts[item.kind] += 1
        if item.kind == CREATE:
            lines.append(f"  added     {item.checked.origin}")
        elif item.kind == UPDATE:
            lines.append(f"  updated   {item.checked.origin} ({', '.join(item.changes)})")
    return ImportReport(counts[CREATE], counts[UPDATE], counts[UNCHANGED], lines)


def _apply(
    canonical: Sequence[Checked],
    *,
    name: str,
    user: Any,
    may_create: bool,
    may_change: bool,
    expect: str | None,
) -> ImportReport:
    # Plan again under row locks, then write, in one transaction.
    with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
        # Rows are locked, and new ones inserted, in origin order: two imports
        # of overlapping files then wait for each other instead of
        # deadlocking, and one adding an origin the other just added fails
        # on the unique constraint, which says "run it again".
        rows = _existing([checked.origin for checked in canonical], lock=True)
        planned = sorted(_plan(canonical, rows), key=lambda item: item.checked.origin)
        if expect is not None and plan_digest(planned) != expect:
            raise ImportProblem(f"{name}: {CHANGED_SINCE_PREVIEW}")
        for item in planned:
            reason = refusal(item.kind, may_create=may_create, may_change=may_change)
            if reason:
                # The preview leaves out what the user may not do; this is the
                # table having changed between that preview and these locks.
                raise ImportProblem(
                    f"{name}: {item.checked.entry.where}: {item.checked.origin} would "
                    f"{'be added' if item.kind == CREATE else 'change an existing row'}, and {reason}; "
                    "nothing was imported. If a preview allowed it, the table changed since: preview again."
                )
        updates = [item for item in planned if item.kind == UPDATE]
        changed = _instances([rows[item.checked.origin].pk for item in updates])
        saving: list[tuple[AllowedOrigin, Mapping[str, Any] | None]] = [
            (AllowedOrigin(**item.values), None) for item in planned if item.kind == CREATE
        ]
        for item in updates:
            stored = rows[item.checked.origin]
            row = changed[stored.pk]
            for column, value in item.values.items():
                setattr(row, column, value)
            saving.append((row, stored._asdict()))
        # The one write path: the model's rules, and history worded as every other change's.
        save_rows(saving, user=user)
    return _report(planned)


def _instances(pks: Sequence[int]) -> dict[int, AllowedOrigin]:
    # The rows to update, as model instances (save() validates and signals
    # as every change does), READ_CHUNK a query; _apply holds their locks.
    rows: dict[int, AllowedOrigin] = {}
    for start in range(0, len(pks), READ_CHUNK):
        rows.update((row.pk, row) for row in AllowedOrigin.objects.filter(pk__in=pks[start : start + READ_CHUNK]))
    return rows


def with_policy(entries: Sequence[Entry], policy: str | None) -> list[Entry]:
    """``entries``, those that name no policy given ``policy`` (``None``: left as they are)."""
    if policy is None:
        return list(entries)
    return [entry if entry.policy is not None else replace(entry, policy=policy) for entry in entries]
