"""The SQL behind :mod:`credcors.store.revision`, per backend: plain data, no I/O.

Objects, all created by migration ``0002_revision``:

- ``credcors_revision``: one row; ``value`` moves on every change of
  ``credcors_allowedorigin``, ``pruned`` is the newest revision whose change
  log entries were deleted.
- ``credcors_change`` (PostgreSQL and SQLite): the change log, one ``(revision, row_id)`` per changed
  row; ``row_id`` NULL means "anything may have changed" (``TRUNCATE``, or a
  PostgreSQL statement that changed more than :data:`LOGGED_ROWS_PER_STATEMENT`
  rows).  Each bump deletes the entries of the revision that falls out of the
  last :data:`KEPT_REVISIONS`: one revision at a time, by equality, because a
  ``revision <= n`` scan would walk every entry deleted since the last vacuum
  (measured: 600 instead of 17,000 single-row UPDATEs a second).
- the triggers that bump ``value``, log, and prune, inside the writer's
  transaction.

PostgreSQL: one ``BEFORE`` statement trigger bumps (so the revision row is
locked before any row of the table: writers that only use INSERT, UPDATE and
DELETE cannot deadlock on it), and three ``AFTER`` statement triggers log the
ids from their transition tables.  SQLite and MySQL/MariaDB have only row
triggers: on SQLite each changed row bumps, logs and prunes; on MySQL it only
bumps (no change log there, see :data:`MYSQL`).  MySQL fires no trigger on
``TRUNCATE``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BACKENDS",
    "CHANGE_TABLE",
    "KEPT_REVISIONS",
    "LOGGED_ROWS_PER_STATEMENT",
    "ORIGIN_TABLE",
    "READ",
    "REVISION_TABLE",
    "Backend",
]

ORIGIN_TABLE = "credcors_allowedorigin"
REVISION_TABLE = "credcors_revision"
CHANGE_TABLE = "credcors_change"
#: Change log entries are kept for this many revisions (PostgreSQL: statements; others: rows).
KEPT_REVISIONS = 10_000
#: A PostgreSQL statement changing more rows logs one "anything may have changed" entry.
LOGGED_ROWS_PER_STATEMENT = 1000

#: The unverified poll.
READ = f"SELECT value FROM {REVISION_TABLE} WHERE id = 1"
_LOG_INDEX = f"{CHANGE_TABLE}_revision"
_EVENTS = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True, slots=True)
class Backend:
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
    #: Whether the triggers keep the change log (``credcors_change``).
    logs_changes: bool
    #: Whether ``read`` costs what the unverified poll costs, so that every poll may verify.
    verifies_for_free: bool = True


def _tables(integer: str, bigint: str, *, logs_changes: bool) -> tuple[str, ...]:
    revision = (
        f"CREATE TABLE IF NOT EXISTS {REVISION_TABLE} (id {integer} NOT NULL PRIMARY KEY CHECK (id = 1), "
        f"value {bigint} NOT NULL, pruned {bigint} NOT NULL)"
    )
    if not logs_changes:
        return (revision,)
    return (
        revision,
        f"CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (revision {bigint} NOT NULL, row_id {bigint})",
        f"CREATE INDEX IF NOT EXISTS {_LOG_INDEX} ON {CHANGE_TABLE} (revision)",
    )


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _row_trigger_backend(
    *,
    integer: str,
    bigint: str,
    logs_changes: bool,
    insert_ignore: str,
    greatest: str,
    find: str,
    name_column: str,
    verifies_for_free: bool = True,
) -> Backend:
    """SQLite and MySQL: three row triggers that each bump (and prune and log, if ``logs_changes``).

    ``find`` selects ``{what}`` from the rows naming the triggers listed in ``{names}``.
    """
    names = tuple(f"{ORIGIN_TABLE}_revision_{event.lower()}" for event in _EVENTS)
    # SET pruned first: MySQL assigns left to right, seeing values already set.
    bump = (
        f"UPDATE {REVISION_TABLE} SET pruned = {greatest}(pruned, value + 1 - {KEPT_REVISIONS}), value = value + 1 "
        "WHERE id = 1; "
    )
    prune = f"DELETE FROM {CHANGE_TABLE} WHERE revision = (SELECT pruned FROM {REVISION_TABLE} WHERE id = 1); "
    log = f"INSERT INTO {CHANGE_TABLE} (revision, row_id) SELECT value, {{row}}.id FROM {REVISION_TABLE} WHERE id = 1"
    logs = {
        "INSERT": f"{prune}{log.format(row='NEW')};",
        # An UPDATE may change the id itself: both ids changed.
        "UPDATE": f"{prune}{log.format(row='NEW')}; {log.format(row='OLD')} AND OLD.id <> NEW.id;",
        "DELETE": f"{prune}{log.format(row='OLD')};",
    }
    if not logs_changes:
        logs = dict.fromkeys(_EVENTS, "")
    install = [
        *_tables(integer, bigint, logs_changes=logs_changes),
        f"{insert_ignore} INTO {REVISION_TABLE} (id, value, pruned) VALUES (1, 1, 1)",
    ]
    for name, event in zip(names, _EVENTS, strict=True):
        install.append(f"DROP TRIGGER IF EXISTS {name}")
        install.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {ORIGIN_TABLE} FOR EACH ROW BEGIN {bump}{logs[event]} END"
        )
    return Backend(
        install=tuple(install),
        uninstall=(
            *(f"DROP TRIGGER IF EXISTS {name}" for name in names),
            f"DROP TABLE IF EXISTS {CHANGE_TABLE}",
            f"DROP TABLE IF EXISTS {REVISION_TABLE}",
        ),
        objects=names,
        find_objects=find.format(names=_listed(names), what=name_column),
        read=f"{READ} AND ({find.format(names=_listed(names), what='COUNT(*)')}) = {len(names)}",
        logs_changes=logs_changes,
        verifies_for_free=verifies_for_free,
    )


_PG_BUMP_TRIGGER = f"{ORIGIN_TABLE}_revision"
_PG_LOG_TRIGGERS = tuple(f"{ORIGIN_TABLE}_log_{event.lower()}" for event in _EVENTS)
_PG_BUMP = "credcors_bump_revision()"
_PG_LOG = "credcors_log_changes()"
_PG_READ = "credcors_read_revision()"
# tgenabled 'O' or 'A': the trigger fires for ordinary sessions.  'D' is
# ALTER TABLE ... DISABLE TRIGGER; 'R' fires only under
# session_replication_role = replica: either way, the bumps would stop.
_PG_TRIGGERS_ENABLED = (
    f"FROM pg_trigger WHERE tgrelid = to_regclass('{ORIGIN_TABLE}') "
    f"AND tgname IN ({_listed((_PG_BUMP_TRIGGER, *_PG_LOG_TRIGGERS))}) AND tgenabled IN ('O', 'A')"
)
_PG_TRANSITION = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows"}
_PG_CHANGED_IDS = {
    "INSERT": "SELECT id FROM new_rows",
    "UPDATE": "SELECT id FROM new_rows UNION SELECT id FROM old_rows",
    "DELETE": "SELECT id FROM old_rows",
}

POSTGRESQL = Backend(
    install=(
        *_tables("smallint", "bigint", logs_changes=True),
        f"INSERT INTO {REVISION_TABLE} (id, value, pruned) VALUES (1, 1, 1) ON CONFLICT (id) DO NOTHING",
        # search_path is pinned in the trigger functions: another service
        # writing the table with a different search_path must still find the
        # revision tables, or its writes would fail.
        f"CREATE OR REPLACE FUNCTION {_PG_BUMP} RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT "
        "AS $$ DECLARE kept bigint; BEGIN "
        f"UPDATE {REVISION_TABLE} SET value = value + 1, pruned = GREATEST(pruned, value + 1 - {KEPT_REVISIONS}) "
        "WHERE id = 1 RETURNING pruned INTO kept; "
        f"DELETE FROM {CHANGE_TABLE} WHERE revision = kept; "
        f"IF TG_OP = 'TRUNCATE' THEN INSERT INTO {CHANGE_TABLE} (revision, row_id) "
        f"SELECT value, NULL FROM {REVISION_TABLE} WHERE id = 1; END IF; "
        "RETURN NULL; END $$",
        f"CREATE OR REPLACE FUNCTION {_PG_LOG} RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT "
        "AS $$ DECLARE ids bigint[]; BEGIN "
        + " ".join(
            f"{'IF' if number == 0 else 'ELSIF'} TG_OP = '{event}' THEN "
            f"ids := ARRAY({_PG_CHANGED_IDS[event]} LIMIT {LOGGED_ROWS_PER_STATEMENT + 1});"
            for number, event in enumerate(_EVENTS)
        )
        + " END IF; "
        f"IF cardinality(ids) > {LOGGED_ROWS_PER_STATEMENT} THEN ids := ARRAY[NULL::bigint]; END IF; "
        f"INSERT INTO {CHANGE_TABLE} (revision, row_id) "
        f"SELECT value, unnest(ids) FROM {REVISION_TABLE} WHERE id = 1; "
        "RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {_PG_BUMP_TRIGGER} ON {ORIGIN_TABLE}",
        f"CREATE TRIGGER {_PG_BUMP_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {ORIGIN_TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_BUMP}",
        *(
            statement
            for name, event in zip(_PG_LOG_TRIGGERS, _EVENTS, strict=True)
            for statement in (
                f"DROP TRIGGER IF EXISTS {name} ON {ORIGIN_TABLE}",
                f"CREATE TRIGGER {name} AFTER {event} ON {ORIGIN_TABLE} "
                f"REFERENCING {_PG_TRANSITION.get(event, 'OLD TABLE AS old_rows')} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_LOG}",
            )
        ),
        # The verified poll as a function: PL/pgSQL keeps its plans for the
        # session, so checking pg_trigger costs no planning per poll (the
        # same query sent as SQL took 4-5 times as long as the plain read).
        f"CREATE OR REPLACE FUNCTION {_PG_READ} RETURNS bigint LANGUAGE plpgsql STABLE AS $$ BEGIN "
        f"IF (SELECT COUNT(*) {_PG_TRIGGERS_ENABLED}) = {1 + len(_PG_LOG_TRIGGERS)} THEN RETURN ({READ}); END IF; "
        "RETURN NULL; END $$",
    ),
    uninstall=(
        f"DROP FUNCTION IF EXISTS {_PG_READ}",
        *(f"DROP TRIGGER IF EXISTS {name} ON {ORIGIN_TABLE}" for name in (_PG_BUMP_TRIGGER, *_PG_LOG_TRIGGERS)),
        f"DROP FUNCTION IF EXISTS {_PG_LOG}",
        f"DROP FUNCTION IF EXISTS {_PG_BUMP}",
        f"DROP TABLE IF EXISTS {CHANGE_TABLE}",
        f"DROP TABLE IF EXISTS {REVISION_TABLE}",
    ),
    objects=(_PG_BUMP_TRIGGER, *_PG_LOG_TRIGGERS, _PG_READ),
    find_objects=f"SELECT tgname {_PG_TRIGGERS_ENABLED} "
    f"UNION ALL SELECT '{_PG_READ}' WHERE to_regprocedure('{_PG_READ}') IS NOT NULL",
    read=f"SELECT {_PG_READ}",
    logs_changes=True,
)

SQLITE = _row_trigger_backend(
    integer="integer",
    bigint="integer",
    logs_changes=True,
    insert_ignore="INSERT OR IGNORE",
    greatest="MAX",
    find=f"SELECT {{what}} FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{ORIGIN_TABLE}' "
    "AND name IN ({names})",
    name_column="name",
)

# No change log: a row trigger that logs and prunes made a 100,000-row INSERT
# take 13.5 s instead of 1 s on MariaDB 10.11 (3 s with the bump alone), so a
# change there reads every row.  information_schema.TRIGGERS costs
# milliseconds on MariaDB: see read_revision(verify=False).
MYSQL = _row_trigger_backend(
    integer="smallint",
    bigint="bigint",
    logs_changes=False,
    insert_ignore="INSERT IGNORE",
    greatest="GREATEST",
    find="SELECT {what} FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    f"AND EVENT_OBJECT_TABLE = '{ORIGIN_TABLE}' AND TRIGGER_NAME IN ({{names}})",
    name_column="TRIGGER_NAME",
    verifies_for_free=False,
)

#: Per ``connection.vendor`` (MariaDB's is ``"mysql"``).
BACKENDS: dict[str, Backend] = {"postgresql": POSTGRESQL, "sqlite": SQLITE, "mysql": MYSQL}
