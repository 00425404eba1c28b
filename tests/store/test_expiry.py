"""Rows with an expiry: they stop matching at it, in every process, without a query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.test import Client

from credcors.conf import get_config
from credcors.core.compile import compile_rows
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decision import Headers
from credcors.core.origins import parse_rule
from credcors.core.snapshot import compile_policy, compile_snapshot
from credcors.models import AllowedOrigin
from credcors.store.current import get_store
from tests.conftest import Clock, refresh_held_in_another_thread
from tests.helpers import allowed

PARTNER = "https://partner.example.net"
TRIAL = "https://trial.example.net"
PREVIEWS = "https://*.previews.example.net"
HEADERS = Headers.build(allow_methods=["GET"], allow_headers=[])
#: Long enough that no poll of the table happens during a test: only expiries move things.
NO_POLL = {"REFRESH_SECONDS": 3600}


def _at(clock: Clock, seconds: float) -> datetime:
    """The aware datetime ``seconds`` after the clock's wall time now."""
    return datetime.fromtimestamp(clock.wall() + seconds, tz=timezone.utc)


@pytest.fixture
def no_poll(settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, **NO_POLL}


# -- The store ------------------------------------------------------------------------


@pytest.mark.django_db
def test_row_stops_matching_at_its_expiry_without_a_query(
    client: Client, clock: Clock, no_poll: None, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, 10))
    assert allowed(client, PARTNER, "/api/recorded")  # loads the snapshot

    with django_assert_num_queries(0):
        clock.advance(9.9)
        assert allowed(client, PARTNER, "/api/recorded")
        clock.advance(0.2)
        assert not allowed(client, PARTNER, "/api/recorded")
        assert not allowed(client, PARTNER, "/api/recorded")
    assert get_store().get().rows == 0


@pytest.mark.django_db
def test_each_expiry_takes_effect_at_its_own_time(
    client: Client, clock: Clock, no_poll: None, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin=TRIAL, expires_at=_at(clock, 2))
    AllowedOrigin.objects.create(origin=PREVIEWS, expires_at=_at(clock, 4))
    assert get_store().get().next_expiry == pytest.approx(clock.wall() + 2)

    with django_assert_num_queries(0):
        assert [allowed(client, o, "/api/recorded") for o in (PARTNER, TRIAL, "https://pr-1.previews.example.net")] == [
            True
        ] * 3
        clock.advance(2.5)
        assert [allowed(client, o, "/api/recorded") for o in (PARTNER, TRIAL, "https://pr-1.previews.example.net")] == [
            True,
            False,
            True,
        ]
        assert get_store().get().next_expiry == pytest.approx(clock.wall() + 1.5)
        clock.advance(2)
        assert [allowed(client, o, "/api/recorded") for o in (PARTNER, TRIAL, "https://pr-1.previews.example.net")] == [
            True,
            False,
            False,
        ]
    assert get_store().get().next_expiry is None
    assert get_store().get().rows == 1


@pytest.mark.django_db
def test_row_expired_before_the_load_is_left_out_unparsed(
    client: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, -1))
    # Raw SQL can store anything; an expired row is not even looked at.
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="not an origin", expires_at=_at(clock, -1))])

    with caplog.at_level(logging.WARNING, logger="credcors"):
        assert not allowed(client, PARTNER, "/api/recorded")

    assert get_store().get().rows == 0
    assert get_store().get().next_expiry is None
    assert not [r for r in caplog.records if "ignoring" in r.getMessage()]


@pytest.mark.django_db
def test_extending_an_expiry_takes_effect_at_commit(
    client: Client, clock: Clock, no_poll: None, django_capture_on_commit_callbacks: Any
) -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, 1))
    assert allowed(client, PARTNER, "/api/recorded")

    with django_capture_on_commit_callbacks(execute=True):
        row.expires_at = _at(clock, 60)
        row.save()
    clock.advance(2)

    assert allowed(client, PARTNER, "/api/recorded")
    with django_capture_on_commit_callbacks(execute=True):
        row.expires_at = None
        row.save()
    clock.advance(3600 * 24)
    assert allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db(transaction=True)
def test_expiry_takes_effect_while_a_refresh_waits_for_the_database(
    client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, 6))
    AllowedOrigin.objects.create(origin=TRIAL)
    assert allowed(client, PARTNER, "/api/recorded")
    clock.advance(7)  # Past REFRESH_SECONDS (5) and past the expiry.

    # Another thread holds the refresh lock, stuck in its read of the table.
    with refresh_held_in_another_thread(), django_assert_num_queries(0):
        assert not allowed(client, PARTNER, "/api/recorded")
        assert allowed(client, TRIAL, "/api/recorded")
    assert not allowed(client, PARTNER, "/api/recorded")


