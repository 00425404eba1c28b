"""The revision the database keeps for ``AllowedOrigin``: triggers, reads, checks, repair.

Run on every backend credcors installs triggers for: SQLite (default),
``DATABASE_URL=postgres://...`` and ``DATABASE_URL=mysql://...``.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from credcors.checks import check_revision_backend, check_revision_triggers
from credcors.core.compile import RowRecord
from credcors.models import AllowedOrigin
from credcors.store import revision_sql
from credcors.store.revision import (
    CHANGE_TABLE,
    ORIGIN_TABLE,
    REVISION_ROW,
    REVISION_TABLE,
    install_triggers,
    is_supported,
    missing_objects,
    read_changes,
    read_revision,
    triggers_installed,
    uninstall_triggers,
)

PARTNER = "https://partner.example.net"
OTHER = "https://other.example.net"
# Standard SQL all three backends accept, so raw writes need no per-backend text.
INSERT = (
    f"INSERT INTO {ORIGIN_TABLE} (origin, enabled, note, created_at, updated_at) "
    "VALUES ('{origin}', TRUE, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def _revision() -> int:
    value = read_revision("default")
    assert value is not None
    return value


@contextmanager
def other_connection() -> Iterator[Any]:
    """A second DB-API connection to the test database, outside Django (another service)."""
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        yield raw
    finally:
        raw.close()


def _execute(raw: Any, sql: str) -> None:
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def _logs_changes() -> bool:
    return revision_sql.BACKENDS[connection.vendor].logs_changes


@pytest.fixture
def change_log() -> None:
    """Skip where the triggers keep no change log (MySQL: see ``revision_sql.MYSQL`` for the measured cost)."""
    if not _logs_changes():
        pytest.skip(f"the {connection.vendor} triggers keep no change log; a change reads every row there")


@pytest.fixture
def repaired() -> Iterator[None]:
    """Rebuild the revision objects after a test broke them (MySQL cannot roll DDL back)."""
    yield
    with transaction.atomic():
        uninstall_triggers(connection)
        install_triggers(connection)
    assert triggers_installed("default")


def test_origin_table_is_the_models_table() -> None:
    assert AllowedOrigin._meta.db_table == ORIGIN_TABLE


# -- A migrated database ----------------------------------------------------


@pytest.mark.django_db
def test_migrated_database_keeps_revision_and_reports_nothing() -> None:
    assert is_supported("default")
    assert triggers_installed("default")
    assert missing_objects("default") == ()
    assert isinstance(read_revision("default"), int)
    assert check_revision_backend() == []
    assert check_revision_triggers(databases=["default"]) == []


@pytest.mark.django_db(transaction=True)
def test_poll_in_autocommit_is_one_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1) as captured:
        read_revision("default")
    assert "revision" in captured.captured_queries[0]["sql"]


# -- Every way of writing moves it --------------------------------------------


@pytest.mark.django_db
def test_orm_save_update_and_delete_each_move_revision() -> None:
    seen = [_revision()]
    row = AllowedOrigin.objects.create(origin=PARTNER)
    seen.append(_revision())
    row.note = "renamed"
    row.save()
    seen.append(_revision())
    row.delete()
    seen.append(_revision())

    assert seen == sorted(set(seen))


@pytest.mark.django_db
def test_queryset_update_bulk_create_and_queryset_delete_each_move_revision() -> None:
    seen = [_revision()]
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=PARTNER), AllowedOrigin(origin=OTHER)])
    seen.append(_revision())
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
    seen.append(_revision())
    AllowedOrigin.objects.all().delete()
    seen.append(_revision())

    assert seen == sorted(set(seen))


@pytest.mark.django_db
def test_rolled_back_change_keeps_revision() -> None:
    AllowedOrigin.objects.create(origin=OTHER)
    before = _revision()

    with transaction.atomic():
        AllowedOrigin.objects.create(origin=PARTNER)
        AllowedOrigin.objects.filter(origin=OTHER).update(enabled=False)
        assert _revision() > before  # the writer sees its own bump ...
        transaction.set_rollback(True)

    assert _revision() == before  # ... and it is rolled back with the rows.


@pytest.mark.django_db
def test_revision_only_grows_over_many_changes() -> None:
    seen = [_revision()]
    for number in range(5):
        row = AllowedOrigin.objects.create(origin=f"https://n{number}.example.net")
        seen.append(_revision())
        AllowedOrigin.objects.filter(pk=row.pk).update(note="x")
        seen.append(_revision())

    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


@pytest.mark.django_db(transaction=True)
def test_raw_sql_from_another_connection_moves_revision_when_it_commits() -> None:
    before = _revision()
    with other_connection() as raw:
        _execute(raw, INSERT.format(origin=PARTNER))
        if connection.vendor != "sqlite":
            # Uncommitted: neither the row nor the bump is visible.  (A shared
            # in-memory SQLite database refuses to read a table another
            # connection is writing, so there is no "meanwhile" to look at.)
            assert _revision() == before
            assert not AllowedOrigin.objects.filter(origin=PARTNER).exists()
        raw.commit()
        inserted = _revision()
        assert inserted > before
        assert AllowedOrigin.objects.filter(origin=PARTNER).exists()

        _execute(raw, f"UPDATE {ORIGIN_TABLE} SET enabled = FALSE WHERE origin = '{PARTNER}'")
        raw.commit()
        updated = _revision()
        assert updated > inserted

        _execute(raw, f"DELETE FROM {ORIGIN_TABLE} WHERE origin = '{PARTNER}'")
        raw.commit()
        assert _revision() > updated


@pytest.mark.django_db(transaction=True)
def test_emptying_the_table_moves_revision_except_mysql_truncate() -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    before = _revision()
    with other_connection() as raw:
        # SQLite skips its truncate optimization when the table has triggers.
        _execute(raw, f"DELETE FROM {ORIGIN_TABLE}")
        raw.commit()
        emptied = _revision()
        assert emptied > before
        AllowedOrigin.objects.create(origin=PARTNER)
        refilled = _revision()
        if connection.vendor == "sqlite":
            return  # SQLite has no TRUNCATE.
        _execute(raw, f"TRUNCATE TABLE {ORIGIN_TABLE}")
        raw.commit()
    if connection.vendor == "mysql":
        # MySQL fires no trigger on TRUNCATE: documented, and asserted so
        # that the day it does, this test says so.
        assert _revision() == refilled
    else:
        assert _revision() > refilled


# Per backend: this session's id, and whether the session with id %s waits for a lock.
_SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_WAITS_FOR_LOCK = {
    "postgresql": "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
    # MariaDB's INNODB_TRX showed such a waiter as LOCK WAIT, as RUNNING, or
    # not at all (it is a cache), so here the test only sees the statement
    # still executing; both bumps landing is checked all the same.
    "mysql": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND COMMAND = 'Query' "
    "AND INFO IS NOT NULL",
}


def _wait_until(condition: Callable[[], bool], seconds: float = 30, explain: Callable[[], object] = str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {explain()}"
        time.sleep(0.01)


_SESSIONS = {
    "postgresql": "SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity "
    "WHERE datname = current_database()",
    "mysql": "SELECT p.ID, p.COMMAND, p.STATE, p.INFO, t.trx_state FROM information_schema.PROCESSLIST p "
    "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.DB = DATABASE()",
}


def _sessions() -> list[tuple[object, ...]]:
    """What every session of the test database is doing, for a timeout's message."""
    with connection.cursor() as cursor:
        cursor.execute(_SESSIONS[connection.vendor])
        return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_take_turns_and_both_bump() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serializes writers on its database lock; there is no revision row lock to wait on")
    before = _revision()
    second_done = threading.Event()
    errors: list[BaseException] = []

    with other_connection() as first, other_connection() as second:
        cursor = second.cursor()
        cursor.execute(_SESSION_ID[connection.vendor])
        second_id = int(cursor.fetchone()[0])
        cursor.close()

        def second_writer() -> None:
            try:
                _execute(second, INSERT.format(origin=OTHER))
                second.commit()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                second_done.set()

        def second_waits() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(_WAITS_FOR_LOCK[connection.vendor], [second_id])
                return bool(cursor.fetchone()[0])

        _execute(first, INSERT.format(origin=PARTNER))  # holds the revision row until it commits
        worker = threading.Thread(target=second_writer)
        worker.start()
        _wait_until(second_waits, explain=_sessions)  # the second writer waits for the revision row ...
        assert not second_done.is_set()
        first.commit()  # ... until the first commits.
        assert second_done.wait(timeout=30)
        worker.join(timeout=30)
    assert errors == []
    assert _revision() == before + 2
    assert set(AllowedOrigin.objects.values_list("origin", flat=True)) == {PARTNER, OTHER}


