"""One freshness measurement: one engine, one table size, in a process of its own.

Phases, in this order, each bounded by time:

1. **cold load**: the first ``store.get()`` of the process (wall and CPU);
2. **retained memory**: the store reset and loaded again under tracemalloc:
   what the loaded allow-list keeps (and the peak while loading);
3. **idle**: requests through the middleware alone, flat out, nothing
   changing: every query and every row fetched, by any thread;
4. **one-row change, quiet**: one insert, one update and one delete by raw
   SQL on another connection, each followed by a request every 5 ms until
   one is answered as the change says; the process CPU that took, less what
   the same probing costs with nothing changing;
5. **under load**: one thread answers requests flat out, timed one by one,
   while the same three changes land at random moments of the interval;
   the slowest answers and when each change was first served.

Every query of every Django connection is counted with the rows it returned
(:mod:`bench.freshness_tally`), and so is the longest garbage-collector
pause of each phase: a full collection over a large allow-list stalls
whichever request happens to trigger it.

Only public things are used: the store (``get``, ``reset``), the
middleware, settings, and SQL on a connection of the bench's own.
"""

from __future__ import annotations

import gc
import heapq
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from array import array
from typing import Any

from bench.freshness_sql import ROW_ORIGIN, Change, OtherService, create_pg_database, django_database
from bench.freshness_tally import Collections, Tally

REFRESH_SECONDS = 1.0
KINDS = ("insert", "update", "delete")
#: The quiet phase's probing: one request per this many seconds.
PROBE_EVERY = 0.005
#: Under load, whether the watched change is served is looked at this often.
WATCH_EVERY = 0.001
#: Under load, rounds of (insert, update, delete) at most.
MAX_ROUNDS = 5


def measure(engine: str, size: int, options: dict[str, float]) -> dict[str, Any]:
    """Fill a fresh database with ``size`` rows and measure; call it in a fresh process."""
    import django
    from django.conf import settings

    with tempfile.TemporaryDirectory(prefix="credcors-freshness-") as tmp:
        sqlite_path = os.path.join(tmp, "bench.sqlite3")
        if engine == "postgres":
            create_pg_database()
        settings.configure(
            SECRET_KEY="credcors-bench-not-secret",
            ALLOWED_HOSTS=["testserver"],
            USE_TZ=True,
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "credcors"],
            DATABASES={"default": django_database(engine, sqlite_path)},
            CREDCORS={"USE_DATABASE": True, "REFRESH_SECONDS": REFRESH_SECONDS},
        )
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)
        other = OtherService(engine, sqlite_path, size)
        started = time.perf_counter()
        other.fill()
        result: dict[str, Any] = {"engine": engine, "size": size, "fill_s": time.perf_counter() - started}
        _progress(f"{engine} {size:,} rows: filled in {result['fill_s']:.1f} s")
        try:
            result.update(_Phases(other, size, options).run())
        finally:
            other.close()
            from django.db import connections

            connections.close_all()
        return result


