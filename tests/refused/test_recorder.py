"""Refused origins counted in memory: the recorder's bounds, its input, threads, settings, the middleware's calls."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from credcors.checks import check_settings
from credcors.conf import get_config
from credcors.core.catalogue import Problem
from credcors.core.config import parse_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.config.refused import RefusedSettings
from credcors.core.origin_header import MAX_ORIGIN_LENGTH
from credcors.refused.flush import RefusedLog, get_refused_log
from credcors.refused.recorder import MAX_PATH_LENGTH, Recorder, Refused
from tests.conftest import Timers

RECORDING = {"ALLOWED_ORIGINS": ["https://app.example.com"], "USE_DATABASE": False, "RECORD_REFUSED": True}


class Ticks:
    """A wall clock for the recorder that moves one second per reading."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


# -- The recorder (pure) ----------------------------------------------------------


def test_record_counts_first_last_path_per_policy() -> None:
    recorder = Recorder(clock=Ticks())

    assert recorder.record("https://new.example.net", "/api/a", "default", capacity=10)
    assert recorder.record("https://new.example.net", "/api/b", "partners", capacity=10)
    assert recorder.record("https://new.example.net", "/api/c", "default", capacity=10)
    drained = recorder.drain()

    # Each policy's refusals stay its own: "Allow selected" allows the
    # origin where it was refused.
    assert drained.refused == (
        Refused("https://new.example.net", 2, 1_700_000_001.0, 1_700_000_003.0, "/api/c", "default"),
        Refused("https://new.example.net", 1, 1_700_000_002.0, 1_700_000_002.0, "/api/b", "partners"),
    )
    assert drained.dropped == 0
    assert len(recorder) == 0
    assert recorder.drain().refused == ()


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "",
        "https://a.example.com, https://b.example.com",
        "https://Example.com",
        "https://example.com/",
        "https://example.com:443",
        "https://exa mple.com",
        "https://例え.jp",
        "https://xn--r8jz45g.jp\u202e",
        "https://example.com\r\nSet-Cookie: x=1",
        "javascript:alert(1)",
        "https://" + "a" * MAX_ORIGIN_LENGTH + ".com",
        "ftp://example.com",
    ],
)
def test_record_refuses_anything_but_a_serialized_ascii_origin(origin: str) -> None:
    recorder = Recorder()

    assert not recorder.record(origin, "/api", "default", capacity=10)

    assert recorder.drain().refused == ()


def test_record_keeps_ipv6_and_ports_as_browsers_send_them() -> None:
    recorder = Recorder()

    assert recorder.record("http://[::1]:8080", "/", "default", capacity=10)
    assert recorder.record("https://xn--r8jz45g.jp:8443", "/", "default", capacity=10)

    assert [item.origin for item in recorder.drain().refused] == ["http://[::1]:8080", "https://xn--r8jz45g.jp:8443"]


def test_record_cuts_the_path() -> None:
    recorder = Recorder()

    recorder.record("https://new.example.net", "/" + "p" * 10_000, "default", capacity=10)

    assert len(recorder.drain().refused[0].last_path) == MAX_PATH_LENGTH


def test_full_table_keeps_counting_held_origins_and_drops_new_ones() -> None:
    recorder = Recorder()
    for i in range(3):
        assert recorder.record(f"https://o{i}.example.net", "/", "default", capacity=3)

    assert not recorder.record("https://late.example.net", "/", "default", capacity=3)
    assert recorder.record("https://o1.example.net", "/", "default", capacity=3)
    drained = recorder.drain()

    assert {item.origin: item.refusals for item in drained.refused} == {
        "https://o0.example.net": 1,
        "https://o1.example.net": 2,
        "https://o2.example.net": 1,
    }
    assert drained.dropped == 1
    # The flush emptied it: a new origin fits again.
    assert recorder.record("https://late.example.net", "/", "default", capacity=3)
    assert recorder.drain().dropped == 0


