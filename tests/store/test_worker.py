"""The refresh thread: one long-lived thread that keeps its database connection between polls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from credcors.store.schedule import Worker
from tests.conftest import close_thread_connection


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def _run(worker: Worker, task: Callable[[], None]) -> None:
    # Give ``task`` to the worker and wait until it ran.
    done = threading.Event()

    def run() -> None:
        try:
            task()
        finally:
            done.set()

    worker(run)
    assert done.wait(10)


def test_tasks_run_in_order_in_one_named_thread() -> None:
    worker = Worker("credcors-test", idle_seconds=5)
    seen: list[tuple[int, str, int]] = []

    def note(n: int) -> Callable[[], None]:
        return lambda: seen.append((n, threading.current_thread().name, threading.get_ident()))

    for n in range(5):
        worker(note(n))
    _run(worker, lambda: None)

    assert [n for n, _, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name, _ in seen} == {"credcors-test"}
    assert len({ident for _, _, ident in seen}) == 1
    assert threading.get_ident() not in {ident for _, _, ident in seen}


def test_a_failing_task_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker("credcors-test", idle_seconds=5)

    def fail() -> None:
        raise RuntimeError("boom")

    worker(fail)
    _run(worker, lambda: None)

    assert any("a background task failed" in record.getMessage() for record in caplog.records)


def test_an_idle_thread_ends_and_the_next_task_starts_another() -> None:
    worker = Worker("credcors-test", idle_seconds=0.05)
    idents: list[int] = []
    _run(worker, lambda: idents.append(threading.get_ident()))
    _wait(lambda: worker._thread is None)

    _run(worker, lambda: idents.append(threading.get_ident()))

    assert len(idents) == 2
    _wait(lambda: worker._thread is None)


def _connections_opened(conn_max_age: float | None) -> int:
    # Three polls through one worker; how many database connections they opened.
    from django.db.backends.signals import connection_created

    worker = Worker("credcors-test", idle_seconds=5)
    opened: list[str] = []

    def count(sender: object, **kwargs: object) -> None:
        opened.append(threading.current_thread().name)

    def query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    connection_created.connect(count)
    connection.settings_dict["CONN_MAX_AGE"] = conn_max_age
    try:
        for _ in range(3):
            _run(worker, query)
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection_created.disconnect(count)
        _run(worker, close_thread_connection)
    assert set(opened) == {"credcors-test"}
    return len(opened)


@pytest.mark.django_db(transaction=True)
def test_persistent_connections_serve_every_poll_with_one_connection() -> None:
    assert _connections_opened(None) == 1


@pytest.mark.django_db(transaction=True)
def test_with_conn_max_age_0_each_poll_connects_as_a_request_would() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "the suite's SQLite database is in memory, which Django never closes; the PostgreSQL run checks this"
        )
    assert _connections_opened(0) == 3


def test_after_fork_forgets_the_parents_thread_and_the_next_task_starts_its_own() -> None:
    # What a child forked while the thread ran sees: the thread object is the
    # parent's, and no thread of the child would ever run the child's tasks.
    worker = Worker("credcors-test", idle_seconds=0.05)
    ran_in: list[threading.Thread] = []
    _run(worker, lambda: ran_in.append(threading.current_thread()))

    worker.after_fork()
    _run(worker, lambda: ran_in.append(threading.current_thread()))

    assert ran_in[0] is not ran_in[1]
