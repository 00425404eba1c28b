"""The allow-list's revision: a counter the database moves whenever ``AllowedOrigin`` changes.

Migration ``0002_revision`` installs triggers on ``credcors_allowedorigin``
that bump a one-row counter on every INSERT, UPDATE and DELETE, whoever
writes: the ORM, ``QuerySet.update()``, ``bulk_create()``, raw SQL, another
service; and, on PostgreSQL and SQLite, log the changed row ids with the
revision (:mod:`credcors.store.revision_sql` has the SQL and the details per backend).  The
bump happens inside the writer's transaction, so it commits (or rolls back)
with the rows: a reader that sees a new revision sees the rows that made it.
A process polls one small row per interval (:func:`read_revision`); when the
value moved it reads the changed rows (:func:`read_changes`) or, when the log
cannot say, all of them.

The bump locks the revision row until the writer commits: concurrent writers
of the allow-list take turns, one commit at a time.  Writes that bypass
triggers (``pg_restore --disable-triggers``, a session with
``session_replication_role = replica``, MySQL's ``TRUNCATE``) do not move
it: run ``manage.py credcors install-triggers`` after them, which bumps the
revision and empties the log.

Django's SQLite schema editor rebuilds a table to alter it, which drops its
triggers: a migration that alters ``AllowedOrigin`` must call
:func:`install_triggers` again.  Any other backend than PostgreSQL, SQLite and
MySQL/MariaDB gets nothing: :func:`read_revision` answers ``None`` and the
caller reads every row every interval, as before (system check ``W020``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from credcors.core.compile import RowRecord
from credcors.store.reads import read_guard
from credcors.store.revision_sql import BACKENDS, CHANGE_TABLE, ORIGIN_TABLE, READ, REVISION_TABLE

__all__ = [
    "CHANGE_TABLE",
    "ORIGIN_TABLE",
    "REVISION_ROW",
    "REVISION_TABLE",
    "Changes",
    "install_triggers",
    "is_supported",
    "missing_objects",
    "read_changes",
    "read_revision",
    "triggers_installed",
    "uninstall_triggers",
    "verifies_for_free",
]

#: How :func:`missing_objects` names the revision table's one row when someone deleted it.
REVISION_ROW = f"{REVISION_TABLE} row id=1"

# Rows read per query by read_changes(): below every backend's limit on parameters.
_CHUNK = 500


def verifies_for_free(using: str) -> bool:
    """Whether a verified poll of database ``using`` costs what an unverified one does (PostgreSQL, SQLite)."""
    backend = BACKENDS.get(connections[using].vendor)
    return backend is not None and backend.verifies_for_free


def is_supported(using: str) -> bool:
    """Whether the database ``using`` can keep a revision (no query: the backend decides)."""
    return connections[using].vendor in BACKENDS


def install_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create the revision tables (keeping the value) and (re)create the triggers and functions.

    Safe to run again: it replaces what is there, then bumps the revision, so
    every process reloads once (rows may have changed while triggers were
    missing).  Does nothing on an unsupported backend.  Run it inside a
    transaction where the backend has transactional DDL.
    """
    backend = BACKENDS.get(connection.vendor)
    if backend is None:
        return
    with connection.cursor() as cursor:
        for statement in backend.install:
            cursor.execute(statement)
        # The log may lack changes made while triggers were missing: readers
        # of an older revision must read every row once.  Writers prune one
        # revision at a time, so older entries go here.
        cursor.execute(f"UPDATE {REVISION_TABLE} SET value = value + 1 WHERE id = 1")
        cursor.execute(f"UPDATE {REVISION_TABLE} SET pruned = value WHERE id = 1")
        if backend.logs_changes:
            cursor.execute(f"DELETE FROM {CHANGE_TABLE}")