# -- The change log ---------------------------------------------------------


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_log_names_rows_changed_by_orm_update_bulk_create_and_delete() -> None:
    since = _revision()
    first = AllowedOrigin.objects.create(origin=PARTNER)
    gone, kept = AllowedOrigin.objects.bulk_create(
        [AllowedOrigin(origin="https://gone.example.net"), AllowedOrigin(origin=OTHER)]
    )
    middle = _revision()
    gone_pk = gone.pk
    AllowedOrigin.objects.filter(pk=kept.pk).update(enabled=False)
    gone.delete()
    until = _revision()

    changes = read_changes("default", since, until)

    assert changes is not None
    assert changes.ids == {first.pk, gone_pk, kept.pk}
    assert changes.rows == ((PARTNER, first.pk, "default", False, None, ""),)  # kept is disabled, gone deleted
    later = read_changes("default", middle, until)
    assert later is not None
    assert later.ids == {gone_pk, kept.pk}
    assert later.rows == ()


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_log_carries_the_row_record_whose_fields_are_the_columns_read() -> None:
    since = _revision()
    row = AllowedOrigin.objects.create(origin=PARTNER, trust_for_csrf=True)

    changes = read_changes("default", since, _revision())

    assert changes is not None
    [record] = changes.rows
    assert type(record) is RowRecord
    assert (record.origin, record.pk, record.policy, record.trust_for_csrf) == (PARTNER, row.pk, "default", True)
    # One list of columns: every field of the record is one the model has, so a read by it cannot drift.
    assert set(RowRecord._fields) - {"pk"} <= {field.name for field in AllowedOrigin._meta.concrete_fields}


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db(transaction=True)
def test_change_log_names_rows_changed_by_raw_sql_elsewhere() -> None:
    since = _revision()
    with other_connection() as raw:
        _execute(raw, INSERT.format(origin=PARTNER))
        _execute(raw, INSERT.format(origin=OTHER))
        _execute(raw, f"DELETE FROM {ORIGIN_TABLE} WHERE origin = '{OTHER}'")
        raw.commit()

    changes = read_changes("default", since, _revision())

    assert changes is not None
    [(origin, pk, policy, trust, expires, hosts)] = changes.rows
    assert (origin, policy, trust, expires, hosts) == (PARTNER, "default", False, None, "")
    assert len(changes.ids) == 2  # the row inserted and the one inserted then deleted
    assert pk in changes.ids


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_log_reads_many_rows_in_chunks() -> None:
    since = _revision()
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=f"https://n{n}.example.net") for n in range(700)])

    changes = read_changes("default", since, _revision())

    assert changes is not None
    assert [row[0] for row in changes.rows] == [f"https://n{n}.example.net" for n in range(700)]
    assert changes.ids == {row[1] for row in changes.rows}


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_log_cannot_answer_so_every_row_is_read() -> None:
    start = _revision()
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=f"https://n{n}.example.net") for n in range(3)])
    now = _revision()

    assert read_changes("default", start, now, limit=3) is not None
    assert read_changes("default", start, now, limit=2) is None  # too many rows: read them all
    assert read_changes("default", now, now) is None  # not moved: nothing to read
    assert read_changes("default", now, start) is None  # moved backwards: a restored dump


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_statement_changing_more_rows_than_logged_reads_everything_on_postgresql() -> None:
    since = _revision()
    count = revision_sql.LOGGED_ROWS_PER_STATEMENT + 1
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=f"https://n{n}.example.net") for n in range(count)])

    changes = read_changes("default", since, _revision())

    if connection.vendor == "postgresql":
        assert changes is None  # one "anything may have changed" entry
    else:  # row triggers log every row
        assert changes is not None
        assert len(changes.rows) == count