def test_threads_recording_at_once_lose_no_count_and_respect_the_bound() -> None:
    recorder = Recorder()
    threads, per_thread, capacity = 8, 2_000, 50
    drained: list[Refused] = []
    dropped = [0]
    start = threading.Barrier(threads + 1)

    def hammer(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            # Half the refusals from 20 shared origins, half from distinct ones.
            origin = f"https://shared{i % 20}.example.net" if i % 2 else f"https://t{n}-{i}.example.net"
            recorder.record(origin, "/", "default", capacity=capacity)

    def drain_meanwhile() -> None:
        start.wait()
        while any(worker.is_alive() for worker in workers):
            batch = recorder.drain()
            assert len(batch.refused) <= capacity
            drained.extend(batch.refused)
            dropped[0] += batch.dropped

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    drainer = threading.Thread(target=drain_meanwhile)
    for thread in [*workers, drainer]:
        thread.start()
    for thread in [*workers, drainer]:
        thread.join(timeout=60)
    last = recorder.drain()
    drained.extend(last.refused)
    dropped[0] += last.dropped

    assert sum(item.refusals for item in drained) + dropped[0] == threads * per_thread
    assert len(last.refused) <= capacity


# -- Settings -----------------------------------------------------------------------


def test_defaults_record_nothing() -> None:
    config = parse_config({})

    assert config.refused == RefusedSettings(record=False, flush_seconds=10.0, max_rows=1000, max_pending=1000)


def test_valid_settings_are_read() -> None:
    config = parse_config(
        {"RECORD_REFUSED": True, "REFUSED_FLUSH_SECONDS": 2.5, "REFUSED_MAX_ROWS": 50, "REFUSED_MAX_PENDING": 10}
    )

    assert config.refused == RefusedSettings(True, 2.5, 50, 10)
    assert config.problems == ()


@pytest.mark.parametrize(
    ("raw", "check_id", "names"),
    [
        ({"RECORD_REFUSED": "yes"}, "credcors.E015", ["RECORD_REFUSED", "'yes'"]),
        ({"REFUSED_FLUSH_SECONDS": 0}, "credcors.E022", ["REFUSED_FLUSH_SECONDS", "0"]),
        ({"REFUSED_FLUSH_SECONDS": 0.5}, "credcors.E022", ["REFUSED_FLUSH_SECONDS", "0.5"]),
        ({"REFUSED_FLUSH_SECONDS": 7200}, "credcors.E022", ["REFUSED_FLUSH_SECONDS", "7200"]),
        ({"REFUSED_FLUSH_SECONDS": "10"}, "credcors.E022", ["REFUSED_FLUSH_SECONDS", "'10'"]),
        ({"REFUSED_FLUSH_SECONDS": True}, "credcors.E022", ["REFUSED_FLUSH_SECONDS", "True"]),
        ({"REFUSED_MAX_ROWS": 0}, "credcors.E023", ["REFUSED_MAX_ROWS", "0"]),
        ({"REFUSED_MAX_ROWS": 1_000_000}, "credcors.E023", ["REFUSED_MAX_ROWS", "1000000"]),
        ({"REFUSED_MAX_ROWS": 10.0}, "credcors.E023", ["REFUSED_MAX_ROWS", "10.0"]),
        ({"REFUSED_MAX_ROWS": None}, "credcors.E023", ["REFUSED_MAX_ROWS", "None"]),
        ({"REFUSED_MAX_PENDING": -1}, "credcors.E024", ["REFUSED_MAX_PENDING", "-1"]),
        ({"REFUSED_MAX_PENDING": 100_000}, "credcors.E024", ["REFUSED_MAX_PENDING", "100000"]),
        ({"REFUSED_MAX_PENDING": False}, "credcors.E024", ["REFUSED_MAX_PENDING", "False"]),
    ],
)
def test_bad_refused_setting_is_a_check_error_and_falls_back_to_the_default(
    settings, raw: dict[str, Any], check_id: str, names: list[str]
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], **raw}

    [message] = check_settings()

    assert message.id == check_id
    for name in names:
        assert name in message.msg
    assert message.hint
    assert get_config().refused == RefusedSettings()


def test_problem_ids_are_catalogued() -> None:
    with pytest.raises(AssertionError):
        Problem("credcors.E033", "not in the catalogue", "")


# -- The middleware's calls --------------------------------------------------------


@pytest.fixture
def recording(settings, db: None) -> None:
    settings.CREDCORS = RECORDING


def _pending() -> dict[str, Refused]:
    return {item.origin: item for item in get_refused_log().recorder.drain().refused}


@pytest.mark.usefixtures("recording")
def test_refused_origin_is_counted_without_touching_the_database(django_assert_num_queries: Any) -> None:
    client = Client()
    client.get("/api/echo")  # The first request compiles the snapshot.

    with django_assert_num_queries(0):
        for _ in range(3):
            client.get("/api/echo?x=1", headers={"Origin": "https://new.example.net"})
        client.options(
            "/api/echo", headers={"Origin": "https://new.example.net", "Access-Control-Request-Method": "PUT"}
        )

    pending = _pending()
    assert pending["https://new.example.net"].refusals == 4
    assert pending["https://new.example.net"].last_path == "/api/echo"
    assert pending["https://new.example.net"].policy == DEFAULT_POLICY


