"""Refreshes off the request path, in real threads: no request waits for the rows."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from credcors.models import AllowedOrigin
from credcors.store.current import get_store
from credcors.store.schedule import start_thread
from tests.conftest import Clock, close_thread_connection
from tests.helpers import allowed

PARTNER = "https://partner.example.net"
LATER = "https://later.example.net"
TABLE = AllowedOrigin._meta.db_table


def _poll(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_due_request_answers_from_the_current_snapshot_while_a_thread_reads_the_rows(
    client: Client, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def closing(refresh: Callable[[], None]) -> Callable[[], None]:
        # Django's close() keeps an in-memory SQLite database open, and Python
        # 3.13 warns about the handle a finished thread leaves behind.
        def run() -> None:
            try:
                refresh()
            finally:
                close_thread_connection()

        return run

    monkeypatch.setattr(get_store(), "spawn", lambda refresh: start_thread(closing(refresh)))
    AllowedOrigin.objects.create(origin=PARTNER)
    assert allowed(client, PARTNER, "/api/recorded")
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=LATER)])  # Another process's change: no signal here.
    reading, release = threading.Event(), threading.Event()
    readers: list[str] = []

    def slow_read(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if TABLE in sql:
            readers.append(threading.current_thread().name)
            reading.set()
            release.wait(timeout=30)
        return execute(sql, params, many, context)

    # Every connection of every thread gets the slow read.
    from django.db.backends.base.base import BaseDatabaseWrapper

    original = BaseDatabaseWrapper.ensure_connection

    def with_wrapper(self: BaseDatabaseWrapper) -> None:
        original(self)
        if slow_read not in self.execute_wrappers:
            self.execute_wrappers.append(slow_read)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", with_wrapper)
    clock.advance(5)
    started = time.monotonic()
    try:
        assert not allowed(client, LATER, "/api/recorded")  # Answered at once, from the old snapshot.
        assert reading.wait(timeout=30)
        assert not allowed(client, LATER, "/api/recorded")
        waited = time.monotonic() - started
    finally:
        release.set()
    assert readers == ["credcors-refresh"]
    assert waited < 25  # Far below the 30 s the read is held for: nobody waited for it.
    _poll(lambda: allowed(client, LATER, "/api/recorded"))


@pytest.mark.django_db(transaction=True)
def test_first_request_after_a_local_commit_reloads_before_answering(
    client: Client, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[object] = []
    monkeypatch.setattr(get_store(), "spawn", spawned.append)
    assert not allowed(client, PARTNER, "/api/recorded")

    AllowedOrigin.objects.create(origin=PARTNER)  # Commits at once: this process saved it.

    assert allowed(client, PARTNER, "/api/recorded")
    assert spawned == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# Python 3.12+ warns that forking a threaded process may deadlock: that is
# the situation under test.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.django_db
def test_process_forked_while_a_refresh_held_the_lock_still_refreshes(client: Client, clock: Clock) -> None:
    assert allowed(client, "https://app.example.com", "/api/recorded")
    clock.advance(5)
    # A refresh is under way in another thread of the parent when it forks
    # (gunicorn --preload): the child gets the held lock but not the thread.
    get_store()._lock.acquire()
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            code = 1
            try:
                started: list[object] = []
                get_store().spawn = started.append
                get_store().get()
                code = 0 if len(started) == 1 else 2
            finally:
                os.write(write_end, bytes([code]))
                os._exit(0)
        os.close(write_end)
        result = os.read(read_end, 1)
        os.waitpid(pid, 0)
        os.close(read_end)
    finally:
        get_store()._lock.release()
    assert result == b"\x00", "the forked child could not start a refresh"


@pytest.mark.django_db
def test_a_refresh_that_cannot_start_keeps_serving_and_tries_again(
    client: Client, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert allowed(client, "https://app.example.com", "/api/recorded")
    clock.advance(5)

    def no_thread(refresh: Callable[[], None]) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(get_store(), "spawn", no_thread)
    response = client.get("/api/recorded", headers={"Origin": "https://app.example.com"})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert any("could not start a background refresh" in r.getMessage() for r in caplog.records)
    started: list[Callable[[], None]] = []
    monkeypatch.setattr(get_store(), "spawn", started.append)
    assert allowed(client, "https://app.example.com", "/api/recorded")
    assert len(started) == 1  # The lock was given back: the next request starts one.
    started[0]()  # Run it here, which also gives the lock back.