@pytest.mark.django_db(transaction=True)
def test_truncate_reads_everything_where_it_fires_a_trigger() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; MySQL fires no trigger on it (see the test above)")
    AllowedOrigin.objects.create(origin=PARTNER)
    since = _revision()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ORIGIN_TABLE}")

    assert read_changes("default", since, _revision()) is None


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_writers_prune_the_log_and_readers_behind_it_read_everything() -> None:
    AllowedOrigin.objects.create(origin=OTHER)
    since = _revision()
    # As if KEPT_REVISIONS - 1 changes had happened since: the next one
    # pushes the revision of the first out of the log.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {REVISION_TABLE} SET value = value + {revision_sql.KEPT_REVISIONS - 1} WHERE id = 1")
    AllowedOrigin.objects.create(origin=PARTNER)
    now = _revision()

    assert read_changes("default", since - 1, now) is None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT revision FROM {CHANGE_TABLE} WHERE revision >= %s", [since])
        assert [tuple(row) for row in cursor.fetchall()] == [(now,)]  # the first entry is gone
    changes = read_changes("default", since, now)
    assert changes is not None
    assert [row[0] for row in changes.rows] == [PARTNER]


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db(transaction=True)  # MySQL commits DDL at once
def test_reinstalling_empties_the_log() -> None:
    AllowedOrigin.objects.create(origin=OTHER)
    since = _revision()
    with transaction.atomic():
        install_triggers(connection)
    AllowedOrigin.objects.create(origin=PARTNER)
    now = _revision()

    assert read_changes("default", since, now) is None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT revision FROM {CHANGE_TABLE}")
        assert [tuple(row) for row in cursor.fetchall()] == [(now,)]