@pytest.mark.django_db
def test_async_path_drops_an_expired_row_without_reading_the_table(
    clock: Clock, no_poll: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, 1))
    assert get_store().get().default.index.lookup(PARTNER) is not None
    clock.advance(1.5)
    # Whatever thread asgiref runs the refresh step in, a read would go through the loader.
    reads: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        real = getattr(get_store().loader, name)

        def read(*args: Any, **kwargs: Any) -> Any:
            reads.append(name)
            return real(*args, **kwargs)

        return read

    for name in ("revision", "rows", "shared_version"):
        monkeypatch.setattr(get_store().loader, name, spy(name))

    snapshot = asyncio.run(get_store().aget())

    assert snapshot.default.index.lookup(PARTNER) is None
    assert reads == []
    assert get_store().get() is snapshot


# -- The snapshot (pure) ----------------------------------------------------------------


def _row(value: str, pk: int, expires: float | None) -> tuple[Any, str, int, float | None]:
    rule = parse_rule(value)
    return (rule, rule.serialize(), pk, expires)


def test_snapshot_without_expiry_is_itself_at_any_time() -> None:
    snapshot = compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, [parse_rule(PARTNER)], [_row(TRIAL, 1, None)])]
    )

    assert snapshot.next_expiry is None
    assert snapshot.without_expired(1e12) is snapshot


def test_snapshot_before_its_next_expiry_is_itself() -> None:
    snapshot = compile_snapshot([compile_policy(DEFAULT_POLICY, HEADERS, [], [_row(TRIAL, 1, 100.0)], now=50.0)])

    assert snapshot.next_expiry == 100.0
    assert snapshot.without_expired(99.9) is snapshot


def test_snapshot_without_expired_keeps_settings_and_later_rows() -> None:
    rows = [_row(TRIAL, 1, 100.0), _row(PREVIEWS, 2, 200.0), _row("https://forever.example.net", 3, None)]
    snapshot = compile_snapshot([compile_policy(DEFAULT_POLICY, HEADERS, [parse_rule(PARTNER)], rows, now=0.0)])

    later = snapshot.without_expired(100.0)  # An expiry is exclusive: at 100.0 the row is gone.

    assert (later.default.index.lookup(TRIAL), later.next_expiry, later.rows) == (None, 200.0, 2)
    assert later.default.index.lookup("https://a.previews.example.net") is not None
    assert later.default.index.lookup(PARTNER) is not None
    last = later.without_expired(250.0)
    assert (last.default.index.lookup("https://a.previews.example.net"), last.next_expiry, last.rows) == (None, None, 1)
    assert last.default.index.lookup("https://forever.example.net") is not None


def test_row_shadowed_by_settings_never_expires_the_settings_entry() -> None:
    snapshot = compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, [parse_rule(PARTNER)], [_row(PARTNER, 1, 100.0)], now=0.0)]
    )

    assert snapshot.without_expired(150.0).default.index.lookup(PARTNER) is not None


def test_compile_leaves_out_rows_expired_at_now() -> None:
    snapshot = compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, [], [_row(TRIAL, 1, 100.0), _row(PARTNER, 2, 101.0)], now=100.0)]
    )

    assert (snapshot.default.index.lookup(TRIAL), snapshot.rows, snapshot.next_expiry) == (None, 1, 101.0)


def test_named_policies_rows_expire_too() -> None:
    partners = compile_policy("partners", HEADERS, [], [_row(TRIAL, 1, 300.0), _row(PARTNER, 2, None)])
    snapshot = compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, [], [_row(PREVIEWS, 3, 400.0)], now=0.0), partners]
    )
    assert snapshot.next_expiry == 300.0  # The earliest across every policy.

    later = snapshot.without_expired(300.0)

    named = later.policies["partners"]
    assert (named.index.lookup(TRIAL), named.rows, named.headers) == (None, 1, HEADERS)
    assert named.index.lookup(PARTNER) is not None
    assert later.default.index.lookup("https://a.previews.example.net") is not None
    assert later.next_expiry == 400.0


@pytest.mark.django_db
def test_compile_rows_reads_expiries_as_aware_datetimes() -> None:
    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    rows = [(PARTNER, 1, "default", False, expires), (TRIAL, 2, "default", False, None)]

    snapshot, _ = compile_rows(get_config(), rows, now=expires.timestamp() - 1)

    assert snapshot.next_expiry == expires.timestamp()
    assert snapshot.default.index.lookup(PARTNER) is not None
    later, _ = compile_rows(get_config(), rows, now=expires.timestamp() + timedelta(days=1).total_seconds())
    assert later.rows == 1
