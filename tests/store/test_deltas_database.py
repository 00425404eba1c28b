"""The store on a real database: which changes it applies from the change log, and when it reads everything.

Run on SQLite by default and on PostgreSQL with ``DATABASE_URL=postgres://...``;
where the triggers keep no change log (MySQL) the tests that need one skip.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credcors import conf
from credcors.core.decide import decide
from credcors.models import AllowedOrigin
from credcors.store import revision_sql
from credcors.store.current import get_store
from credcors.store.loader import VERIFY_SECONDS
from credcors.store.revision import CHANGE_TABLE, ORIGIN_TABLE, REVISION_TABLE, install_triggers, uninstall_triggers
from tests.conftest import Clock, queries_fail, table_reads_fail
from tests.store.test_revision import INSERT, _execute, other_connection

APP = "https://app.example.com"  # tests.settings allows it
PARTNER = "https://partner.example.net"
OTHER = "https://other.example.net"
ROWS = f'SELECT "{ORIGIN_TABLE}"."origin"'


@pytest.fixture
def change_log() -> None:
    """Skip where the triggers keep no change log (see tests/store/test_revision.py)."""
    if not revision_sql.BACKENDS[connection.vendor].logs_changes:
        pytest.skip(f"the {connection.vendor} triggers keep no change log; a change reads every row there")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="credcors")
    return caplog


def _count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records if record.name == "credcors")


def _full_loads(caplog: pytest.LogCaptureFixture) -> int:
    return _count(caplog, "allow-list loaded")


def _deltas(caplog: pytest.LogCaptureFixture) -> int:
    return _count(caplog, "allow-list changed")


def _allowed(origin: str) -> bool:
    return decide(get_store().get(), "GET", origin).allowed


def _row_reads(queries: list[dict[str, Any]]) -> list[str]:
    """The reads of ``AllowedOrigin`` rows: ``IN`` for the changed ones, none for all of them."""
    return [query["sql"] for query in queries if query["sql"].startswith(ROWS)]


def _reads_everything(queries: list[dict[str, Any]]) -> bool:
    return any(f'"{ORIGIN_TABLE}"."id" IN' not in sql for sql in _row_reads(queries))


# -- Applied from the change log ----------------------------------------------


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db(transaction=True)
def test_row_saved_by_orm_is_applied_from_the_log_reading_that_row_alone(
    clock: Clock, logs: pytest.LogCaptureFixture, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    first = get_store().get()
    assert _full_loads(logs) == 1

    AllowedOrigin.objects.create(origin=OTHER)  # on commit: this process looks again at once
    # The revision, the change log's ids, how far back the log reaches, the new row.
    with django_assert_num_queries(4) as captured:
        assert _allowed(OTHER)
    sql = [query["sql"] for query in captured.captured_queries]
    assert "revision" in sql[0]
    assert CHANGE_TABLE in sql[1]
    assert REVISION_TABLE in sql[2]
    assert "pruned" in sql[2]
    assert sql[3].startswith(ROWS)
    assert f'"{ORIGIN_TABLE}"."id" IN' in sql[3]
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)
    assert _allowed(PARTNER)
    assert first.rows == 1  # the snapshot served before is untouched
    assert get_store().loaded_rows == 2


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db(transaction=True)
def test_rows_changed_by_raw_sql_elsewhere_are_applied_at_the_next_poll(
    clock: Clock, logs: pytest.LogCaptureFixture, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)

    with other_connection() as raw:
        _execute(raw, INSERT.format(origin=OTHER))
        _execute(raw, f"UPDATE {ORIGIN_TABLE} SET enabled = FALSE WHERE origin = '{PARTNER}'")
        raw.commit()
    assert _allowed(PARTNER)  # no signal here: not before the next poll
    clock.advance(5)
    with django_assert_num_queries(4) as captured:
        get_store().get()

    assert not _reads_everything(captured.captured_queries)
    assert _allowed(OTHER)
    assert not _allowed(PARTNER)
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)
    assert get_store().loaded_rows == 1

    with other_connection() as raw:
        _execute(raw, f"DELETE FROM {ORIGIN_TABLE} WHERE origin = '{OTHER}'")
        raw.commit()
    clock.advance(5)
    assert not _allowed(OTHER)
    assert (_full_loads(logs), _deltas(logs)) == (1, 2)
    assert get_store().loaded_rows == 0


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_invalid_row_from_raw_sql_is_counted_then_fixed_then_deleted(
    clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)
    assert (get_store().loaded_rows, get_store().invalid_rows) == (1, 0)

    with connection.cursor() as cursor:
        cursor.execute(INSERT.format(origin="https://Raw.example.net"))
    clock.advance(5)
    assert not _allowed("https://raw.example.net")
    assert (get_store().loaded_rows, get_store().invalid_rows) == (2, 1)
    assert _count(logs, "not in canonical form") == 1

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ORIGIN_TABLE} SET origin = 'https://raw.example.net' WHERE origin = 'https://Raw.example.net'"
        )
    clock.advance(5)
    assert _allowed("https://raw.example.net")
    assert (get_store().loaded_rows, get_store().invalid_rows) == (2, 0)

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ORIGIN_TABLE} WHERE origin = 'https://raw.example.net'")
    clock.advance(5)
    assert not _allowed("https://raw.example.net")
    assert (get_store().loaded_rows, get_store().invalid_rows) == (1, 0)
    assert (_full_loads(logs), _deltas(logs)) == (1, 3)


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_row_moved_to_another_policy_and_trusted_for_csrf_is_applied_from_the_log(
    settings: Any, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": [APP],
        "POLICIES": {"partners": {"USE_DATABASE": True, "ALLOWED_ORIGINS": [], "ALLOW_CREDENTIALS": True}},
    }
    row = AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)

    AllowedOrigin.objects.filter(pk=row.pk).update(policy="partners", trust_for_csrf=True)
    clock.advance(5)
    snapshot = get_store().get()

    assert not decide(snapshot, "GET", PARTNER).allowed
    assert decide(snapshot, "GET", PARTNER, policy="partners").source == row.pk
    assert snapshot.trusts_for_csrf(PARTNER, "partners")
    assert not snapshot.trusts_for_csrf(PARTNER, "default")
    assert (snapshot.default.rows, snapshot.policies["partners"].rows) == (0, 1)
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)


# -- Read everything instead ------------------------------------------------


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_involving_a_pattern_row_reads_and_compiles_everything(
    clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)

    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://*.partner.example.net")])  # no signal
    clock.advance(5)
    with CaptureQueriesContext(connection) as captured:
        get_store().get()

    reads = _row_reads(captured.captured_queries)
    assert len(reads) == 2  # the changed row from the log, then every row
    assert _reads_everything(captured.captured_queries)
    assert _allowed("https://eu.partner.example.net")
    assert (_full_loads(logs), _deltas(logs)) == (2, 0)

    AllowedOrigin.objects.filter(origin="https://*.partner.example.net").delete()
    clock.advance(5)
    assert not _allowed("https://eu.partner.example.net")
    assert (_full_loads(logs), _deltas(logs)) == (3, 0)
    # Exact rows again: back to the log.
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
    clock.advance(5)
    assert not _allowed(PARTNER)
    assert (_full_loads(logs), _deltas(logs)) == (3, 1)


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_log_pruned_behind_the_loaded_revision_reads_everything(clock: Clock, logs: pytest.LogCaptureFixture) -> None:
    AllowedOrigin.objects.create(origin=OTHER)
    assert _allowed(OTHER)
    # As if KEPT_REVISIONS - 1 changes had happened since (see
    # tests/store/test_revision.py): the next one prunes the loaded revision's entry.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {REVISION_TABLE} SET value = value + {revision_sql.KEPT_REVISIONS - 1} WHERE id = 1")
    AllowedOrigin.objects.filter(origin=OTHER).update(enabled=False)
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=PARTNER)])
    clock.advance(5)
    with CaptureQueriesContext(connection) as captured:
        get_store().get()

    assert _row_reads(captured.captured_queries) != []
    assert _reads_everything(captured.captured_queries)
    assert _allowed(PARTNER)
    assert not _allowed(OTHER)
    assert (_full_loads(logs), _deltas(logs)) == (2, 0)
    assert get_store().loaded_rows == 1


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_change_log_read_failing_keeps_the_last_snapshot_and_logs_once(
    clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)
    served = get_store().get()
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=OTHER)])

    with queries_fail(CHANGE_TABLE) as failed:
        for _ in range(2):
            clock.advance(5)
            assert get_store().get() is served  # neither the change nor settings-only: what was served
    assert len(failed) == 2  # tried again at the next poll, and only then
    errors = [r.getMessage() for r in logs.records if r.name == "credcors" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "OperationalError" in errors[0]
    assert "still serving the 1 database rows loaded before" in errors[0]

    clock.advance(5)
    assert _allowed(OTHER)
    assert not _allowed(PARTNER)
    assert _count(logs, "the database answers again;") == 1
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)  # the change, from the log once it answered


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_changed_rows_read_failing_keeps_the_last_snapshot(clock: Clock, logs: pytest.LogCaptureFixture) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    served = get_store().get()
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)

    with queries_fail(f'"{ORIGIN_TABLE}"."id" IN') as failed:
        clock.advance(5)
        assert get_store().get() is served
    assert len(failed) == 1

    clock.advance(5)
    assert not _allowed(PARTNER)
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)


@pytest.mark.django_db
def test_changed_settings_compile_anew_from_every_row(
    settings: Any, clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "ALLOW_INSECURE_ORIGINS": True}
    AllowedOrigin.objects.create(origin="http://intranet.example.net")
    assert _allowed("http://intranet.example.net")

    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP]}  # nothing in the table changed
    with CaptureQueriesContext(connection) as captured:
        assert not _allowed("http://intranet.example.net")

    assert _reads_everything(captured.captured_queries)
    assert (_full_loads(logs), _deltas(logs)) == (2, 0)
    assert (get_store().loaded_rows, get_store().invalid_rows) == (1, 1)


@pytest.mark.django_db
def test_settings_read_again_compile_anew_though_no_row_changed(clock: Clock, logs: pytest.LogCaptureFixture) -> None:
    # The store compares the config object: one parsed again is new to it
    # (setting_changed resets the whole store besides).
    AllowedOrigin.objects.create(origin=PARTNER)
    first = get_store().get()

    conf.reset()
    get_store().invalidate()
    with CaptureQueriesContext(connection) as captured:
        assert get_store().get() is not first

    assert _reads_everything(captured.captured_queries)
    assert _allowed(PARTNER)
    assert (_full_loads(logs), _deltas(logs)) == (2, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("triggers", [True, False], ids=["revision", "no-triggers"])
def test_outage_while_settings_are_read_again_serves_the_rows_again_once_the_database_answers(
    clock: Clock, logs: pytest.LogCaptureFixture, triggers: bool
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    if not triggers:
        uninstall_triggers(connection)
    try:
        assert _allowed(PARTNER)

        conf.reset()
        get_store().invalidate()
        with table_reads_fail():
            assert _allowed(APP)
            assert not _allowed(PARTNER)  # settings only: never wider than before

        # Nothing changed in the table meanwhile: the rows must be read all the same.
        clock.advance(5)
        assert _allowed(PARTNER)
    finally:
        if not triggers:
            install_triggers(connection)


@pytest.mark.django_db
def test_without_triggers_every_row_is_read_and_compiled_only_when_they_differ(
    clock: Clock, logs: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)
    uninstall_triggers(connection)  # a dump restored without them, say
    try:
        clock.advance(VERIFY_SECONDS)
        with CaptureQueriesContext(connection) as captured:
            first = get_store().get()
        assert _reads_everything(captured.captured_queries)
        loads = _full_loads(logs)

        for _ in range(2):
            clock.advance(5)
            with CaptureQueriesContext(connection) as captured:
                assert get_store().get() is first  # the same rows: the same snapshot, nothing compiled
            assert _reads_everything(captured.captured_queries)
        assert _full_loads(logs) == loads

        AllowedOrigin.objects.filter(origin=PARTNER).update(trust_for_csrf=True)  # the same origins, one flag
        clock.advance(5)
        assert get_store().get().trusts_for_csrf(PARTNER, "default")
        assert _full_loads(logs) == loads + 1
        assert _deltas(logs) == 0
    finally:
        install_triggers(connection)
    # Triggers back: one full read at the revision they bumped, then the log again.
    clock.advance(VERIFY_SECONDS)
    assert _allowed(PARTNER)
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)
    clock.advance(5)
    assert not _allowed(PARTNER)
    if revision_sql.BACKENDS[connection.vendor].logs_changes:
        assert _deltas(logs) == 1


@pytest.mark.usefixtures("change_log")
@pytest.mark.django_db
def test_expiry_set_by_a_change_takes_effect_without_another_query(
    settings: Any, clock: Clock, logs: pytest.LogCaptureFixture, django_assert_num_queries: Any
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "REFRESH_SECONDS": 60}
    row = AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(PARTNER)
    expires = datetime.fromtimestamp(clock.wall() + 30, tz=timezone.utc)

    AllowedOrigin.objects.filter(pk=row.pk).update(expires_at=expires)
    get_store().invalidate()  # what a local commit does
    assert _allowed(PARTNER)
    assert get_store().get().next_expiry == pytest.approx(expires.timestamp())
    assert (_full_loads(logs), _deltas(logs)) == (1, 1)

    clock.advance(31)
    with django_assert_num_queries(0):
        assert not _allowed(PARTNER)