class _Phases:
    def __init__(self, other: OtherService, size: int, options: dict[str, float]) -> None:
        from django.http import HttpResponse
        from django.test import RequestFactory

        from credcors.middleware import CredCorsMiddleware

        self.other = other
        self.size = size
        self.options = options
        self.factory = RequestFactory()
        self.middleware = CredCorsMiddleware(lambda request: HttpResponse(b"ok"))
        self.allowed_origin = ROW_ORIGIN.format(1)
        self.request = self._request(self.allowed_origin)
        self.tally = Tally()
        self.collections = Collections()
        self.random = random.Random(size)

    def _request(self, origin: str) -> Any:
        return self.factory.get("/api/", HTTP_ORIGIN=origin)

    def allows(self, origin: str) -> bool:
        response: Any = self.middleware(self._request(origin))
        return bool(response.headers.get("Access-Control-Allow-Origin") == origin)

    def served(self, change: Change) -> bool:
        return all(self.allows(origin) == allowed for origin, allowed in change.expect)

    def run(self) -> dict[str, Any]:
        _progress("cold load and retained memory")
        result = self.load()
        # Refuse to time anything unless the loaded list answers as it should.
        if not self.allows(self.allowed_origin) or self.allows("https://nobody.example.com"):
            raise RuntimeError("bench: the loaded allow-list does not answer as the rows say")
        self.tally.install()
        self.collections.install()
        for name, phase in (("idle", self.idle), ("quiet", self.quiet_changes), ("load", self.changes_under_load)):
            _progress(f"{name} phase")
            self.collections.take()
            result.update(phase())
            result.update({f"{name}_{key}": value for key, value in self.collections.take().items()})
        return result

    def load(self) -> dict[str, Any]:
        from credcors.store.current import get_store

        store = get_store()

        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        store.get()
        result = {"cold_s": time.perf_counter() - wall, "cold_cpu_s": time.process_time() - cpu}
        store.reset()
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        store.get()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.update(retained_mb=(current - base) / 1e6, load_peak_mb=(peak - base) / 1e6)
        return result

    def idle(self) -> dict[str, Any]:
        seconds = self.options["idle_seconds"]
        middleware, request, counter = self.middleware, self.request, time.perf_counter_ns
        latencies = array("q")
        self.tally.take()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            begin = counter()
            middleware(request)
            latencies.append(counter() - begin)
        time.sleep(0.3)  # A refresh started just before the deadline finishes and is counted.
        queries, connections = self.tally.take()
        intervals = seconds / REFRESH_SECONDS
        rows = sum(query.rows for query in queries)
        return {
            "idle_s": seconds,
            "idle_requests": len(latencies),
            "idle_queries_per_interval": len(queries) / intervals,
            "idle_connections_per_interval": connections / intervals,
            "idle_rows_per_minute": rows / seconds * 60,
            "idle_largest_read": max((query.rows for query in queries), default=0),
            # Whole tables' worth of rows, however they were fetched (one query or chunks).
            "idle_full_reads": rows // self.size,
            "idle_worst_ms": max(latencies, default=0) / 1e6,
            "idle_sql": sorted({query.sql for query in queries}),
        }

    def quiet_changes(self) -> dict[str, Any]:
        """Each change's CPU in a process that does nothing else but probe, every 5 ms."""
        timeout = self.options["change_timeout"]
        # What probing costs with nothing changing (the polls included).
        wall, cpu = time.monotonic(), time.process_time()
        while time.monotonic() - wall < 2 * REFRESH_SECONDS:
            self.allows(self.allowed_origin)
            time.sleep(PROBE_EVERY)
        rate = (time.process_time() - cpu) / (time.monotonic() - wall)
        changes: list[Change] = []
        for kind in KINDS:
            time.sleep(self.random.uniform(0, REFRESH_SECONDS))
            cpu = time.process_time()
            change = self.other.change(kind, time.monotonic)
            changes.append(change)
            while time.monotonic() - change.committed_at < timeout:
                if self.served(change):
                    change.served_at = time.monotonic()
                    break
                time.sleep(PROBE_EVERY)
            elapsed = time.monotonic() - change.committed_at
            change.cpu_s = max(0.0, time.process_time() - cpu - rate * elapsed)
            if change.served_at is None:
                break  # Not served in time: the next change would only queue behind it.
        return {
            "change_timeout_s": timeout,
            "quiet_probe_cpu_share": rate,
            "quiet": {c.kind: {"served_after_s": c.served_after, "cpu_s": c.cpu_s} for c in changes},
        }

    def changes_under_load(self) -> dict[str, Any]:
        """One thread serves flat out while changes land; every request is timed."""
        from django.db import connections

        timeout, budget = self.options["change_timeout"], self.options["change_seconds"]
        stop = threading.Event()
        latencies = array("q")
        watched: list[Change] = []
        middleware, request, counter = self.middleware, self.request, time.perf_counter_ns

        def serve() -> None:
            looked_at = 0.0
            try:
                while not stop.is_set():
                    begin = counter()
                    middleware(request)
                    latencies.append(counter() - begin)
                    now = time.monotonic()
                    if watched and now - looked_at >= WATCH_EVERY:
                        looked_at = now
                        change = watched[-1]
                        if change.served_at is None and self.served(change):
                            change.served_at = time.monotonic()
            finally:
                connections.close_all()

        server = threading.Thread(target=serve, name="bench-serve")
        started = time.monotonic()
        server.start()
        timed_out = False
        try:
            for _round in range(MAX_ROUNDS):
                for kind in KINDS:
                    time.sleep(self.random.uniform(0, REFRESH_SECONDS))
                    change = self.other.change(kind, time.monotonic)
                    watched.append(change)
                    while change.served_at is None and time.monotonic() - change.committed_at < timeout:
                        time.sleep(0.01)
                    timed_out = change.served_at is None
                    if timed_out:
                        break
                if timed_out or time.monotonic() - started >= budget:
                    break
        finally:
            stop.set()
            server.join()
        delays = {kind: [c.served_after for c in watched if c.kind == kind] for kind in KINDS}
        served = [c.served_after for c in watched if c.served_after is not None]
        return {
            "load_s": time.monotonic() - started,
            "load_requests": len(latencies),
            "load_median_us": statistics.median(latencies) / 1e3 if latencies else float("nan"),
            "load_p999_ms": _percentile(latencies, 0.999) / 1e6,
            "load_worst_ms": max(latencies, default=0) / 1e6,
            "load_changes": len(watched),
            "load_served": len(served),
            "load_served_after_s": {kind: [d for d in ds if d is not None] for kind, ds in delays.items()},
            "load_slowest_served_s": max(served, default=float("nan")),
        }


def _progress(text: str) -> None:
    # On stderr, so that stdout holds only the results.
    print(f"  .. {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _percentile(values: array[int], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank), without sorting them all."""
    if not values:
        return float("nan")
    above = max(1, len(values) - int(len(values) * share))
    return heapq.nlargest(above, values)[-1]