@pytest.mark.django_db
@pytest.mark.usefixtures("change_log")
def test_unreadable_change_log_raises_rather_than_reads_nothing() -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {CHANGE_TABLE} RENAME COLUMN row_id TO renamed")

    with pytest.raises(DatabaseError):
        read_changes("default", 1, _revision())


@pytest.mark.django_db(transaction=True)  # MySQL commits DDL at once
def test_backend_without_change_log_reads_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = revision_sql.BACKENDS[connection.vendor]
    monkeypatch.setitem(revision_sql.BACKENDS, connection.vendor, dataclasses.replace(backend, logs_changes=False))
    with transaction.atomic():
        install_triggers(connection)
    assert triggers_installed("default")
    since = _revision()
    AllowedOrigin.objects.create(origin=PARTNER)

    assert read_changes("default", since, _revision()) is None


# -- A broken set-up is found --------------------------------------------------


def _drop_one_trigger() -> None:
    name = revision_sql.BACKENDS[connection.vendor].objects[0]
    suffix = f" ON {ORIGIN_TABLE}" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {name}{suffix}")


def _disable_trigger() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL can disable a trigger")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {ORIGIN_TABLE} DISABLE TRIGGER {revision_sql.BACKENDS['postgresql'].objects[0]}")


def _make_trigger_replica_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL has replica-only triggers")
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {ORIGIN_TABLE} ENABLE REPLICA TRIGGER {revision_sql.BACKENDS['postgresql'].objects[1]}"
        )


def _drop_read_function() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL polls through a function")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {revision_sql.BACKENDS['postgresql'].objects[-1]}")


def _recreate_table_by_hand() -> None:
    with connection.schema_editor() as editor:
        editor.delete_model(AllowedOrigin)
        editor.create_model(AllowedOrigin)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("repaired")
@pytest.mark.parametrize(
    "sabotage",
    [_drop_one_trigger, _disable_trigger, _make_trigger_replica_only, _drop_read_function, _recreate_table_by_hand],
)
def test_missing_or_disabled_trigger_is_reported_and_repaired(sabotage: Callable[[], None]) -> None:
    before = _revision()
    sabotage()

    assert not triggers_installed("default")
    assert missing_objects("default") != ()
    assert read_revision("default") is None
    if sabotage is not _drop_read_function:
        assert read_revision("default", verify=False) == before  # what trusting it would have served
    [warning] = check_revision_triggers(databases=["default"])
    assert warning.id == "credcors.W021"
    assert "'default'" in warning.msg
    assert repr(missing_objects("default")[0]) in warning.msg
    assert "install-triggers --database default" in (warning.hint or "")
    # The command the hint names, as an operator runs it.
    err = StringIO()
    call_command("check", "--database", "default", stderr=err)
    assert "credcors.W021" in err.getvalue()

    out = StringIO()
    call_command("credcors", "install-triggers", stdout=out)

    assert "Installed the revision triggers on the database 'default'" in out.getvalue()
    assert triggers_installed("default")
    after = _revision()
    assert after > before  # every process reloads once ...
    assert read_changes("default", before, after) is None  # ... all rows: the log missed changes meanwhile
    assert check_revision_triggers(databases=["default"]) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("repaired")
def test_missing_revision_table_reads_none_and_is_named() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {REVISION_TABLE}")

    assert read_revision("default") is None
    assert read_revision("default", verify=False) is None
    assert missing_objects("default") == (REVISION_TABLE,)
    [warning] = check_revision_triggers(databases=["default"])
    assert repr(REVISION_TABLE) in warning.msg


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("repaired")
def test_unreadable_revision_table_raises_rather_than_reads_none() -> None:
    # The table is there but the query fails: nothing says "unchanged", and
    # nothing says "not set up" either; the caller must keep its snapshot.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {REVISION_TABLE} RENAME COLUMN value TO renamed")

    with pytest.raises(DatabaseError):
        read_revision("default")
    with pytest.raises(DatabaseError):
        read_revision("default", verify=False)


