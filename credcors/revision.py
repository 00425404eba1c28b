"""The allow-list's revision: a counter the database moves whenever ``AllowedOrigin`` changes.

Migration ``0002_revision`` creates a one-row table, ``credcors_revision``, and
triggers on ``credcors_allowedorigin`` that add one to its value on every
INSERT, UPDATE and DELETE, whoever writes: the ORM, ``QuerySet.update()``,
``bulk_create()``, raw SQL, another service.  The bump happens inside the
writer's transaction, so it commits (or rolls back) with the rows: a reader
that sees a new revision sees the rows that made it.  A process then polls
one small row per interval and reads the rows only when the value changed.

- PostgreSQL: one statement-level ``BEFORE`` trigger (``TRUNCATE`` too).  The
  bump locks the revision row until the writer commits, so concurrent writers
  of the allow-list take turns; taking that lock before any row lock keeps
  writers that only use INSERT/UPDATE/DELETE from deadlocking on it.
- SQLite: three row-level triggers (SQLite has no statement triggers; a
  ``DELETE`` without ``WHERE`` still fires them when triggers exist).
  Django's SQLite schema editor rebuilds a table to alter it, which drops its
  triggers: a migration that alters ``AllowedOrigin`` must call
  :func:`install_triggers` again.
- MySQL/MariaDB: three row-level triggers; ``TRUNCATE`` fires none there.

Any other backend gets nothing: :func:`read_revision` answers ``None`` and the
caller reads every row every interval, as before (system check ``W020``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = [
    "ORIGIN_TABLE",
    "REVISION_ROW",
    "REVISION_TABLE",
    "SUPPORTED_VENDORS",
    "install_triggers",
    "is_supported",
    "missing_objects",
    "read_guard",
    "read_revision",
    "triggers_installed",
    "uninstall_triggers",
]

ORIGIN_TABLE = "credcors_allowedorigin"
REVISION_TABLE = "credcors_revision"
#: How :func:`missing_objects` names the table's one row when someone deleted it.
REVISION_ROW = f"{REVISION_TABLE} row id=1"
_BUMP = f"UPDATE {REVISION_TABLE} SET value = value + 1 WHERE id = 1"


_READ = f"SELECT value FROM {REVISION_TABLE} WHERE id = 1"


@dataclass(frozen=True, slots=True)
class _Backend:
    """One backend's SQL.  The Python around it is the same for every backend."""

    install: tuple[str, ...]
    uninstall: tuple[str, ...]
    #: The triggers (and functions) the revision needs, by the names ``find_objects`` selects.
    objects: tuple[str, ...]
    #: Selects the name of each of ``objects`` that exists (and, for a trigger, is enabled).
    find_objects: str
    #: The verified poll: the revision in one row and column, or no row or NULL when
    #: an object is missing.  Without the triggers the value would stand still while
    #: rows change, and a process trusting it would serve a list that never changes.
    read: str


