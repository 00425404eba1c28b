"""Refused origins are counted per host they were sent to (issue 24): recorder, flush, middleware, WebSocket."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from credcors.conf import get_config
from credcors.models import AllowedOrigin, RefusedOrigin
from credcors.refused.flush import get_refused_log, write_refused
from credcors.refused.recorder import MAX_HOST_LENGTH, Recorder, Refused
from tests.conftest import Timers
from tests.test_websocket import _connects

T0 = 1_700_000_000.0
PARTNER = "https://partner.example.net"
HOST_A, HOST_B = "api.customer-a.com", "api.customer-b.com"
RECORDING = {"ALLOWED_ORIGINS": ["https://app.example.com"], "RECORD_REFUSED": True}


def _rows() -> dict[tuple[str, str], int]:
    return {(row.origin, row.host): row.count for row in RefusedOrigin.objects.all()}


def test_recorder_counts_each_host_apart() -> None:
    recorder = Recorder(clock=lambda: T0)

    for host in (HOST_A, HOST_B, HOST_A, ""):
        assert recorder.record(PARTNER, "/api", "default", capacity=10, host=host)

    assert sorted(recorder.drain().refused) == [
        Refused(PARTNER, 1, T0, T0, "/api", "default", ""),
        Refused(PARTNER, 1, T0, T0, "/api", "default", HOST_B),
        Refused(PARTNER, 2, T0, T0, "/api", "default", HOST_A),
    ]


def test_recorder_leaves_out_a_host_longer_than_any_dns_name() -> None:
    recorder = Recorder()

    assert not recorder.record(PARTNER, "/api", "default", capacity=10, host="a" * (MAX_HOST_LENGTH + 1))
    assert len(recorder) == 0


@pytest.mark.django_db
def test_write_keeps_one_row_per_host_and_adds_to_its_own() -> None:
    write_refused([Refused(PARTNER, 3, T0, T0, "/", "default", HOST_A)], max_rows=10)
    write_refused(
        [Refused(PARTNER, 2, T0, T0 + 1, "/", "default", HOST_A), Refused(PARTNER, 1, T0, T0, "/", "default", HOST_B)],
        max_rows=10,
    )

    assert _rows() == {(PARTNER, HOST_A): 5, (PARTNER, HOST_B): 1}


@pytest.mark.django_db
def test_flush_leaves_out_what_is_allowed_since_on_its_host_only(settings: Any) -> None:
    settings.CREDCORS = RECORDING
    AllowedOrigin.objects.create(origin=PARTNER, hosts=HOST_A)
    log = get_refused_log()
    for host in (HOST_A, HOST_B, None):
        log.record(PARTNER, "/api", "default", get_config().refused, host=host)

    assert log.flush() == 2

    assert _rows() == {(PARTNER, HOST_B): 1, (PARTNER, ""): 1}


@pytest.mark.django_db
def test_middleware_records_the_host_without_its_port(settings: Any, refused_timers: Timers) -> None:
    settings.CREDCORS = RECORDING

    Client().get("/api/echo", headers={"Origin": PARTNER, "Host": "API.Customer-A.com:8443"})
    [(_delay, flush)] = refused_timers
    flush()

    assert _rows() == {(PARTNER, HOST_A): 1}


@pytest.mark.django_db
def test_a_host_django_refuses_is_never_recorded(settings: Any, refused_timers: Timers) -> None:
    settings.CREDCORS = RECORDING
    settings.ALLOWED_HOSTS = [HOST_A]

    Client().get("/api/echo", headers={"Origin": PARTNER, "Host": HOST_B})

    assert refused_timers == []


@pytest.mark.django_db
def test_websocket_refusal_is_recorded_with_the_handshakes_host(settings: Any) -> None:
    settings.CREDCORS = RECORDING

    assert not _connects(PARTNER, headers=[(b"host", b"api.customer-b.com:443"), (b"origin", PARTNER.encode())])
    assert not _connects(PARTNER, headers=[(b"origin", PARTNER.encode())])  # No Host: unknown.
    get_refused_log().flush()

    assert _rows() == {(PARTNER, HOST_B): 1, (PARTNER, ""): 1}
