"""The snapshot store: query counts, refresh schedule, commit invalidation, failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from credcors.core.decide import decide
from credcors.models import AllowedOrigin
from credcors.signals import invalidate_on_commit
from credcors.store.current import get_store
from credcors.store.loader import VERIFY_SECONDS
from tests.conftest import Clock, refresh_held_in_another_thread, table_reads_fail
from tests.helpers import allowed

APP = "https://app.example.com"
PARTNER = "https://partner.example.net"
TABLE = AllowedOrigin._meta.db_table


def _loads(caplog: pytest.LogCaptureFixture) -> int:
    return sum("allow-list loaded" in record.getMessage() for record in caplog.records)


def _credcors_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "credcors" and r.levelno == level]


# -- Query counts -------------------------------------------------------------


@pytest.mark.django_db
def test_warm_request_makes_no_query(client: Client, django_assert_num_queries: Any, clock: Clock) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")  # loads the snapshot

    with django_assert_num_queries(0):
        assert allowed(client, PARTNER, "/api/recorded")
        assert allowed(client, APP, "/api/recorded")
        assert not allowed(client, "https://evil.example.com", "/api/recorded")
        preflight = {"Origin": PARTNER, "Access-Control-Request-Method": "PUT"}
        assert client.options("/api/recorded", headers=preflight).status_code == 204


@pytest.mark.django_db(transaction=True)
def test_due_snapshot_with_nothing_changed_costs_one_small_query(
    client: Client, django_assert_num_queries: Any, clock: Clock
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    # The revision, then the rows: the default policy's origins, ids and hosts, and the rows that are not plain.
    with django_assert_num_queries(3) as captured:
        assert allowed(client, PARTNER, "/api/recorded")
    assert "revision" in captured.captured_queries[0]["sql"]
    assert captured.captured_queries[1]["sql"].startswith(
        f'SELECT "{TABLE}"."origin", "{TABLE}"."id", "{TABLE}"."hosts"'
    )

    clock.advance(5)
    with django_assert_num_queries(1) as captured:
        assert allowed(client, PARTNER, "/api/recorded")
    assert "revision" in captured.captured_queries[0]["sql"]  # A table on SQLite, a function on PostgreSQL.
    with django_assert_num_queries(0):
        assert allowed(client, PARTNER, "/api/recorded")

    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)  # The revision moves.
    clock.advance(5)
    # The revision, the change log's ids and how far back it reaches, then the changed row alone.
    with django_assert_num_queries(4) as captured:
        assert not allowed(client, PARTNER, "/api/recorded")
    last = captured.captured_queries[3]["sql"]
    assert last.startswith(f'SELECT "{TABLE}"."origin"')
    assert f'"{TABLE}"."id" IN' in last


@pytest.mark.django_db
def test_database_off_makes_no_query_even_cold(settings, client: Client, django_assert_num_queries: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "USE_DATABASE": False}

    with django_assert_num_queries(0):
        assert allowed(client, APP, "/api/recorded")


# -- Refresh schedule ----------------------------------------------------------


@pytest.mark.django_db
def test_saved_row_visible_right_after_commit(
    client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    assert not allowed(client, PARTNER, "/api/recorded")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        AllowedOrigin.objects.create(origin=PARTNER)
    # Not committed yet (the clock is frozen, so no scheduled refresh either).
    assert not allowed(client, PARTNER, "/api/recorded")

    for callback in callbacks:
        callback()
    assert allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_deleted_and_disabled_rows_refused_right_after_commit(
    client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    kept = AllowedOrigin.objects.create(origin=PARTNER)
    gone = AllowedOrigin.objects.create(origin="https://gone.example.net")
    assert allowed(client, PARTNER, "/api/recorded")
    assert allowed(client, "https://gone.example.net", "/api/recorded")

    with django_capture_on_commit_callbacks(execute=True):
        gone.delete()
    assert not allowed(client, "https://gone.example.net", "/api/recorded")

    kept.enabled = False
    with django_capture_on_commit_callbacks(execute=True):
        kept.save()
    assert not allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_queryset_update_picked_up_after_refresh_seconds(settings, client: Client, clock: Clock) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "REFRESH_SECONDS": 30}
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")

    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)  # sends no signal

    clock.advance(29.9)
    assert allowed(client, PARTNER, "/api/recorded")  # still within REFRESH_SECONDS
    clock.advance(0.1)
    assert not allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_bulk_create_with_invalidate_on_commit_is_visible_at_once(
    client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    assert not allowed(client, PARTNER, "/api/recorded")

    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=PARTNER)])
        invalidate_on_commit()

    assert allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_refresh_with_same_rows_keeps_compiled_snapshot(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credcors")
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    first = get_store().get()

    clock.advance(60)
    assert allowed(client, PARTNER, "/api/recorded")

    assert get_store().get() is first
    assert _loads(caplog) == 1
    assert get_store().loaded_rows == 1


@pytest.mark.django_db
def test_refresh_with_new_rows_compiles_new_snapshot(client: Client, clock: Clock) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    first = get_store().get()

    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://second.example.net")])
    clock.advance(60)

    assert allowed(client, "https://second.example.net", "/api/recorded")
    assert allowed(client, PARTNER, "/api/recorded")
    assert get_store().get() is not first
    assert get_store().loaded_rows == 2


@pytest.mark.django_db
def test_decision_names_the_database_row(client: Client) -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER)

    decision = decide(get_store().get(), "GET", PARTNER)

    assert decision.allowed
    assert decision.source == row.pk


@pytest.mark.django_db
def test_origin_in_settings_and_database_is_attributed_to_settings(client: Client) -> None:
    AllowedOrigin.objects.create(origin=APP)

    assert decide(get_store().get(), "GET", APP).source is None  # settings


# -- Rows written around the model -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored",
    ["https://Partner.example.net", "https://partner.example.net/", "https://partner.example.net:443", " " + PARTNER],
)
def test_non_canonical_row_written_by_update_is_ignored(
    client: Client, caplog: pytest.LogCaptureFixture, stored: str
) -> None:
    row = AllowedOrigin.objects.create(origin="https://placeholder.example.net")
    AllowedOrigin.objects.filter(pk=row.pk).update(origin=stored)

    assert not allowed(client, PARTNER, "/api/recorded")
    assert not allowed(client, stored, "/api/recorded")
    assert allowed(client, APP, "/api/recorded")  # the rest of the allow-list still works
    assert any("ignoring" in message for message in _credcors_records(caplog, logging.WARNING))


@pytest.mark.django_db
def test_rows_inserted_by_raw_sql_are_validated(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with connection.cursor() as cursor:
        for origin in ("https://raw.example.net", "https://RAW2.example.net", "*", "https://*.com"):
            cursor.execute(
                f"INSERT INTO {TABLE} (origin, enabled, note, created_at, updated_at) "
                "VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                [origin, True],
            )

    assert allowed(client, "https://raw.example.net", "/api/recorded")
    assert not allowed(client, "https://raw2.example.net", "/api/recorded")
    assert not allowed(client, "https://any.com", "/api/recorded")
    assert get_store().loaded_rows == 4
    assert len([m for m in _credcors_records(caplog, logging.WARNING) if "ignoring" in m]) == 3


@pytest.mark.django_db
def test_row_valid_only_under_old_settings_is_ignored_after_change(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOW_INSECURE_ORIGINS": True}
    AllowedOrigin.objects.create(origin="http://intranet.example.net")
    assert allowed(client, "http://intranet.example.net", "/api/recorded")

    settings.CREDCORS = {"ALLOW_INSECURE_ORIGINS": False}

    assert not allowed(client, "http://intranet.example.net", "/api/recorded")


# -- Database failures ---------------------------------------------------------


@pytest.mark.django_db
def test_database_outage_keeps_last_snapshot_and_logs_once(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")

    with table_reads_fail() as failed:
        clock.advance(5)
        assert allowed(client, PARTNER, "/api/recorded")
        per_poll = len(failed)
        assert per_poll > 0
        clock.advance(5)
        assert allowed(client, PARTNER, "/api/recorded")
        assert not allowed(client, "https://evil.example.com", "/api/recorded")
    assert len(failed) == 2 * per_poll  # Tried again at the next poll, and only then.
    errors = _credcors_records(caplog, logging.ERROR)
    assert len(errors) == 1
    assert "OperationalError" in errors[0]
    assert "server closed" not in errors[0]

    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
    clock.advance(5)
    assert not allowed(client, PARTNER, "/api/recorded")
    assert any("answers again" in m for m in _credcors_records(caplog, logging.WARNING))


@pytest.mark.django_db
def test_database_outage_on_first_load_serves_settings_only(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    with table_reads_fail():
        assert allowed(client, APP, "/api/recorded")
        assert not allowed(client, PARTNER, "/api/recorded")
    assert len(_credcors_records(caplog, logging.ERROR)) == 1


@pytest.mark.django_db
def test_missing_table_serves_settings_only_with_warning_and_recovers(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_gone")

    assert allowed(client, APP, "/api/recorded")
    assert not allowed(client, PARTNER, "/api/recorded")
    clock.advance(5)
    assert allowed(client, APP, "/api/recorded")
    warnings = _credcors_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "migrate" in warnings[0]
    # The failed read ran in a savepoint: the surrounding transaction is intact
    # (PostgreSQL would refuse every further statement otherwise).
    assert User.objects.count() == 0

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE}_gone RENAME TO {TABLE}")
    clock.advance(5)
    assert allowed(client, PARTNER, "/api/recorded")
    assert "answers again" in _credcors_records(caplog, logging.WARNING)[-1]


# -- Settings changes ----------------------------------------------------------


@pytest.mark.django_db
def test_changed_credcors_setting_takes_effect_on_next_request(settings, client: Client, clock: Clock) -> None:
    assert allowed(client, APP, "/api/recorded")

    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://new.example.com"]}
    assert not allowed(client, APP, "/api/recorded")
    assert allowed(client, "https://new.example.com", "/api/recorded")

    with override_settings(CREDCORS={"ALLOWED_ORIGINS": [APP], "USE_DATABASE": False}):
        assert allowed(client, APP, "/api/recorded")
        assert not allowed(client, "https://new.example.com", "/api/recorded")
    assert allowed(client, "https://new.example.com", "/api/recorded")


@pytest.mark.django_db
def test_changed_database_routers_reload_rows(settings, client: Client, clock: Clock) -> None:
    assert allowed(client, APP, "/api/recorded")

    settings.DATABASE_ROUTERS = []

    with CaptureQueriesContext(connection) as captured:
        assert allowed(client, APP, "/api/recorded")
    assert [q["sql"] for q in captured.captured_queries if TABLE in q["sql"]] != []


@pytest.mark.django_db
def test_unrelated_setting_change_keeps_snapshot(
    settings, client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    assert allowed(client, APP, "/api/recorded")

    settings.USE_THOUSAND_SEPARATOR = True

    with django_assert_num_queries(0):
        assert allowed(client, APP, "/api/recorded")


# -- Concurrency ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_requests_during_slow_refresh_are_served_from_current_snapshot(
    client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    # Another process's change (bulk_create sends no signal here): a local
    # commit would make the next request here reload before answering.
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://later.example.net")])
    clock.advance(5)

    # Another thread is refreshing: this one neither waits nor queries.
    with refresh_held_in_another_thread(), django_assert_num_queries(0):
        assert allowed(client, PARTNER, "/api/recorded")
        assert not allowed(client, "https://later.example.net", "/api/recorded")
    with django_assert_num_queries(0):
        assert allowed(client, "https://later.example.net", "/api/recorded")


@pytest.mark.django_db
def test_refresh_when_not_due_returns_current_snapshot_without_query(
    client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    assert allowed(client, APP, "/api/recorded")
    current = get_store().get()

    with django_assert_num_queries(0):
        assert get_store().refresh() is current


@pytest.mark.django_db(transaction=True)
def test_commit_during_refresh_keeps_the_next_request_due(clock: Clock, django_assert_num_queries: Any) -> None:
    get_store().get()
    clock.advance(5)
    with refresh_held_in_another_thread():
        # The refresh has read the old rows; a commit lands now.
        get_store().invalidate()
    # The finished refresh must not have hidden the commit for REFRESH_SECONDS.
    with django_assert_num_queries(1):
        get_store().get()


@pytest.mark.django_db(transaction=True)
def test_commit_landing_while_a_refresh_schedules_the_next_check_is_not_lost(
    clock: Clock, django_assert_num_queries: Any
) -> None:
    # The lost invalidation: a commit's invalidate() that lands after the
    # refresh read its rows, exactly while it writes when to look next, used
    # to be overwritten, and the saving process served the old rows for
    # REFRESH_SECONDS.  Here the commit lands at the refresh's first clock
    # reading after its read of the table, deterministically.
    get_store().get()
    # Another process's change (no signal here), so the refresh reads the rows.
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=PARTNER)])
    clock.advance(5)
    rows_read = False

    def note_rows_read(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal rows_read
        result = execute(sql, params, many, context)
        rows_read = rows_read or sql.startswith(f'SELECT "{TABLE}"."origin"')
        return result

    landed = False

    def commit_lands() -> None:
        nonlocal rows_read, landed
        if rows_read:
            rows_read = False
            clock.on_call = None
            landed = True
            get_store().invalidate()

    clock.on_call = commit_lands
    with connection.execute_wrapper(note_rows_read):
        get_store().get()
    assert landed, "the refresh never read the clock after reading the rows"

    with django_assert_num_queries(1):
        get_store().get()


@pytest.mark.django_db
def test_table_gone_after_rows_were_loaded_says_the_loaded_rows_are_still_served(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_gone")

    # The revision poll checks its triggers every VERIFY_SECONDS; they went
    # with the table, so that poll falls back to reading the rows.
    clock.advance(VERIFY_SECONDS)
    assert allowed(client, PARTNER, "/api/recorded")  # Fail closed is "keep the last good list", not "widen".
    warnings = _credcors_records(caplog, logging.WARNING)
    assert warnings == [
        "credcors: the AllowedOrigin table does not exist; still serving the 1 database rows loaded before "
        "until you run 'manage.py migrate'."
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE}_gone RENAME TO {TABLE}")


@pytest.mark.django_db
def test_missing_revision_triggers_fall_back_to_full_reads_with_one_warning(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture, django_assert_num_queries: Any
) -> None:
    from credcors.store.revision import install_triggers, uninstall_triggers

    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    uninstall_triggers(connection)  # A dump restored without them, say.
    try:
        for _ in range(3):
            clock.advance(VERIFY_SECONDS)
            assert allowed(client, PARTNER, "/api/recorded")
        warnings = [m for m in _credcors_records(caplog, logging.WARNING) if "triggers are missing" in m]
        assert len(warnings) == 1
        assert "install-triggers" in warnings[0]
        # Reading every row, never trusting a revision that no longer moves.
        AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
        clock.advance(5)
        assert not allowed(client, PARTNER, "/api/recorded")
    finally:
        install_triggers(connection)
    clock.advance(VERIFY_SECONDS)
    assert not allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_a_dropped_update_trigger_is_noticed_at_the_next_poll_and_rows_are_read_until_it_is_back(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from credcors.store.revision import install_triggers
    from credcors.store.revision_sql import BACKENDS

    trigger = next(name for name in BACKENDS[connection.vendor].objects if name.endswith("_update"))
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    drop = f"DROP TRIGGER {trigger} ON {TABLE}" if connection.vendor == "postgresql" else f"DROP TRIGGER {trigger}"
    with connection.cursor() as cursor:
        cursor.execute(drop)
    try:
        # Free to check on PostgreSQL and SQLite, so every poll does: the
        # first one after the drop reads every row instead of trusting a
        # revision (or a change log) that no longer sees updates.
        for enabled in (False, True, False):
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {TABLE} SET enabled = %s WHERE origin = %s", [enabled, PARTNER])
            clock.advance(5)
            assert allowed(client, PARTNER, "/api/recorded") is enabled
        warnings = [m for m in _credcors_records(caplog, logging.WARNING) if "triggers are missing" in m]
        assert len(warnings) == 1
    finally:
        install_triggers(connection)
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=True)
    clock.advance(5)
    assert allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db(transaction=True)
def test_where_checking_triggers_costs_a_poll_checks_them_once_a_minute(
    client: Client, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MySQL/MariaDB's case (information_schema costs milliseconds), on the backend at hand.
    from credcors.store.revision_sql import READ

    monkeypatch.setattr("credcors.store.loader.verifies_for_free", lambda alias: False)
    AllowedOrigin.objects.create(origin=PARTNER)

    def poll_sql() -> str:
        clock.advance(5)
        with CaptureQueriesContext(connection) as captured:
            assert allowed(client, PARTNER, "/api/recorded")
        [query] = [str(q["sql"]) for q in captured.captured_queries if "revision" in q["sql"]]
        return query

    assert allowed(client, PARTNER, "/api/recorded")  # The first poll checks.
    assert poll_sql() == READ  # Then, within the minute, the plain one-row read.
    clock.advance(VERIFY_SECONDS)
    assert poll_sql() != READ  # A minute later it checks again.
    assert poll_sql() == READ


# -- MAX_STALE_SECONDS: how long an outage may keep serving rows -------------------

KEPT = "https://kept.example.net"


def _stale_bound(settings: Any, seconds: float = 30) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "REFRESH_SECONDS": 5, "MAX_STALE_SECONDS": seconds}


@pytest.mark.django_db
def test_row_disabled_before_an_outage_is_dropped_after_max_stale_seconds_and_rows_return_with_the_database(
    settings, client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    _stale_bound(settings)
    caplog.set_level(logging.INFO, logger="credcors")
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin=KEPT)
    assert allowed(client, PARTNER, "/api/recorded")
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)  # Elsewhere, just before the outage.

    with table_reads_fail() as failed:
        clock.advance(5)
        assert allowed(client, PARTNER, "/api/recorded")  # The poll failed: the last rows are served meanwhile.
        clock.advance(24.9)
        assert allowed(client, PARTNER, "/api/recorded")
        clock.advance(0.1)  # 30 s since the database last answered.
        assert not allowed(client, PARTNER, "/api/recorded")
        assert not allowed(client, KEPT, "/api/recorded")  # Every row goes: the process cannot tell which changed.
        assert allowed(client, APP, "/api/recorded")  # The settings' origins stay.
        clock.advance(60)
        assert not allowed(client, PARTNER, "/api/recorded")
        assert failed
    dropped = [m for m in _credcors_records(caplog, logging.WARNING) if "MAX_STALE_SECONDS" in m]
    assert dropped == [
        "credcors: no answer from the database for 30 s (MAX_STALE_SECONDS); no longer serving its 2 rows, "
        "only the settings' origins, until it answers again."
    ]
    (outage,) = _credcors_records(caplog, logging.ERROR)
    assert "then the settings' origins only, 30 s after its last answer: MAX_STALE_SECONDS" in outage

    clock.advance(5)
    assert allowed(client, KEPT, "/api/recorded")
    assert not allowed(client, PARTNER, "/api/recorded")  # Disabled: the database says so now.
    assert get_store().loaded_rows == 1
    returned = [m for m in _credcors_records(caplog, logging.INFO) if "rows again" in m]
    assert returned == [
        "credcors: serving the database rows again (1), dropped for MAX_STALE_SECONDS during the outage."
    ]


@pytest.mark.django_db
def test_without_max_stale_seconds_an_outage_serves_the_last_rows_however_long(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)

    with table_reads_fail():
        for _ in range(100):
            clock.advance(3600)
            assert allowed(client, PARTNER, "/api/recorded")
    assert not any("MAX_STALE_SECONDS" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_max_stale_seconds_drops_rows_while_a_poll_hangs_with_no_query_on_the_request_path(
    settings, client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    # A database that stops answering rather than refusing: the poll waits in
    # its thread, and requests still stop being served its rows on time.
    _stale_bound(settings)
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    clock.advance(5)

    with refresh_held_in_another_thread():
        clock.advance(24.9)
        with django_assert_num_queries(0):
            assert allowed(client, PARTNER, "/api/recorded")
        clock.advance(0.1)
        with django_assert_num_queries(0):
            assert not allowed(client, PARTNER, "/api/recorded")
            assert allowed(client, APP, "/api/recorded")
    # The poll that hung got its answer at last: the rows are back.
    with django_assert_num_queries(0):
        assert allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_async_request_after_max_stale_seconds_of_outage_gets_the_settings_only(settings, clock: Clock) -> None:
    from asgiref.sync import async_to_sync

    _stale_bound(settings)
    AllowedOrigin.objects.create(origin=PARTNER)
    assert async_to_sync(get_store().aget)().default.index.lookup(PARTNER) is not None

    with table_reads_fail():
        clock.advance(5)
        assert async_to_sync(get_store().aget)().default.index.lookup(PARTNER) is not None
        clock.advance(25)
        snapshot = async_to_sync(get_store().aget)()
    assert snapshot.default.index.lookup(PARTNER) is None
    assert snapshot.default.index.lookup(APP) is not None


@pytest.mark.django_db(transaction=True)
def test_idle_process_past_max_stale_seconds_keeps_its_rows_while_its_first_poll_is_answered(
    settings, client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Nobody asked meanwhile, so nothing went unanswered: the request that
    # wakes the process starts a poll, which gets MAX_STALE_SECONDS less
    # REFRESH_SECONDS to answer, like any poll of a busy process.
    _stale_bound(settings)
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    clock.advance(3600)

    with refresh_held_in_another_thread():
        assert allowed(client, PARTNER, "/api/recorded")
        clock.advance(24.9)
        assert allowed(client, PARTNER, "/api/recorded")
        clock.advance(0.1)
        assert not allowed(client, PARTNER, "/api/recorded")
    assert [m for m in _credcors_records(caplog, logging.WARNING) if "MAX_STALE_SECONDS" in m] != []