def _row_triggers(create: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    events = ("INSERT", "UPDATE", "DELETE")
    names = tuple(f"{ORIGIN_TABLE}_revision_{event.lower()}" for event in events)
    install = tuple(
        statement
        for name, event in zip(names, events, strict=True)
        for statement in (f"DROP TRIGGER IF EXISTS {name}", create.format(name=name, event=event))
    )
    return names, install, tuple(f"DROP TRIGGER IF EXISTS {name}" for name in names)


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


_PG_TRIGGER = f"{ORIGIN_TABLE}_revision"
_PG_BUMP_FUNCTION = "credcors_bump_revision()"
_PG_READ_FUNCTION = "credcors_read_revision()"
# tgenabled 'D': ALTER TABLE ... DISABLE TRIGGER, which stops the bumps too.
_PG_TRIGGER_ENABLED = (
    f"FROM pg_trigger WHERE tgrelid = to_regclass('{ORIGIN_TABLE}') AND tgname = '{_PG_TRIGGER}' AND tgenabled <> 'D'"
)
_SQLITE_NAMES, _SQLITE_INSTALL, _SQLITE_UNINSTALL = _row_triggers(
    f"CREATE TRIGGER {{name}} AFTER {{event}} ON {ORIGIN_TABLE} FOR EACH ROW BEGIN {_BUMP}; END"
)
_SQLITE_FIND = (
    f"FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{ORIGIN_TABLE}' AND name IN ({_listed(_SQLITE_NAMES)})"
)
_MYSQL_NAMES, _MYSQL_INSTALL, _MYSQL_UNINSTALL = _row_triggers(
    f"CREATE TRIGGER {{name}} AFTER {{event}} ON {ORIGIN_TABLE} FOR EACH ROW {_BUMP}"
)
_MYSQL_FIND = (
    "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    f"AND EVENT_OBJECT_TABLE = '{ORIGIN_TABLE}' AND TRIGGER_NAME IN ({_listed(_MYSQL_NAMES)})"
)

_BACKENDS: dict[str, _Backend] = {
    "postgresql": _Backend(
        install=(
            f"CREATE TABLE IF NOT EXISTS {REVISION_TABLE} "
            "(id smallint PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)",
            f"INSERT INTO {REVISION_TABLE} (id, value) VALUES (1, 1) ON CONFLICT (id) DO NOTHING",
            # search_path is pinned: another service writing the table with a
            # different search_path must still find the revision table, or
            # its writes would fail.
            f"CREATE OR REPLACE FUNCTION {_PG_BUMP_FUNCTION} RETURNS trigger LANGUAGE plpgsql "
            f"SET search_path FROM CURRENT AS $$ BEGIN {_BUMP}; RETURN NULL; END $$",
            f"DROP TRIGGER IF EXISTS {_PG_TRIGGER} ON {ORIGIN_TABLE}",
            f"CREATE TRIGGER {_PG_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {ORIGIN_TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_BUMP_FUNCTION}",
            # The verified poll as a function: PL/pgSQL keeps its plans for the
            # session, so checking pg_trigger costs no planning per poll (the
            # same query sent as SQL took 4-5 times as long as the plain read).
            f"CREATE OR REPLACE FUNCTION {_PG_READ_FUNCTION} RETURNS bigint LANGUAGE plpgsql STABLE AS $$ BEGIN "
            f"IF EXISTS (SELECT 1 {_PG_TRIGGER_ENABLED}) THEN RETURN ({_READ}); END IF; RETURN NULL; END $$",
        ),
        uninstall=(
            f"DROP FUNCTION IF EXISTS {_PG_READ_FUNCTION}",
            f"DROP TRIGGER IF EXISTS {_PG_TRIGGER} ON {ORIGIN_TABLE}",
            f"DROP FUNCTION IF EXISTS {_PG_BUMP_FUNCTION}",
            f"DROP TABLE IF EXISTS {REVISION_TABLE}",
        ),
        objects=(_PG_TRIGGER, _PG_READ_FUNCTION),
        find_objects=f"SELECT tgname {_PG_TRIGGER_ENABLED} "
        f"UNION ALL SELECT '{_PG_READ_FUNCTION}' WHERE to_regprocedure('{_PG_READ_FUNCTION}') IS NOT NULL",
        read=f"SELECT {_PG_READ_FUNCTION}",
    ),
    "sqlite": _Backend(
        install=(
            f"CREATE TABLE IF NOT EXISTS {REVISION_TABLE} "
            "(id integer PRIMARY KEY CHECK (id = 1), value integer NOT NULL)",
            f"INSERT OR IGNORE INTO {REVISION_TABLE} (id, value) VALUES (1, 1)",
            *_SQLITE_INSTALL,
        ),
        uninstall=(*_SQLITE_UNINSTALL, f"DROP TABLE IF EXISTS {REVISION_TABLE}"),
        objects=_SQLITE_NAMES,
        find_objects=f"SELECT name {_SQLITE_FIND}",
        read=f"{_READ} AND (SELECT COUNT(*) {_SQLITE_FIND}) = {len(_SQLITE_NAMES)}",
    ),
    "mysql": _Backend(
        install=(
            f"CREATE TABLE IF NOT EXISTS {REVISION_TABLE} (id smallint NOT NULL PRIMARY KEY CHECK (id = 1), "
            "value bigint NOT NULL)",
            f"INSERT IGNORE INTO {REVISION_TABLE} (id, value) VALUES (1, 1)",
            *_MYSQL_INSTALL,
        ),
        uninstall=(*_MYSQL_UNINSTALL, f"DROP TABLE IF EXISTS {REVISION_TABLE}"),
        objects=_MYSQL_NAMES,
        find_objects=f"SELECT TRIGGER_NAME {_MYSQL_FIND}",
        # information_schema.TRIGGERS costs milliseconds on MariaDB: see read_revision(verify=False).
        read=f"{_READ} AND (SELECT COUNT(*) {_MYSQL_FIND}) = {len(_MYSQL_NAMES)}",
    ),
}

#: ``connection.vendor`` values credcors installs triggers for (MariaDB's is ``"mysql"``).
SUPPORTED_VENDORS = frozenset(_BACKENDS)


def is_supported(using: str) -> bool:
    """Whether the database ``using`` can keep a revision (no query: the backend decides)."""
    return connections[using].vendor in _BACKENDS


def install_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create the revision table (keeping its value) and (re)create the triggers.

    Safe to run again: it replaces what is there, then bumps the revision, so
    every process reloads once (rows may have changed while triggers were
    missing).  Does nothing on an unsupported backend.  Run it inside a
    transaction where the backend has transactional DDL.
    """
    backend = _BACKENDS.get(connection.vendor)
    if backend is None:
        return
    with connection.cursor() as cursor:
        for statement in (*backend.install, _BUMP):
            cursor.execute(statement)


def uninstall_triggers(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers, the function and the revision table (whatever of them exists)."""
    backend = _BACKENDS.get(connection.vendor)
    if backend is None:
        return
    with connection.cursor() as cursor:
        for statement in backend.uninstall:
            cursor.execute(statement)


def read_guard(connection: BaseDatabaseWrapper) -> contextlib.AbstractContextManager[object]:
    """A savepoint inside someone's transaction, nothing in autocommit.

    Inside a transaction a failed query must not poison it (PostgreSQL aborts
    the whole transaction on any error); in autocommit one SELECT needs no
    BEGIN/COMMIT, which would triple the round trips of every poll.
    """
    if connection.in_atomic_block or not connection.get_autocommit():
        return transaction.atomic(using=connection.alias)
    return contextlib.nullcontext()


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
    backend = _BACKENDS.get(connection.vendor)
    if backend is None:
        return None
    try:
        with read_guard(connection), connection.cursor() as cursor:
            cursor.execute(backend.read if verify else _READ)
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
    backend = _BACKENDS.get(connection.vendor)
    if backend is None:
        return ()
    missing: list[str] = []
    with read_guard(connection), connection.cursor() as cursor:
        if REVISION_TABLE not in connection.introspection.table_names(cursor):
            missing.append(REVISION_TABLE)
        else:
            cursor.execute(f"SELECT COUNT(*) FROM {REVISION_TABLE} WHERE id = 1")
            if cursor.fetchone()[0] == 0:
                missing.append(REVISION_ROW)
        cursor.execute(backend.find_objects)
        present = {row[0] for row in cursor.fetchall()}
    return (*missing, *(name for name in backend.objects if name not in present))


def triggers_installed(using: str) -> bool:
    """Whether database ``using`` keeps a revision: supported, and every revision object in place."""
    return is_supported(using) and not missing_objects(using)
