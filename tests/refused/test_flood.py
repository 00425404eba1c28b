"""A flood of 100,000 distinct refused origins from several threads: every bound holds, nothing breaks.

The requests go through the real middleware (around a trivial view, as the
benchmark's middleware level does, so the run stays within seconds), and
the flushes run in real timer threads writing to the real database.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import tracemalloc
from collections.abc import Callable

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from credcors.core.origin_header import OriginShape, classify_origin
from credcors.middleware import CredCorsMiddleware
from credcors.models import RefusedOrigin
from credcors.refused.flush import get_refused_log, start_timer
from tests.conftest import close_thread_connection

THREADS = 4
ORIGINS = 100_000
MAX_ROWS = 200
MAX_PENDING = 1000
FLUSH_SECONDS = 1
ALLOWED = "https://app.example.com"
# What a flood may send besides well-formed origins; none of it is ever stored.
HOSTILE = [
    "null",
    "https://EVIL.example.net",
    "https://evil.example.net/",
    "https://évil.example.net",
    "https://evil.example.net\r\nx: y",
    "https://" + "a" * 5000 + ".example.net",
    "https://a.example.net, https://b.example.net",
]
#: The first 60% of the flood runs with a flush every FLUSH_SECONDS; the last
#: 40% (40,000 requests, 36,000 distinct origins) runs under tracemalloc,
#: which makes every allocation about ten times slower, with flushes held.
TRACED_SHARE = 0.4
#: Tracemalloc's peak over the traced part, above where it started.  Held in
#: memory are at most MAX_PENDING origins, about 0.3 KB each with their path
#: and entry; the 36,000 origins of the traced part, all kept, took 7.7 MB
#: when the bound was taken out.
PEAK_BYTES = 2 * 1024 * 1024


def _request(origin: str) -> HttpRequest:
    # What the middleware reads of a request, without a WSGI handler's parsing.
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = "/api/ping"
    request.META = {"HTTP_HOST": "api.example.com", "HTTP_ORIGIN": origin}
    return request


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


def _call(middleware: CredCorsMiddleware, request: HttpRequest) -> HttpResponseBase:
    response = middleware(request)
    assert isinstance(response, HttpResponseBase)  # A sync stack answers at once.
    return response


@pytest.mark.django_db(transaction=True)
def test_flood_of_distinct_refused_origins_keeps_every_bound(settings, monkeypatch) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": [ALLOWED],
        "USE_DATABASE": False,
        "RECORD_REFUSED": True,
        "REFUSED_FLUSH_SECONDS": FLUSH_SECONDS,
        "REFUSED_MAX_ROWS": MAX_ROWS,
        "REFUSED_MAX_PENDING": MAX_PENDING,
    }
    flush_starts: list[float] = []
    timers: list[threading.Event] = []
    flushes_allowed = threading.Event()
    flushes_allowed.set()

    def timer(delay: float, flush: Callable[[], None]) -> None:
        done = threading.Event()
        timers.append(done)

        def timed_flush() -> None:
            flushes_allowed.wait(timeout=120)
            flush_starts.append(time.monotonic())
            try:
                flush()
            finally:
                close_thread_connection()
                done.set()

        start_timer(delay, timed_flush)

    monkeypatch.setattr(get_refused_log(), "timer", timer)
    middleware = CredCorsMiddleware(_view)
    statuses: dict[int, int] = {}
    allowed_answers: list[str | None] = []
    largest_pending = [0]
    errors: list[BaseException] = []
    lock = threading.Lock()
    # All threads meet before the flood, and again where the traced part begins.
    meet = threading.Barrier(THREADS + 1, timeout=120)
    per_thread = ORIGINS // THREADS
    untraced = per_thread - round(per_thread * TRACED_SHARE)

    def flood(n: int) -> None:
        rng = random.Random(n)
        seen: dict[int, int] = {}
        # One request object per thread, its Origin and method changed per
        # call (the middleware keeps nothing on a request), and one response
        # from the view: the memory traced is credcors', not the test's.
        request, response = _request(ALLOWED), HttpResponse(b"ok")
        flood_middleware = CredCorsMiddleware(lambda request: response)
        meta = request.META
        try:
            meet.wait()
            for i in range(per_thread):
                if i == untraced:
                    meet.wait()  # The main thread starts tracing,
                    meet.wait()  # then lets the flood go on.
                if i % 10 == 9:
                    meta["HTTP_ORIGIN"] = HOSTILE[i % len(HOSTILE)]
                else:
                    meta["HTTP_ORIGIN"] = f"https://{rng.getrandbits(64):016x}.t{n}.flood.example"
                if i % 3 == 0:
                    request.method = "OPTIONS"
                    meta["HTTP_ACCESS_CONTROL_REQUEST_METHOD"] = "PUT"
                else:
                    request.method = "GET"
                    meta.pop("HTTP_ACCESS_CONTROL_REQUEST_METHOD", None)
                answer = _call(flood_middleware, request)
                seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
                if i % 1000 == 0:
                    allowed = _call(middleware, _request(ALLOWED))
                    with lock:
                        allowed_answers.append(allowed.headers.get("Access-Control-Allow-Origin"))
                        largest_pending[0] = max(largest_pending[0], len(get_refused_log().recorder))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            with lock:
                for status, count in seen.items():
                    statuses[status] = statuses.get(status, 0) + count

    middleware(_request(ALLOWED))  # Compile the snapshot first.
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    meet.wait()
    meet.wait()
    # The traced part runs with flushes held back, the worst case for
    # memory: whatever is counted stays in this process.
    flushes_allowed.clear()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        meet.wait()
        for thread in threads:
            thread.join(timeout=120)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
        flushes_allowed.set()
    flood_seconds = time.monotonic() - began
    # Every flush scheduled during the flood has written (the last one
    # takes what was left), and none is still writing at teardown.
    deadline = time.monotonic() + 30
    while not all(done.is_set() for done in timers) and time.monotonic() < deadline:
        timers[-1].wait(timeout=1)
    assert all(done.is_set() for done in timers)
    assert len(get_refused_log().recorder) == 0

    assert errors == []
    assert all(status < 500 for status in statuses), statuses
    assert sum(statuses.values()) == ORIGINS
    assert set(statuses) == {200, 403}
    assert allowed_answers
    assert set(allowed_answers) == {ALLOWED}
    assert largest_pending[0] <= MAX_PENDING
    assert peak < PEAK_BYTES, f"{peak:,} bytes at the peak"
    stored = list(RefusedOrigin.objects.values_list("origin", "count"))
    assert 0 < len(stored) <= MAX_ROWS
    assert all(classify_origin(origin) is OriginShape.SERIALIZED and origin.isascii() for origin, _ in stored)
    assert all(origin.endswith(".flood.example") for origin, _ in stored)
    # At most one flush per interval in this process (a little timer slack).
    gaps = [later - earlier for earlier, later in itertools.pairwise(flush_starts)]
    assert all(gap >= FLUSH_SECONDS - 0.05 for gap in gaps), gaps
    assert len(flush_starts) <= flood_seconds / FLUSH_SECONDS + 3