def uninstall_triggers(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers, functions and tables (whatever of them exists)."""
    backend = BACKENDS.get(connection.vendor)
    if backend is None:
        return
    with connection.cursor() as cursor:
        for statement in backend.uninstall:
            cursor.execute(statement)


def read_revision(using: str, *, verify: bool = True) -> int | None:
    """The current revision of the ``AllowedOrigin`` table on database ``using``, in one query.

    ``None`` means "no revision to trust; read every row every interval": the
    backend is unsupported, the revision table or its row does not exist
    (migration ``0002`` not applied yet), or, when ``verify`` is true, a trigger
    is missing or disabled.  Any other :class:`~django.db.DatabaseError` is
    raised: the caller must keep its last snapshot rather than believe nothing
    changed.

    ``verify=False`` skips the trigger check.  It costs nothing extra on
    PostgreSQL and SQLite, but milliseconds on MariaDB (information_schema),
    so a poller may verify on its first poll and then every minute or so.

    Compare revisions with ``!=``, not ``<``: a restored dump may bring an
    older value.  Read the revision *before* the rows: a change committed in
    between then shows as a new revision at the next poll, never as a miss.
    """
    connection = connections[using]
    backend = BACKENDS.get(connection.vendor)
    if backend is None:
        return None
    try:
        with read_guard(connection), connection.cursor() as cursor:
            cursor.execute(backend.read if verify else READ)
            row = cursor.fetchone()
    except DatabaseError:
        # "Not set up" is decided by looking, not by parsing the error text:
        # with everything in place the error is real and is raised.  If
        # looking fails too, that error is raised.
        if missing_objects(using):
            return None
        raise
    # No row (SQLite, MySQL) or NULL (PostgreSQL's function): something is missing.
    return None if row is None or row[0] is None else int(row[0])


def missing_objects(using: str) -> tuple[str, ...]:
    """Names of the revision objects that database ``using`` lacks: table, row, triggers (or disabled), functions.

    ``()`` when everything is in place, or when the backend is unsupported.
    """
    connection = connections[using]
    backend = BACKENDS.get(connection.vendor)
    if backend is None:
        return ()
    missing: list[str] = []
    with read_guard(connection), connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        wanted = (REVISION_TABLE, CHANGE_TABLE) if backend.logs_changes else (REVISION_TABLE,)
        missing += [table for table in wanted if table not in tables]
        if REVISION_TABLE in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {REVISION_TABLE} WHERE id = 1")
            if cursor.fetchone()[0] == 0:
                missing.append(REVISION_ROW)
        cursor.execute(backend.find_objects)
        present = {row[0] for row in cursor.fetchall()}
    return (*missing, *(name for name in backend.objects if name not in present))


def triggers_installed(using: str) -> bool:
    """Whether database ``using`` keeps a revision: supported, and every revision object in place."""
    return is_supported(using) and not missing_objects(using)


@dataclass(frozen=True, slots=True)
class Changes:
    """The rows that changed between two revisions, as they are now."""

    #: The ids of every changed row: deleted, disabled, or changed in any column.
    ids: frozenset[int]
    #: Those of them that exist and are enabled, as the store loads rows, by id.
    rows: tuple[RowRecord, ...]


def read_changes(using: str, since: int, until: int, *, limit: int = 10_000) -> Changes | None:
    """The rows changed after revision ``since`` up to ``until``, from the change log.

    ``until`` is a revision :func:`read_revision` just returned.  ``None``
    means "read every row instead": the log no longer reaches back to
    ``since`` (pruned, or reinstalled triggers), it records a change it cannot
    name (``TRUNCATE``, a very large statement), more than ``limit`` rows
    changed, the revision went backwards (a restored dump), or the backend
    keeps no log (MySQL/MariaDB, unsupported ones).  Database errors are
    raised, as by :func:`read_revision`.
    """
    from credcors.models import AllowedOrigin

    connection = connections[using]
    backend = BACKENDS.get(connection.vendor)
    if backend is None or not backend.logs_changes or until <= since:
        return None
    with read_guard(connection), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT row_id FROM {CHANGE_TABLE} WHERE revision > %s AND revision <= %s LIMIT %s",
            [since, until, limit + 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
        # Read after the log: pruned only grows, so a value still at or below
        # ``since`` proves no entry this read needed had been deleted.
        cursor.execute(f"SELECT pruned FROM {REVISION_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    if row is None or row[0] > since or len(ids) > limit or None in ids:
        return None
    wanted = sorted(int(pk) for pk in ids)
    rows: list[RowRecord] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = AllowedOrigin.objects.using(using).filter(pk__in=wanted[start : start + _CHUNK], enabled=True)
        rows += map(RowRecord._make, chunk.order_by("pk").values_list(*RowRecord._fields))
    return Changes(ids=frozenset(wanted), rows=tuple(rows))
