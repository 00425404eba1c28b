"""CACHE_ALIAS: a shared Redis cache makes changes reach other processes sooner, and never matters for correctness.

Each ``Store()`` made here stands for another process: it has its own
snapshot, and the only thing it shares with the global store is Redis (and
the database).  These tests use the real Redis at ``CREDCORS_TEST_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``) under a key prefix of their own.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from credcors.checks import check_settings
from credcors.conf import get_config
from credcors.core.decide import decide
from credcors.core.snapshot import Snapshot
from credcors.models import AllowedOrigin
from credcors.store.current import CACHE_CHECK_SECONDS, CACHE_RETRY_MAX_SECONDS, CACHE_RETRY_SECONDS, Store, get_store
from credcors.store.loader import VERSION_KEY
from tests.conftest import Clock, run_inline, table_reads_fail
from tests.multiprocess.proxy import TcpProxy
from tests.multiprocess.services import REDIS_URL, require_redis

pytestmark = pytest.mark.django_db
# Django's RedisCache needs the redis package, from the `integration`
# dependency group, which the nox matrix does not install.
needs_redis = pytest.mark.integration

NEW = "https://new.example.com"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
TIMEOUTS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
TABLE = AllowedOrigin._meta.db_table


def _allows(policy: Snapshot, origin: str) -> bool:
    return decide(policy, "GET", origin, None, None).allowed


def _use_redis(settings: Any, location: str = REDIS_URL, refresh: float = 3600, **credcors: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": REDIS_CACHE,
            "LOCATION": location,
            "KEY_PREFIX": f"credcors-test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": TIMEOUTS,
        },
    }
    settings.CREDCORS = {"REFRESH_SECONDS": refresh, "CACHE_ALIAS": "shared", **credcors}


@pytest.fixture
def shared(settings: Any) -> Iterator[None]:
    """Redis as CACHE_ALIAS, with REFRESH_SECONDS so long that only Redis can make a change show."""
    require_redis()
    _use_redis(settings)
    yield
    caches["shared"].delete(VERSION_KEY)


@pytest.fixture
def cache_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[tuple[str, int]]]:
    """Start recording (method, thread id) of every call credcors makes to the shared cache."""

    def start() -> list[tuple[str, int]]:
        calls: list[tuple[str, int]] = []
        cache = caches["shared"]
        for name in ("get", "set"):
            real = getattr(cache, name)

            def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                calls.append((_name, threading.get_ident()))
                return _real(*args, **kwargs)

            monkeypatch.setattr(cache, name, spy)
        return calls

    return start


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _messages(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "credcors" and fragment in r.getMessage()]


# -- Propagation ----------------------------------------------------------------


@needs_redis
def test_change_saved_in_one_process_reaches_another_through_the_cache(
    shared: None, django_capture_on_commit_callbacks: Any
) -> None:
    other = Store(spawn=run_inline)
    assert not _allows(other.get(), NEW)
    get_store().get()

    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.create(origin=NEW)

    # REFRESH_SECONDS is an hour: only the version in Redis can do this.
    deadline = time.monotonic() + 10
    while not _allows(other.get(), NEW):
        assert time.monotonic() < deadline, "the other store never saw the published change"
        time.sleep(0.02)


@needs_redis
def test_queryset_update_with_invalidate_on_commit_reaches_another_process(
    shared: None, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    from credcors.signals import invalidate_on_commit

    AllowedOrigin.objects.create(origin=NEW, enabled=False)
    other = Store(clock=clock, spawn=run_inline)
    assert not _allows(other.get(), NEW)

    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.filter(origin=NEW).update(enabled=True)
        invalidate_on_commit()
    clock.advance(CACHE_CHECK_SECONDS)

    assert _allows(other.get(), NEW)


@needs_redis
def test_steady_state_reads_the_cache_once_per_interval_and_never_the_database(
    shared: None, clock: Clock, cache_calls: Any, django_assert_num_queries: Any
) -> None:
    get_store().get()
    calls = cache_calls()

    with django_assert_num_queries(0):
        for _ in range(1000):
            get_store().get()
        assert calls == []
        clock.advance(CACHE_CHECK_SECONDS)
        for _ in range(1000):
            get_store().get()

    assert [name for name, _ in calls] == ["get"]


@needs_redis
def test_async_requests_check_the_cache_off_the_event_loop(shared: None, clock: Clock, cache_calls: Any) -> None:
    get_store().get()
    calls = cache_calls()
    clock.advance(CACHE_CHECK_SECONDS)

    async def request() -> int:
        await get_store().aget()
        return threading.get_ident()

    loop_thread = async_to_sync(request)()

    assert len(calls) == 1
    assert calls[0][1] != loop_thread


@needs_redis
def test_without_the_database_the_cache_is_never_used(settings: Any, clock: Clock, cache_calls: Any) -> None:
    require_redis()
    _use_redis(settings, USE_DATABASE=False, ALLOWED_ORIGINS=["https://app.example.com"])
    calls = cache_calls()

    get_store().get()
    get_store().publish_change()
    clock.advance(3600)
    get_store().get()

    assert calls == []


# -- Redis failing ------------------------------------------------------------------


@needs_redis
def test_unreachable_cache_is_logged_once_and_requests_still_answer(
    settings: Any, clock: Clock, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    _use_redis(settings, location=f"redis://127.0.0.1:{_closed_port()}/0", refresh=5)
    caplog.set_level(logging.INFO, logger="credcors")
    client = Client()

    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.create(origin=NEW)  # Publishing fails: logged, not raised.
    for _ in range(40):
        response = client.get("/api/echo", headers={"Origin": NEW})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == NEW
        clock.advance(CACHE_CHECK_SECONDS)

    assert len(_messages(caplog, "could not reach the shared cache 'shared'")) == 1


@needs_redis
def test_unreachable_cache_is_retried_with_backoff_and_polling_still_applies(
    settings: Any, clock: Clock, cache_calls: Any
) -> None:
    _use_redis(settings, location=f"redis://127.0.0.1:{_closed_port()}/0", refresh=5)
    AllowedOrigin.objects.create(origin=NEW)
    assert _allows(get_store().get(), NEW)  # The load's read of the version fails: the first failure.
    calls = cache_calls()

    AllowedOrigin.objects.filter(origin=NEW).update(enabled=False)  # No signal, no publish.
    tried_at: list[float] = []
    for step in range(1, 20):
        clock.advance(CACHE_CHECK_SECONDS)
        before = len(calls)
        assert _allows(get_store().get(), NEW)
        if len(calls) > before:
            tried_at.append(step * CACHE_CHECK_SECONDS)
    # Backing off (1 s, then 2 s), never at every check interval.
    assert tried_at == [CACHE_RETRY_SECONDS, 3 * CACHE_RETRY_SECONDS]
    clock.advance(CACHE_CHECK_SECONDS)  # REFRESH_SECONDS since the last load.

    assert not _allows(get_store().get(), NEW)
    assert [name for name, _ in calls] == ["get"] * 3


@needs_redis
def test_cache_recovery_is_logged_and_fast_propagation_resumes(
    settings: Any, clock: Clock, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    require_redis()
    parts = urlsplit(REDIS_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    try:
        _use_redis(settings, location=f"redis://127.0.0.1:{proxy.port}{parts.path}")
        caplog.set_level(logging.INFO, logger="credcors")
        other = Store(clock=clock, spawn=run_inline)
        other.get()
        get_store().get()

        proxy.cut("reset")
        clock.advance(CACHE_CHECK_SECONDS)
        other.get()
        clock.advance(CACHE_CHECK_SECONDS)
        other.get()
        assert len(_messages(caplog, "could not reach the shared cache")) == 1
        proxy.restore()
        clock.advance(CACHE_RETRY_SECONDS)  # Tried again on its own, an hour before the next database poll.
        other.get()
        assert len(_messages(caplog, "the shared cache 'shared' answers again")) == 1

        with django_capture_on_commit_callbacks(execute=True):
            AllowedOrigin.objects.create(origin=NEW)
        clock.advance(CACHE_CHECK_SECONDS)

        assert _allows(other.get(), NEW)
    finally:
        proxy.restore()
        caches["shared"].delete(VERSION_KEY)
        proxy.close()


@needs_redis
def test_database_failure_is_retried_at_refresh_seconds_not_at_every_cache_check(settings: Any, clock: Clock) -> None:
    require_redis()
    _use_redis(settings, refresh=5)
    get_store().get()
    other = Store(clock=clock, spawn=run_inline)

    with table_reads_fail() as failed:
        other.publish_change()  # Another process saved something.
        clock.advance(CACHE_CHECK_SECONDS)
        get_store().get()
        per_poll = len(failed)
        assert per_poll > 0
        for _ in range(10):
            clock.advance(CACHE_CHECK_SECONDS)
            get_store().get()
        assert len(failed) == per_poll
        clock.advance(5)
        get_store().get()

    assert len(failed) == 2 * per_poll
    caches["shared"].delete(VERSION_KEY)


@pytest.fixture
def failing_cache(settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[float]]:
    """A file cache as CACHE_ALIAS whose reads fail while ``down(True)``; returns the clock times of its reads.

    No Redis needed: the failure is the cache client's error, as a Redis
    refusing connections raises it.
    """
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)},
    }
    settings.CREDCORS = {"REFRESH_SECONDS": 3600, "CACHE_ALIAS": "shared"}
    state = {"down": False}
    reads: list[float] = []
    cache = caches["shared"]
    real_get = cache.get

    def get(*args: Any, **kwargs: Any) -> Any:
        reads.append(get_store().clock())
        if state["down"]:
            raise ConnectionError("Connection refused")
        return real_get(*args, **kwargs)

    monkeypatch.setattr(cache, "get", get)

    def down(value: bool) -> list[float]:
        state["down"] = value
        return reads

    return down


def test_failed_cache_is_retried_within_seconds_not_at_the_next_database_poll(
    failing_cache: Callable[[bool], list[float]],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    django_assert_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    get_store().get()
    reads = failing_cache(True)
    reads.clear()
    start = clock.now

    with django_assert_num_queries(0):  # REFRESH_SECONDS is an hour: none of this polls the database.
        clock.advance(CACHE_CHECK_SECONDS)
        get_store().get()  # Fails: the first retry comes a second later.
        for _ in range(200):
            clock.advance(CACHE_CHECK_SECONDS)
            get_store().get()
    tried = [round(at - start, 2) for at in reads]
    # 1, 2, 4 and 8 s apart, then every CACHE_RETRY_MAX_SECONDS.
    assert tried[:6] == [0.25, 1.25, 3.25, 7.25, 15.25, 25.25]
    assert tried[-1] == 45.25
    assert len(_messages(caplog, "could not reach the shared cache 'shared'")) == 1

    failing_cache(False)
    clock.advance(CACHE_RETRY_MAX_SECONDS)
    get_store().get()
    assert len(_messages(caplog, "the shared cache 'shared' answers again")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.create(origin=NEW)  # Published through the cache by "another process".
    other = Store(clock=clock, spawn=run_inline)
    other.get()
    clock.advance(CACHE_CHECK_SECONDS)
    assert _allows(other.get(), NEW)


def test_cache_retries_back_off_to_their_cap_and_stay_there(
    failing_cache: Callable[[bool], list[float]], clock: Clock
) -> None:
    get_store().get()
    reads = failing_cache(True)
    reads.clear()

    # Three hours of failures: more than a float's exponent would take if
    # the wait were doubled at each one.
    for _ in range(1100):
        clock.advance(CACHE_RETRY_MAX_SECONDS)
        get_store().get()

    assert len(reads) == 1100
    assert {round(later - earlier, 2) for earlier, later in itertools.pairwise(reads[10:])} == {CACHE_RETRY_MAX_SECONDS}


# -- Configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caches_setting", "alias", "check_id", "fragment"),
    [
        ({}, 42, "credcors.E016", "must be the name of a cache in settings.CACHES"),
        ({}, "shared", "credcors.E013", "'shared', which is not a cache in settings.CACHES"),
        (
            {"shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "shared",
            "credcors.E013",
            "is not shared between processes",
        ),
        (
            {"shared": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
            "shared",
            "credcors.E013",
            "is not shared between processes",
        ),
        (
            {"shared": {"BACKEND": REDIS_CACHE, "LOCATION": REDIS_URL, "OPTIONS": {"socket_timeout": 1}}},
            "shared",
            "credcors.W005",
            "sets no socket_timeout and socket_connect_timeout",
        ),
    ],
)
def test_bad_cache_alias_is_reported_with_its_fix(
    settings: Any, caches_setting: dict[str, Any], alias: object, check_id: str, fragment: str
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, **caches_setting}
    settings.CREDCORS = {"CACHE_ALIAS": alias}

    (message,) = check_settings()

    assert message.id == check_id
    assert fragment in message.msg
    assert message.hint
    # An error leaves the shared cache out (correctness never needed it); a warning keeps it.
    assert get_config().cache_alias == (alias if check_id.startswith("credcors.W") else None)


@pytest.mark.parametrize(
    "entry",
    [
        {"BACKEND": REDIS_CACHE, "LOCATION": REDIS_URL, "OPTIONS": TIMEOUTS},
        {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/tmp/credcors-unused"},
    ],
)
def test_shared_cache_alias_is_accepted(settings: Any, entry: dict[str, Any]) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, "shared": entry}
    settings.CREDCORS = {"CACHE_ALIAS": "shared"}

    assert check_settings() == []
    assert get_config().cache_alias == "shared"


@pytest.mark.django_db
def test_cache_check_during_a_running_refresh_answers_at_once(settings: Any, clock: Clock) -> None:
    require_redis()
    _use_redis(settings, refresh=5)
    current = get_store().get()
    clock.advance(CACHE_CHECK_SECONDS)  # Only the shared-cache check is due.
    get_store()._lock.acquire()  # A refresh is under way in another thread.
    try:
        assert get_store().get() is current
    finally:
        get_store()._lock.release()


@needs_redis
def test_expiry_comes_before_the_next_cache_check(
    shared: None, client: Client, clock: Clock, django_assert_num_queries: Any
) -> None:
    # The next look is at the sooner of the cache check and the expiry.
    AllowedOrigin.objects.create(origin=NEW, expires_at=timezone.now() + timedelta(seconds=0.1))
    assert get_store().get().default.index.lookup(NEW) is not None

    clock.advance(CACHE_CHECK_SECONDS / 2)
    with django_assert_num_queries(0):
        assert get_store().get().default.index.lookup(NEW) is None
