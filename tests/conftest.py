"""Shared fixtures: a clean credcors state per test, a controllable clock, view call records."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from credcors import conf
from credcors.hosting import reset_hosts
from credcors.log import reset_rate_limits
from credcors.refused.flush import get_refused_log, reset_refused_log
from credcors.routing import reset_path_policies
from credcors.store.current import get_store, reset_store
from tests import urls

#: Hypothesis profiles instead of per-test example counts: ``quick`` while
#: working, ``thorough`` in CI (which sets CI=true); HYPOTHESIS_PROFILE picks one.
#: The properties compile snapshots or parse thousands of origins, so a
#: deadline would measure the machine, not the code.
HYPOTHESIS_PROFILES = {"quick": 100, "thorough": 400}


def pytest_configure(config: pytest.Config) -> None:
    for name, examples in HYPOTHESIS_PROFILES.items():
        hypothesis_settings.register_profile(
            name, max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
    hypothesis_settings.load_profile(
        os.environ.get("HYPOTHESIS_PROFILE") or ("thorough" if os.environ.get("CI") else "quick")
    )


def examples(share: float) -> int:
    """How many examples a property must have exercised, not vacuously: ``share`` of the profile's count."""
    return max(1, int(hypothesis_settings().max_examples * share))


def run_inline(refresh: Callable[[], None]) -> None:
    """Stands in for ``credcors.store.schedule.start_thread``: the refresh runs at once, in the calling thread."""
    refresh()


@pytest.fixture(autouse=True)
def _fresh_credcors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The config and the process-wide singletons: a test must never see the
    # previous test's rows, settings, cached paths or log windows, so each
    # starts with new ones, made on first use.  Background refreshes run
    # inline, so a test decides when one happens and sees the rows of its own
    # transaction; tests/store/test_background.py runs them in real threads.
    _reset_singletons()
    monkeypatch.setattr(get_store(), "spawn", run_inline)
    yield
    _reset_singletons()


def _reset_singletons() -> None:
    conf.reset()
    reset_store()
    reset_path_policies()
    reset_rate_limits()
    reset_hosts()


Timers = list[tuple[float, Callable[[], None]]]


@pytest.fixture(autouse=True)
def refused_timers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Timers]:
    """The refused-origin flushes scheduled so far, as (delay, flush); a test runs one when it wants.

    tests/refused/test_flood.py runs them in real timer threads.
    """
    reset_refused_log()
    timers: Timers = []
    monkeypatch.setattr(get_refused_log(), "timer", lambda delay, flush: timers.append((delay, flush)))
    yield timers
    reset_refused_log()


@pytest.fixture(autouse=True)
def view_calls() -> Iterator[list[str]]:
    """Methods of the requests that reached ``tests.urls.recorded``, in order."""
    urls.VIEW_CALLS.clear()
    yield urls.VIEW_CALLS
    urls.VIEW_CALLS.clear()


class Clock:
    """A clock for the store that only moves when a test calls :meth:`advance`.

    Refresh scheduling is then decided by the test, not by how fast the
    machine is.  ``on_call`` runs at every reading, to put another thread's
    action at an exact point of a refresh.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.on_call: Callable[[], None] | None = None
        #: The wall-clock time (seconds since the epoch) when ``now`` was 1000.
        self.epoch = time.time()

    def __call__(self) -> float:
        if self.on_call is not None:
            self.on_call()
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> float:
        """Seconds since the epoch, moving with :meth:`advance` only (what expiries compare with)."""
        return self.epoch + self.now - 1000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Give the process-wide store a frozen clock; advance it with ``clock.advance(s)``."""
    fake = Clock()
    monkeypatch.setattr(get_store(), "clock", fake)
    monkeypatch.setattr(get_store(), "wall", fake.wall)
    return fake


def close_thread_connection() -> None:
    """Close this thread's database connection, in-memory SQLite included.

    Django's ``close()`` keeps an in-memory SQLite database open; a thread that
    leaves its handle behind makes Python 3.13 warn about an unclosed
    connection, which the warnings-as-errors setting turns into a failure.
    """
    from django.db import connection

    connection.close()
    if connection.connection is not None:
        connection.connection.close()
        connection.connection = None


@contextmanager
def refresh_held_in_another_thread() -> Iterator[None]:
    """Run ``store.get()`` in another thread, held inside its read of the rows.

    Inside the ``with`` block that thread is mid-refresh; leaving the block
    lets it finish, and checks it ended cleanly.
    """
    from django.db import connection

    # The first query of a refresh: the revision poll, or the rows where the
    # backend keeps no revision.
    table = "credcors_"
    entered, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def block(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if table in sql:
            entered.set()
            release.wait(timeout=30)
        return execute(sql, params, many, context)

    def refresh() -> None:
        try:
            with connection.execute_wrapper(block):
                get_store().get()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_thread_connection()

    worker = threading.Thread(target=refresh)
    worker.start()
    try:
        assert entered.wait(timeout=30)
        yield
    finally:
        release.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors == []


@contextmanager
def queries_fail(containing: str) -> Iterator[list[str]]:
    """Make every query whose SQL contains ``containing`` fail, as if the server were gone; yields them."""
    from django.db import OperationalError, connection

    failed: list[str] = []

    def fail(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if containing in sql:
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield failed


@contextmanager
def table_reads_fail() -> Iterator[list[str]]:
    """Every query on the AllowedOrigin table fails as if the server were gone.

    Yields the list of statements that failed.  The multi-process tests cut a
    real connection; here one process's reads fail.
    """
    # The rows and the revision both live in credcors_ tables.
    with queries_fail("credcors_") as failed:
        yield failed


@contextmanager
def queries_in_any_thread() -> Iterator[list[str]]:
    """Every SQL statement run meanwhile, by this thread or the live server's.

    A live server on in-memory SQLite shares this thread's connection; other
    threads (a live server on PostgreSQL, asgiref's executor) open their own,
    which ``connection_created`` hands over before its first query.
    """
    from django.db import connection
    from django.db.backends.signals import connection_created

    statements: list[str] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    watched = [connection]

    def watch(sender: Any, connection: Any, **kwargs: Any) -> None:
        if record not in connection.execute_wrappers:
            connection.execute_wrappers.append(record)
            watched.append(connection)

    connection.execute_wrappers.append(record)
    connection_created.connect(watch, dispatch_uid="credcors-test-expiry")
    try:
        yield statements
    finally:
        connection_created.disconnect(dispatch_uid="credcors-test-expiry")
        for each in watched:
            if record in each.execute_wrappers:
                each.execute_wrappers.remove(record)
