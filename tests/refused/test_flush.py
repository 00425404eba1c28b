"""Flushing refused origins into RefusedOrigin (SQLite, or PostgreSQL with DATABASE_URL): upserts, eviction, errors."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from credcors.models import RefusedOrigin
from credcors.refused.flush import evict_least_recent, get_refused_log, write_refused
from credcors.refused.recorder import Refused
from tests.conftest import Timers, close_thread_connection, table_reads_fail

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
RECORDING = {"ALLOWED_ORIGINS": ["https://app.example.com"], "USE_DATABASE": False, "RECORD_REFUSED": True}


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc)


def _rows() -> dict[str, tuple[int, str, str]]:
    return {row.origin: (row.count, row.last_path, row.policy) for row in RefusedOrigin.objects.all()}


def test_write_inserts_then_adds_counts() -> None:
    write_refused([Refused("https://a.example.net", 3, T0, T0 + 5, "/api/one", "default")], max_rows=10)
    written = write_refused(
        [
            Refused("https://a.example.net", 2, T0 + 10, T0 + 20, "/api/two", "default"),
            Refused("https://b.example.net", 1, T0 + 11, T0 + 11, "/api/b", "default"),
        ],
        max_rows=10,
    )

    assert written == 2
    assert _rows() == {
        "https://a.example.net": (5, "/api/two", "default"),
        "https://b.example.net": (1, "/api/b", "default"),
    }
    a = RefusedOrigin.objects.get(origin="https://a.example.net")
    assert (a.first_seen, a.last_seen) == (_at(0), _at(20))
    assert str(a) == "https://a.example.net"


def test_one_origin_refused_by_two_policies_is_a_row_for_each() -> None:
    write_refused([Refused("https://a.example.net", 3, T0, T0 + 5, "/api/one", "default")], max_rows=10)
    write_refused(
        [
            Refused("https://a.example.net", 2, T0 + 10, T0 + 20, "/partner/two", "partners"),
            Refused("https://a.example.net", 1, T0 + 10, T0 + 30, "/api/three", "default"),
        ],
        max_rows=10,
    )

    assert _listed() == {("https://a.example.net", "default"): 4, ("https://a.example.net", "partners"): 2}


def test_a_flush_of_new_origins_costs_a_few_queries(django_assert_max_num_queries: Any) -> None:
    batch = [Refused(f"https://o{i}.example.net", 1, T0, T0, "/", "default") for i in range(1000)]

    # Two reads of 500 known origins, the inserts (SQLite fits 142 rows of
    # seven fields in one statement's 999 parameters), the count, and the
    # savepoints: never a query per origin.
    with django_assert_max_num_queries(16):
        write_refused(batch, max_rows=5000)

    assert RefusedOrigin.objects.count() == 1000


def test_write_keeps_at_most_max_rows_evicting_the_least_recently_seen() -> None:
    write_refused(
        [
            Refused("https://often-long-ago.example.net", 50, T0, T0 + 10, "/", "default"),
            Refused("https://once-lately.example.net", 1, T0 + 30, T0 + 30, "/", "default"),
            Refused("https://twice.example.net", 2, T0, T0 + 20, "/", "default"),
            Refused("https://tied.example.net", 7, T0, T0 + 20, "/", "default"),
        ],
        max_rows=10,
    )
    write_refused([Refused("https://new-once.example.net", 1, T0 + 60, T0 + 60, "/", "default")], max_rows=3)

    # The one unseen for longest goes first, whatever its count; among
    # equals, the one with fewer refusals.
    assert set(_rows()) == {
        "https://once-lately.example.net",
        "https://tied.example.net",
        "https://new-once.example.net",
    }


def test_junk_rows_with_high_counts_cannot_keep_a_new_refusal_out() -> None:
    # An attacker filled the table with origins of their own, each refused
    # a million times; then a partner's new front end is refused once.
    max_rows = 50
    junk = [Refused(f"https://junk{i}.evil.example", 1_000_000, T0, T0 + i, "/", "default") for i in range(max_rows)]
    write_refused(junk, max_rows)

    write_refused([Refused("https://new-partner.example.net", 1, T0 + 600, T0 + 600, "/api", "default")], max_rows)

    rows = _rows()
    assert rows["https://new-partner.example.net"] == (1, "/api", "default")
    assert len(rows) == max_rows
    assert "https://junk0.evil.example" not in rows  # The one unseen for longest made room.


def test_a_late_flush_of_older_counts_never_moves_last_seen_back() -> None:
    write_refused([Refused("https://a.example.net", 1, T0, T0 + 50, "/api/new", "default")], max_rows=10)
    # Another process flushes counts it took before that one's last refusal.
    write_refused([Refused("https://a.example.net", 2, T0, T0 + 20, "/api/old", "default")], max_rows=10)

    assert _rows() == {"https://a.example.net": (3, "/api/new", "default")}
    assert RefusedOrigin.objects.get().last_seen == _at(50)


def test_eviction_deletes_in_chunks() -> None:
    write_refused([Refused(f"https://o{i}.example.net", 1, T0 + i, T0 + i, "/", "default") for i in range(1200)], 5000)

    assert evict_least_recent(connection.alias, 7) == 1193
    assert evict_least_recent(connection.alias, 7) == 0
    assert sorted(_rows()) == sorted(f"https://o{i}.example.net" for i in range(1193, 1200))


def test_flush_writes_what_the_middleware_counted(settings, refused_timers: Timers) -> None:
    settings.CREDCORS = RECORDING
    client = Client()
    for path in ("/api/echo", "/api/cached"):
        client.get(path, headers={"Origin": "https://new.example.net"})
    client.get("/api/echo", headers={"Origin": "http://localhost:3002"})

    [(_delay, flush)] = refused_timers
    flush()

    assert _rows() == {
        "https://new.example.net": (2, "/api/cached", "default"),
        "http://localhost:3002": (1, "/api/echo", "default"),
    }
    assert get_refused_log().flush() == 0  # Nothing new since.


def test_database_error_is_logged_once_and_never_raised(settings, caplog) -> None:
    settings.CREDCORS = RECORDING
    caplog.set_level(logging.INFO, logger="credcors")
    from credcors.conf import get_config

    refused = get_config().refused
    with table_reads_fail():
        for _ in range(3):
            get_refused_log().record("https://new.example.net", "/api", "default", refused)
            assert get_refused_log().flush() == 0
    failures = [record for record in caplog.records if "could not write refused origins" in record.getMessage()]
    assert len(failures) == 1

    get_refused_log().record("https://back.example.net", "/api", "default", refused)
    assert get_refused_log().flush() == 1
    assert "writing refused origins works again" in caplog.text
    # The failed intervals' counts were dropped, not retried.
    assert set(_rows()) == {"https://back.example.net"}


def test_dropped_origins_are_logged_at_the_flush(settings, caplog) -> None:
    settings.CREDCORS = {**RECORDING, "REFUSED_MAX_PENDING": 2}
    caplog.set_level(logging.INFO, logger="credcors")
    from credcors.conf import get_config

    refused = get_config().refused
    for i in range(5):
        get_refused_log().record(f"https://o{i}.example.net", "/api", "default", refused)

    assert get_refused_log().flush() == 2
    assert "3 refused requests from new origins were not counted" in caplog.text


def test_naive_datetimes_without_use_tz(settings) -> None:
    settings.USE_TZ = False

    write_refused([Refused("https://a.example.net", 1, T0, T0, "/", "default")], max_rows=10)

    assert RefusedOrigin.objects.get().last_seen.tzinfo is None


@pytest.mark.django_db(transaction=True)
def test_real_timer_thread_flushes_and_closes_its_connection(settings, monkeypatch) -> None:
    from credcors.refused.flush import start_timer

    settings.CREDCORS = RECORDING
    done = threading.Event()

    def timer(delay: float, flush: Any) -> None:
        def flush_then_close() -> None:
            try:
                flush()
            finally:
                close_thread_connection()
                done.set()

        start_timer(delay, flush_then_close)

    monkeypatch.setattr(get_refused_log(), "timer", timer)
    Client().get("/api/echo", headers={"Origin": "https://new.example.net"})

    assert done.wait(timeout=30)
    assert _rows() == {"https://new.example.net": (1, "/api/echo", "default")}


def test_start_timer_waits_its_delay(monkeypatch) -> None:
    import time

    from credcors.refused import flush

    slept: list[float] = []
    ran = threading.Event()
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(flush, "start_thread", lambda run, name: run())

    flush.start_timer(2.5, ran.set)
    flush.start_timer(0.0, ran.set)

    assert slept == [2.5]
    assert ran.is_set()


def test_origins_allowed_since_they_were_counted_are_not_written(
    settings, django_capture_on_commit_callbacks: Any
) -> None:
    from credcors.conf import get_config
    from credcors.models import AllowedOrigin

    settings.CREDCORS = {**RECORDING, "USE_DATABASE": True}
    refused = get_config().refused
    for origin in ("https://approved.example.net", "https://still.example.net"):
        get_refused_log().record(origin, "/api", "default", refused)
    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.create(origin="https://approved.example.net")

    assert get_refused_log().flush() == 1
    assert set(_rows()) == {"https://still.example.net"}


def _listed() -> dict[tuple[str, str], int]:
    return {(row.origin, row.policy): row.count for row in RefusedOrigin.objects.all()}


def test_a_nul_in_a_refused_path_costs_no_other_count(settings, refused_timers: Timers) -> None:
    # PostgreSQL refuses NUL in text: before, the whole interval was dropped.
    settings.CREDCORS = RECORDING
    client = Client()
    client.get("/api/echo%00\x01x", headers={"Origin": "https://nul.example.net"})
    client.get("/api/echo", headers={"Origin": "https://other.example.net"})

    [(_delay, flush)] = refused_timers
    flush()

    assert _rows() == {
        "https://nul.example.net": (1, "/api/echo\ufffd\ufffdx", "default"),
        "https://other.example.net": (1, "/api/echo", "default"),
    }


def test_control_characters_are_replaced_before_writing() -> None:
    written = write_refused(
        [Refused("https://a.example.net", 1, T0, T0, "/a\x00b\x1b[31m\x7f\x85\ud800\u202ec", "par\x00tners")], 10
    )

    # Bidirectional controls are kept (the admin shows them escaped); lone
    # surrogates cannot be encoded, so they go too.
    assert written == 1
    assert _rows() == {"https://a.example.net": (1, "/a\ufffdb\ufffd[31m\ufffd\ufffd\ufffd\u202ec", "par\ufffdtners")}


@pytest.fixture
def poisoned_insert() -> Any:
    """On SQLite, a trigger refusing rows whose path is ``/poison``, as a database refuses a value it cannot store."""
    if connection.vendor != "sqlite":
        pytest.skip("the trigger is written for SQLite; PostgreSQL has its own test below")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER credcors_test_poison BEFORE INSERT ON credcors_refusedorigin "
            "WHEN NEW.last_path = '/poison' BEGIN SELECT RAISE(ABORT, 'value refused'); END"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER credcors_test_poison")


@pytest.mark.usefixtures("poisoned_insert")
def test_a_row_the_database_refuses_costs_only_itself(caplog) -> None:
    write_refused([Refused("https://known.example.net", 1, T0, T0, "/", "default")], max_rows=10)
    caplog.set_level(logging.WARNING, logger="credcors")

    written = write_refused(
        [
            Refused("https://known.example.net", 4, T0, T0 + 1, "/again", "default"),
            Refused("https://bad.example.net\u202e", 1, T0, T0 + 1, "/poison", "default"),
            Refused("https://new.example.net", 2, T0, T0 + 1, "/api", "default"),
        ],
        max_rows=10,
    )

    assert written == 2
    assert _rows() == {
        "https://known.example.net": (5, "/again", "default"),
        "https://new.example.net": (2, "/api", "default"),
    }
    [record] = [record for record in caplog.records if "could not write" in record.getMessage()]
    # Quoted and escaped: a refused value never reaches a log line raw.
    assert '"https://bad.example.net\\u202e"' in record.getMessage()
    assert "IntegrityError" in record.getMessage()


def test_a_count_past_the_column_costs_only_its_own_row_on_postgresql(caplog) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite turns an integer overflow into a float instead of refusing it")
    biggest = 2**63 - 1
    RefusedOrigin.objects.create(
        origin="https://full.example.net", count=biggest - 1, first_seen=_at(0), last_seen=_at(0), policy="default"
    )

    written = write_refused(
        [
            Refused("https://full.example.net", 5, T0, T0 + 1, "/", "default"),
            Refused("https://new.example.net", 2, T0, T0 + 1, "/api", "default"),
        ],
        max_rows=10,
    )

    assert written == 1
    assert _listed() == {
        ("https://full.example.net", "default"): biggest - 1,
        ("https://new.example.net", "default"): 2,
    }
    assert "DataError" in caplog.text


@pytest.mark.urls("tests.urls_policies")
def test_a_refusal_by_a_named_policy_of_an_origin_the_default_policy_allows_is_listed_with_that_policy(
    settings, refused_timers: Timers
) -> None:
    # "Our partner front end gets a CORS error": the default policy allows
    # the origin, the partner view's policy does not.
    settings.CREDCORS = {
        **RECORDING,
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"], "ALLOW_CREDENTIALS": False}},
    }
    client = Client()
    client.get("/api/partner", headers={"Origin": "https://app.example.com"})
    client.get("/api/echo", headers={"Origin": "https://app.example.com"})  # Allowed by the default policy.
    client.get("/api/partner", headers={"Origin": "https://new.example.net"})
    client.get("/api/echo", headers={"Origin": "https://new.example.net"})

    [(_delay, flush)] = refused_timers
    flush()

    assert _listed() == {
        ("https://app.example.com", "partners"): 1,
        ("https://new.example.net", "partners"): 1,
        ("https://new.example.net", "default"): 1,
    }
    assert RefusedOrigin.objects.get(origin="https://app.example.com").last_path == "/api/partner"
