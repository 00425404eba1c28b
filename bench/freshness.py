"""How credcors stays fresh, and what that costs: ``python3 dev.py bench --freshness``.

For each size of ``AllowedOrigin`` table, in a process of its own (Django's
settings are per process), with ``REFRESH_SECONDS = 1``:

- **cold load**: the first ``store.get()``, rows read and compiled; and the
  memory the loaded allow-list retains (tracemalloc, a second load);
- **idle**: requests served for a while with nothing changing: queries the
  store made per interval, and how many of them read the whole table;
- **reloads under load**: one thread answers requests through the middleware
  alone while another process's one-row changes (raw SQL: no signal) land
  every 1.5 s; the slowest answer and how long each change took to be served;
- **one-row change**: the CPU time of the reload a one-row change causes.

Loops are bounded by time and count; nothing here leaves loopback.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any

SIZES = (100_000,)
ENGINES = ("sqlite", "postgres")
PG_DATABASE = "credcors_freshness_bench"
CHANGES = 5
CHANGE_EVERY = 1.5
#: Rows go in as another process would put them: raw SQL, no model, no signal.
INSERT = (
    "INSERT INTO credcors_allowedorigin (origin, enabled, note, created_at, updated_at) "
    "VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def _settings(engine: str, db_path: str) -> dict[str, Any]:
    if engine == "sqlite":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path, "CONN_MAX_AGE": None}
    else:
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": PG_DATABASE, "USER": "postgres"}
        database.update(HOST="127.0.0.1", PORT="5432", CONN_MAX_AGE=None)
    return {
        "SECRET_KEY": "credcors-bench-not-secret",
        "ALLOWED_HOSTS": ["testserver"],
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "credcors"],
        "DATABASES": {"default": database},
        "CREDCORS": {"USE_DATABASE": True, "REFRESH_SECONDS": 1},
    }


def _create_pg_database() -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def measure(engine: str, size: int, idle_seconds: float) -> dict[str, Any]:
    """One size on one engine, in this process (call it in a fresh one)."""
    import django
    from django.conf import settings

    with tempfile.TemporaryDirectory() as tmp:
        if engine == "postgres":
            _create_pg_database()
        settings.configure(**_settings(engine, os.path.join(tmp, "bench.sqlite3")))
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)
        _fill(size)
        return {"engine": engine, "size": size, **_measure_loaded(idle_seconds)}


def _fill(size: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, size, 10_000):
            cursor.executemany(
                INSERT,
                [(f"https://app{i}.example.com", True) for i in range(start, min(size, start + 10_000))],
            )


class _Queries:
    """Counts every query of every connection, the refresh thread's included."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.full_reads = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        with self.lock:
            self.total += 1
            # The row read selects the origin column; the revision probe does not.
            self.full_reads += '"origin"' in sql and "SELECT" in sql
        return execute(sql, params, many, context)

    def install(self) -> None:
        from django.db.backends.signals import connection_created

        def wrap(sender: object, connection: Any, **kwargs: object) -> None:
            connection.execute_wrappers.append(self)

        connection_created.connect(wrap, weak=False)
        from django.db import connection

        connection.execute_wrappers.append(self)


def _measure_loaded(idle_seconds: float) -> dict[str, Any]:
    from django.test import RequestFactory

    from credcors import conf
    from credcors.middleware import CredCorsMiddleware
    from credcors.store import store

    result: dict[str, Any] = {}
    conf.reset()
    store.reset()
    gc.collect()
    start = time.perf_counter()
    store.get()
    result["cold_ms"] = (time.perf_counter() - start) * 1000
    result["rows"] = store.loaded_rows

    store.reset()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    store.get()
    gc.collect()
    result["retained_mb"] = (tracemalloc.get_traced_memory()[0] - base) / 1e6
    tracemalloc.stop()

    def view(request: Any) -> Any:
        from django.http import HttpResponse

        return HttpResponse(b"ok")

    middleware = CredCorsMiddleware(view)
    request = RequestFactory().get("/api/", HTTP_ORIGIN="https://app1.example.com")
    assert _allowed(middleware, request) == "https://app1.example.com"

    queries = _Queries()
    queries.install()
    deadline = time.monotonic() + idle_seconds
    while time.monotonic() < deadline:
        middleware(request)
    time.sleep(0.2)  # A refresh thread started at the deadline finishes.
    result["idle_queries_per_interval"] = queries.total / idle_seconds
    result["idle_full_reads"] = queries.full_reads

    result.update(_reloads_under_load(middleware, request))
    result["one_row_change_cpu_ms"] = _one_row_change_cpu()
    return result