@pytest.mark.django_db
def test_failed_poll_inside_a_transaction_leaves_it_usable() -> None:
    if connection.vendor == "mysql":
        pytest.skip("MySQL commits DDL at once, so the test cannot break the table inside its transaction")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {REVISION_TABLE} RENAME COLUMN value TO renamed")

    with transaction.atomic():
        with pytest.raises(DatabaseError):
            read_revision("default")
        assert AllowedOrigin.objects.count() == 0  # PostgreSQL would refuse in an aborted transaction


@pytest.mark.django_db(transaction=True)
def test_migration_reverses_to_nothing_and_reapplies() -> None:
    call_command("migrate", "credcors", "0001", verbosity=0)
    try:
        with connection.cursor() as cursor:
            assert REVISION_TABLE not in connection.introspection.table_names(cursor)
        assert read_revision("default") is None
        tables = {REVISION_TABLE, CHANGE_TABLE} if _logs_changes() else {REVISION_TABLE}
        expected = {*tables, *revision_sql.BACKENDS[connection.vendor].objects}
        assert set(missing_objects("default")) == expected
        # Not migrated yet: Django reports the unapplied migration, not credcors.
        assert check_revision_triggers(databases=["default"]) == []
    finally:
        call_command("migrate", "credcors", verbosity=0)
    assert triggers_installed("default")
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _revision() > 1


# -- Checks and the command, beyond the triggers ------------------------------


def test_trigger_check_without_databases_queries_nothing() -> None:
    # No django_db mark: a query would fail the test.
    assert check_revision_triggers() == []
    assert check_revision_triggers(databases=None) == []


@pytest.mark.django_db
def test_trigger_check_ignores_database_the_router_keeps_allowedorigin_off(settings) -> None:
    settings.DATABASE_ROUTERS = ["tests.store.test_revision.NoCredcorsRouter"]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {REVISION_TABLE}")  # would read as "not set up" otherwise

    assert check_revision_triggers(databases=["default"]) == []


class NoCredcorsRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if app_label == "credcors" else None


@pytest.mark.django_db
def test_deleted_revision_row_reads_none_and_is_reported() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {REVISION_TABLE}")

    assert read_revision("default") is None
    assert read_revision("default", verify=False) is None
    assert missing_objects("default") == (REVISION_ROW,)
    assert read_changes("default", 1, 2) is None
    [warning] = check_revision_triggers(databases=["default"])
    assert repr(REVISION_ROW) in warning.msg


@pytest.mark.django_db
def test_unapplied_revision_migration_is_not_reported() -> None:
    MigrationRecorder(connection).record_unapplied("credcors", "0002_revision")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {REVISION_TABLE}")

    assert check_revision_triggers(databases=["default"]) == []


# -- Backends without triggers ------------------------------------------------


@pytest.fixture
def unsupported_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "vendor", "oracle")


@pytest.mark.django_db
@pytest.mark.usefixtures("unsupported_backend")
def test_unsupported_backend_polls_nothing_and_installs_nothing(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert not is_supported("default")
        assert read_revision("default") is None
        assert read_changes("default", 1, 2) is None
        assert missing_objects("default") == ()
        assert not triggers_installed("default")
        install_triggers(connection)
        uninstall_triggers(connection)
        assert check_revision_triggers(databases=["default"]) == []


@pytest.mark.usefixtures("unsupported_backend")
def test_unsupported_backend_warns_that_every_row_is_read_every_interval() -> None:
    [warning] = check_revision_backend()

    assert warning.id == "credcors.W020"
    assert isinstance(warning, checks.Warning)
    assert "'default'" in warning.msg
    assert "'oracle'" in warning.msg
    assert "REFRESH_SECONDS" in warning.msg
    assert "PostgreSQL, SQLite or MySQL/MariaDB" in (warning.hint or "")


@pytest.mark.usefixtures("unsupported_backend")
def test_unsupported_backend_without_database_rows_warns_nothing(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "USE_DATABASE": False}

    assert check_revision_backend() == []


@pytest.mark.usefixtures("unsupported_backend")
def test_install_triggers_command_refuses_unsupported_backend() -> None:
    with pytest.raises(CommandError, match="'default' uses the 'oracle' backend"):
        call_command("credcors", "install-triggers", "--database", "default")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("repaired")
def test_install_triggers_command_without_the_table_says_to_migrate() -> None:
    with connection.schema_editor() as editor:
        editor.delete_model(AllowedOrigin)
    try:
        with pytest.raises(CommandError, match=r"has 'manage\.py migrate' been run"):
            call_command("credcors", "install-triggers")
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(AllowedOrigin)