@pytest.mark.usefixtures("recording")
def test_allowed_and_other_refusals_are_not_counted() -> None:
    client = Client()
    client.get("/api/echo", headers={"Origin": "https://app.example.com"})
    client.get("/api/echo", headers={"Origin": "null"})
    client.get("/api/echo", headers={"Origin": "https://EVIL.example.net"})
    client.get("/api/echo", headers={"Origin": "https://" + "a" * 70_000 + ".com"})
    # An allowed origin asking for a method outside the list: refused, but not for its origin.
    client.options(
        "/api/echo", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PROPFIND"}
    )

    assert _pending() == {}


@pytest.mark.usefixtures("recording")
def test_same_origin_requests_are_not_counted() -> None:
    client = Client()
    client.post("/api/echo", headers={"Origin": "http://api.example.com:8000", "Host": "api.example.com:8000"})
    client.post("/api/echo", headers={"Origin": "https://api.example.com", "Sec-Fetch-Site": "same-origin"})
    client.post("/api/echo", headers={"Origin": "https://api.example.com", "Sec-Fetch-Site": "same-site"})
    client.post("/api/echo", headers={"Origin": "https://other.example.org", "Sec-Fetch-Site": "cross-site"})

    assert list(_pending()) == ["https://api.example.com", "https://other.example.org"]


@pytest.mark.django_db
def test_nothing_is_counted_with_record_refused_off(settings) -> None:
    settings.CREDCORS = {**RECORDING, "RECORD_REFUSED": False}

    Client().get("/api/echo", headers={"Origin": "https://new.example.net"})

    assert _pending() == {}


@pytest.mark.usefixtures("recording")
def test_async_stack_counts_too() -> None:
    async_to_sync(AsyncClient().get)("/api/async", headers={"Origin": "https://new.example.net"})

    assert _pending()["https://new.example.net"].refusals == 1


@pytest.mark.usefixtures("recording")
def test_one_flush_is_scheduled_per_interval(settings, refused_timers: Timers, monkeypatch) -> None:
    settings.CREDCORS = {**RECORDING, "REFUSED_FLUSH_SECONDS": 30}
    now = [500.0]
    monkeypatch.setattr(get_refused_log(), "clock", lambda: now[0])
    flushed: list[int] = []
    monkeypatch.setattr(
        get_refused_log(), "flush", lambda: flushed.append(len(get_refused_log().recorder.drain().refused))
    )
    client = Client()

    for i in range(5):
        client.get("/api/echo", headers={"Origin": f"https://o{i}.example.net"})
    assert [delay for delay, _ in refused_timers] == [0.0]  # The first flush may run at once.

    refused_timers[0][1]()
    client.get("/api/echo", headers={"Origin": "https://o9.example.net"})
    client.get("/api/echo", headers={"Origin": "https://o8.example.net"})
    now[0] += 12
    client.get("/api/echo", headers={"Origin": "https://o7.example.net"})

    # The next one waits out the interval from the start of the last flush.
    assert flushed == [5]
    assert [delay for delay, _ in refused_timers] == [0.0, 30.0]


@pytest.mark.usefixtures("recording")
def test_malformed_origin_schedules_no_flush(refused_timers: Timers) -> None:
    Client().get("/api/echo", headers={"Origin": "https://new.example.net/"})

    assert refused_timers == []


@pytest.mark.usefixtures("recording")
def test_a_timer_that_cannot_start_is_logged_and_tried_again(monkeypatch, caplog) -> None:
    started: list[float] = []

    def no_thread(delay: float, flush: Any) -> None:
        if not started:
            started.append(delay)
            raise RuntimeError("can't start new thread")
        started.append(delay)

    monkeypatch.setattr(get_refused_log(), "timer", no_thread)
    client = Client()
    client.get("/api/echo", headers={"Origin": "https://new.example.net"})
    client.get("/api/echo", headers={"Origin": "https://new.example.net"})

    assert started == [0.0, 0.0]
    assert "could not start the refused-origin flush" in caplog.text
    assert _pending()["https://new.example.net"].refusals == 2


def test_a_flush_scheduled_by_another_thread_meanwhile_is_not_scheduled_twice() -> None:
    timers: Timers = []
    log = RefusedLog(timer=lambda delay, flush: timers.append((delay, flush)))

    class RacingRecorder(Recorder):
        def __len__(self) -> int:
            # Another thread schedules the flush between the unlocked check and the lock.
            log._scheduled = True
            return super().__len__()

    log.recorder = RacingRecorder()
    log.record("https://new.example.net", "/", "default", RefusedSettings(record=True))

    assert timers == []
    assert len(log.recorder) == 1