def _allowed(middleware: Any, request: Any) -> str | None:
    return middleware(request).headers.get("Access-Control-Allow-Origin")  # type: ignore[no-any-return]


def _raw_change(n: int) -> str:
    # Another process's change: raw SQL on a connection of its own, no signal.
    from django.db import connections

    origin = f"https://changed{n}.example.com"
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(INSERT, [origin, True])
    finally:
        other.close()
    return origin


def _reloads_under_load(middleware: Any, request: Any) -> dict[str, Any]:
    from django.db import connections
    from django.test import RequestFactory

    stop = threading.Event()
    latencies: list[int] = []
    served: dict[str, float] = {}
    watched: list[tuple[str, Any]] = []

    def serve() -> None:
        counter = time.perf_counter_ns
        try:
            while not stop.is_set():
                begin = counter()
                middleware(request)
                latencies.append(counter() - begin)
                for origin, probe in list(watched):
                    if origin not in served and _allowed(middleware, probe) == origin:
                        served[origin] = time.monotonic()
        finally:
            connections.close_all()

    server = threading.Thread(target=serve, name="bench-serve")
    server.start()
    changed_at: dict[str, float] = {}
    try:
        for n in range(CHANGES):
            time.sleep(CHANGE_EVERY)
            origin = _raw_change(n)
            changed_at[origin] = time.monotonic()
            watched.append((origin, RequestFactory().get("/api/", HTTP_ORIGIN=origin)))
        deadline = time.monotonic() + 10
        while len(served) < CHANGES and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        server.join()
    ordered = sorted(latencies)
    delays = [served[origin] - at for origin, at in changed_at.items() if origin in served]
    return {
        "requests": len(latencies),
        "median_us": statistics.median(ordered) / 1e3,
        "p999_us": ordered[int(len(ordered) * 0.999)] / 1e3,
        "worst_ms": ordered[-1] / 1e6,
        "changes_served": f"{len(served)}/{CHANGES}",
        "change_served_after_s": max(delays) if delays else float("nan"),
    }


def _one_row_change_cpu() -> float:
    from credcors.store import store

    store.refresh()
    _raw_change(CHANGES + 1)
    store.schedule.expire()
    start = time.process_time()
    store.refresh()
    return (time.process_time() - start) * 1000


def _run_one(queue: Any, engine: str, size: int, idle_seconds: float) -> None:
    queue.put(measure(engine, size, idle_seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench --freshness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--freshness", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=lambda text: tuple(int(x) for x in text.split(",")), default=SIZES)
    parser.add_argument("--engines", type=lambda text: tuple(text.split(",")), default=ENGINES)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    results = []
    for engine in args.engines:
        for size in args.sizes:
            queue = context.Queue()
            process = context.Process(target=_run_one, args=(queue, engine, size, args.idle_seconds))
            process.start()
            results.append(queue.get(timeout=1800))
            process.join(timeout=60)
            print(_line(results[-1]), flush=True)
    print(f"(REFRESH_SECONDS=1; {CHANGES} one-row raw-SQL changes, one every {CHANGE_EVERY} s)")
    return 0


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['engine']:8} {r['size']:>9,} rows: cold load {r['cold_ms']:,.0f} ms, retains {r['retained_mb']:.0f} MB; "
        f"idle {r['idle_queries_per_interval']:.2f} queries/s, {r['idle_full_reads']} full reads; "
        f"under reloads {r['requests']:,} requests, median {r['median_us']:.1f} µs, p99.9 {r['p999_us']:.0f} µs, "
        f"worst {r['worst_ms']:.1f} ms; changes served {r['changes_served']}, slowest after "
        f"{r['change_served_after_s']:.2f} s; one-row change {r['one_row_change_cpu_ms']:,.0f} ms CPU"
    )


if __name__ == "__main__":
    sys.exit(main())
