"""Logging on the ``credcors`` logger: safe quoting, levels, rate limits, once-per-event."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

from credcors import log
from credcors.core.quoting import safe, scrub
from credcors.log import RateLimiter
from credcors.models import AllowedOrigin
from tests.conftest import Clock
from tests.helpers import send_preflight

APP = "https://app.example.com"


@pytest.fixture(autouse=True)
def _fresh_limiter() -> Iterator[None]:
    log.reset_rate_limits()
    yield
    log.reset_rate_limits()


def _lines(caplog: pytest.LogCaptureFixture, text: str = "") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "credcors" and text in r.getMessage()]


# -- safe() --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example", '"https://a.example"'),
        ("a\r\nb", '"a\\x0d\\x0ab"'),
        ("\x1b[31m", '"\\x1b[31m"'),
        ("\u202eevil", '"\\u202eevil"'),
        ('q"uo\\te', '"q\\"uo\\\\te"'),
        ("\U0001f600", '"\\U0001f600"'),
        (None, '"None"'),
    ],
)
def test_safe_escapes_everything_but_printable_ascii(value: object, expected: str) -> None:
    assert safe(value) == expected


def test_safe_bounds_length_and_counts_the_rest() -> None:
    text = safe("a" * 100_000, limit=50)

    assert text == '"' + "a" * 50 + '"...(+99950 chars)'


def test_safe_never_splits_an_escape() -> None:
    text = safe("\x00" * 10, limit=10)

    assert text == '"\\x00\\x00"...(+8 chars)'


def test_scrub_escapes_without_quoting() -> None:
    assert scrub("it's 'x'\n") == "it's 'x'\\x0a"


# -- rate limiter --------------------------------------------------------------------


def test_rate_limiter_allows_limit_then_suppresses_then_reports() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=3, window=60, clock=lambda: now[0])

    assert [limiter.hit("k") for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    assert limiter.hit("other") == (True, 0)  # each key has its own budget
    now[0] = 60.0
    assert limiter.hit("k") == (True, 2)
    assert limiter.hit("k") == (True, 0)


# -- refusals at their levels ------------------------------------------------------------


@pytest.mark.django_db
def test_refused_preflight_logged_at_info_with_safe_origin(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="credcors")

    assert send_preflight(client, "/api/echo", "https://evil.example", "PUT").status_code == 403

    records = [r for r in caplog.records if "refused preflight" in r.getMessage()]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].getMessage() == (
        'credcors: refused preflight: origin-not-allowed origin="https://evil.example" path="/api/echo"'
    )


@pytest.mark.django_db
def test_refused_header_logged_with_detail(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="credcors")

    # Answered 204 with the allowed lists (so the browser names the header),
    # and still a refusal: logged.
    assert send_preflight(client, "/api/echo", APP, "PUT", "x-secret-thing").status_code == 204

    assert _lines(caplog, "refused preflight") == [
        'credcors: refused preflight: header-not-allowed origin="https://app.example.com" path="/api/echo" '
        'detail="x-secret-thing"'
    ]


@pytest.mark.django_db
def test_refused_method_answered_with_allowed_lists_is_logged_with_detail(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credcors")

    assert send_preflight(client, "/api/echo", APP, "PURGE").status_code == 204

    assert _lines(caplog, "refused preflight") == [
        'credcors: refused preflight: method-not-allowed origin="https://app.example.com" path="/api/echo" '
        'detail="PURGE"'
    ]


@pytest.mark.django_db
def test_refused_origin_on_actual_request_logged_at_debug_only(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credcors")
    client.get("/api/echo", headers={"Origin": "https://evil.example"})
    assert _lines(caplog, "refused request") == []

    caplog.set_level(logging.DEBUG, logger="credcors")
    client.get("/api/echo", headers={"Origin": "https://evil.example"})
    records = [r for r in caplog.records if "refused request" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.DEBUG]


@pytest.mark.django_db
def test_allowed_requests_log_nothing(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    client.get("/api/echo", headers={"Origin": APP})  # load the snapshot first
    caplog.set_level(logging.DEBUG, logger="credcors")
    caplog.clear()

    client.get("/api/echo", headers={"Origin": APP})
    send_preflight(client, "/api/echo", APP, "PUT")

    assert _lines(caplog) == []


@pytest.mark.django_db
def test_logging_off_does_no_rate_limit_work(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="credcors")
    calls: list[Hashable] = []

    def hit(key: Hashable) -> tuple[bool, int]:
        calls.append(key)
        return True, 0

    monkeypatch.setattr(log.get_rate_limits().refusals, "hit", hit)

    send_preflight(client, "/api/echo", "https://evil.example", "PUT")
    client.get("/api/echo", headers={"Origin": "https://evil.example"})

    assert calls == []
    assert _lines(caplog, "refused") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example\r\nFAKE: credcors: allowed everything",
        "https://evil.example\x1b[2J\x1b[H",
        "https://\u202emoc.live",
        "https://" + "a" * 100_000,
    ],
)
def test_hostile_origin_never_reaches_log_raw(client: Client, caplog: pytest.LogCaptureFixture, origin: str) -> None:
    caplog.set_level(logging.DEBUG, logger="credcors")

    send_preflight(client, "/api/echo", origin, "PUT")
    client.get("/api/echo\r\nX", headers={"Origin": origin})

    lines = _lines(caplog, "refused")
    assert len(lines) == 2
    for line in lines:
        assert line.isascii()
        assert line.isprintable()
        assert len(line) < 600


@pytest.mark.django_db
def test_flood_is_rate_limited_with_suppressed_summary(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="credcors")
    now = [1000.0]
    monkeypatch.setattr(log.get_rate_limits().refusals, "clock", lambda: now[0])

    for index in range(500):
        send_preflight(client, "/api/echo", f"https://evil{index}.example", "PUT")
    assert len(_lines(caplog, "refused preflight")) == log.REFUSAL_LINES_PER_WINDOW

    now[0] += log.REFUSAL_WINDOW_SECONDS
    send_preflight(client, "/api/echo", "https://late.example", "PUT")

    assert _lines(caplog, "suppressed") == [
        "credcors: suppressed 490 refused-preflight lines (origin-not-allowed) in the last 60 s."
    ]
    assert _lines(caplog, "refused preflight")[-1].endswith('origin="https://late.example" path="/api/echo"')


@pytest.mark.django_db
def test_each_reason_has_its_own_budget(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="credcors")

    for _ in range(50):
        send_preflight(client, "/api/echo", "https://evil.example", "PUT")
    send_preflight(client, "/api/echo", APP, "PURGE")

    assert len(_lines(caplog, "method-not-allowed")) == 1


# -- once per event ---------------------------------------------------------------------


def _fail_table() -> Callable[..., Any]:
    # The rows and the revision both live in credcors_ tables.
    table = "credcors_"

    def fail(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if table in sql:
            raise OperationalError("connection refused\r\nsecret=hunter2")
        return execute(sql, params, many, context)

    return fail


@pytest.mark.django_db
def test_database_outage_logged_once_and_recovery_once(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/api/echo", headers={"Origin": APP})
    with connection.execute_wrapper(_fail_table()):
        for _ in range(5):
            clock.advance(10)
            client.get("/api/echo", headers={"Origin": APP})
    for _ in range(3):
        clock.advance(10)
        client.get("/api/echo", headers={"Origin": APP})

    errors = [r.getMessage() for r in caplog.records if r.name == "credcors" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "secret" not in errors[0]
    assert "\r" not in errors[0]
    assert len(_lines(caplog, "answers again;")) == 1


@pytest.mark.django_db
def test_allow_list_reload_logged_once_per_change(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credcors")
    client.get("/api/echo", headers={"Origin": APP})
    for _ in range(3):
        clock.advance(10)
        client.get("/api/echo", headers={"Origin": APP})
    assert len(_lines(caplog, "allow-list loaded")) == 1

    AllowedOrigin.objects.create(origin="https://partner.example.net")
    clock.advance(10)
    client.get("/api/echo", headers={"Origin": APP})
    clock.advance(10)
    client.get("/api/echo", headers={"Origin": APP})
    # The change log named the one row: applied, not compiled again.
    assert len(_lines(caplog, "allow-list loaded")) == 1
    [line] = _lines(caplog, "allow-list changed")
    assert line.startswith("credcors: allow-list changed: rows changed: 1, applied in ")


@pytest.mark.django_db
def test_invalid_row_warning_is_quoted_and_bounded(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    table = AllowedOrigin._meta.db_table
    # SQLite stores whatever raw SQL gives it; PostgreSQL enforces the
    # column's 300 characters, still far over what a log line may quote.
    filler = 50_000 if connection.vendor == "sqlite" else 250
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (origin, enabled, note, created_at, updated_at) "
            "VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            ["https://x.example\r\nFAKE LOG LINE" + "y" * filler, True],
        )

    client.get("/api/echo", headers={"Origin": APP})

    warnings = _lines(caplog, "ignoring")
    assert len(warnings) == 1
    assert warnings[0].isascii()
    assert warnings[0].isprintable()
    assert len(warnings[0]) < 1000
    assert "y" * 200 not in warnings[0]  # Cut well before the stored value ends.
