"""Rows scoped to hosts (issue 24) against the same rows unscoped: lookup cost, cold load and memory.

``python -m bench.tenants [--quick]``.  For each size (10 and 1,000,000 rows;
``--quick``: 10 and 10,000) and each shape, one process of its own (Django's
settings are process-global) creates an SQLite file holding that many
``AllowedOrigin`` rows and measures:

* **unscoped**: every row applies on every host, as in 0.1;
* **scoped**: the same origins, each row scoped to one API host of
  ``min(rows, 10,000)`` (``api{n}.tenants.example``, rows spread evenly), with
  ``ALLOWED_HOSTS`` accepting ``.tenants.example``.

In each process: the cold load (``store.get()``: read, validate, compile),
the memory the loaded snapshot retains (tracemalloc, after a collection),
``decide()`` for an allowed row origin on its host, and the middleware alone
around a trivial view for that request; then the queries those requests made
(none, or the figure is wrong).  Scoped, the same origin is also asked on
another tenant's host, to show it is refused there.  Times are the median of
``REPS`` batches of ``BATCH`` calls, with the collector off.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench import workload

SIZES = (10, 1_000_000)
QUICK_SIZES = (10, 10_000)
MAX_HOSTS = 10_000
REPS = 15
BATCH = 20_000
SHAPES = ("unscoped", "scoped")


def _host(n: int) -> str:
    return f"api{n}.tenants.example"


def _insert_rows(db_path: str, origins: list[str], hosts: list[str]) -> None:
    import sqlite3

    connection = sqlite3.connect(db_path)
    now = "2026-01-01 00:00:00"
    connection.executemany(
        "INSERT INTO credcors_allowedorigin "
        "(origin, enabled, policy, trust_for_csrf, note, expires_at, created_at, updated_at, hosts) "
        "VALUES (?, 1, 'default', 0, '', NULL, ?, ?, ?)",
        ((origin, now, now, host) for origin, host in zip(origins, hosts, strict=True)),
    )
    connection.commit()
    connection.close()


def _timed(fn: Callable[[], Any], reps: int, batch: int) -> float:
    """Median nanoseconds per call over ``reps`` batches of ``batch`` calls, the collector off."""
    gc.disable()
    try:
        times = []
        for _ in range(reps):
            start = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            times.append((time.perf_counter_ns() - start) / batch)
        return statistics.median(times)
    finally:
        gc.enable()


def measure(size: int, shape: str, quick: bool) -> dict[str, Any]:
    """Every figure for one size and shape, in this process (call it in a fresh one)."""
    import django
    from django.conf import settings

    db_path = os.path.join(tempfile.mkdtemp(prefix="credcors-tenants-"), "bench.sqlite3")
    values = workload.settings_for("cc-db", 1, db_path)
    values["ALLOWED_HOSTS"] = [".tenants.example", "testserver"]
    values["CREDCORS"] = {"USE_DATABASE": True, "REFRESH_SECONDS": 3600}
    settings.configure(**values)
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", run_syncdb=True, verbosity=0, skip_checks=True)
    origins = workload.exact_origins(size)
    tenants = min(size, MAX_HOSTS)
    scoped = shape == "scoped"
    hosts = [_host(n % tenants) if scoped else "" for n in range(size)]
    _insert_rows(db_path, origins, hosts)
    middle = size // 2
    origin, host = origins[middle], _host(middle % tenants)
    other_host = _host((middle + 1) % tenants)
    connection.close()

    from credcors.core.decide import decide
    from credcors.store.current import get_store, reset_store

    gc.collect()
    start = time.perf_counter()
    snapshot = get_store().get()
    cold_s = time.perf_counter() - start
    del snapshot
    # Retained memory: the store reset and loaded again under tracemalloc.
    reset_store()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    snapshot = get_store().get()
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()

    assert decide(snapshot, "GET", origin, host=host).allowed
    assert decide(snapshot, "GET", origin, host=other_host).allowed is not scoped
    reps, batch = (3, 2000) if quick else (REPS, BATCH)
    decide_ns = _timed(lambda: decide(snapshot, "GET", origin, host=host), reps, batch)

    from credcors.middleware import CredCorsMiddleware

    middleware = CredCorsMiddleware(lambda request: HttpResponse(b"ok"))
    request = RequestFactory().get(workload.PATH, HTTP_ORIGIN=origin, HTTP_HOST=host)
    elsewhere = RequestFactory().get(workload.PATH, HTTP_ORIGIN=origin, HTTP_HOST=other_host)
    answered = middleware(request)
    assert isinstance(answered, HttpResponse)
    assert answered.headers["Access-Control-Allow-Origin"] == origin
    refused = middleware(elsewhere)
    assert isinstance(refused, HttpResponse)
    assert ("Access-Control-Allow-Origin" in refused.headers) is not scoped
    with CaptureQueriesContext(connection) as queries:
        middleware_ns = _timed(lambda: middleware(request), reps, batch)
    return {
        "size": size,
        "shape": shape,
        "hosts": tenants if scoped else 0,
        "cold_load_s": cold_s,
        "retained_mb": retained / 1e6,
        "decide_ns": decide_ns,
        "middleware_ns": middleware_ns,
        "queries": len(queries),
    }


def _child(conn: Any, size: int, shape: str, quick: bool) -> None:
    try:
        conn.send(measure(size, shape, quick))
    except BaseException as exc:  # the parent must not wait forever on a child that failed
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        conn.close()


def run(sizes: tuple[int, ...], quick: bool) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    results = []
    for size in sizes:
        for shape in SHAPES:
            print(f"tenants: {size:,} rows, {shape} ...", file=sys.stderr, flush=True)
            parent, child = context.Pipe()
            process = context.Process(target=_child, args=(child, size, shape, quick))
            process.start()
            result = parent.recv()
            process.join()
            if "error" in result:
                raise RuntimeError(f"the {size:,}-row {shape} run failed: {result['error']}")
            results.append(result)
    return results


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | shape | hosts | decide() µs | middleware µs | queries | cold load s | retained MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {r['shape']} | {r['hosts']:,} | {r['decide_ns'] / 1000:.2f} | "
            f"{r['middleware_ns'] / 1000:.2f} | {r['queries']} | {r['cold_load_s']:.2f} | {r['retained_mb']:.1f} |"
        )
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> str:
    """Scoped over unscoped, per size: what the issue's "within noise" is judged on."""
    by = {(r["size"], r["shape"]): r for r in results}
    lines = []
    for size in sorted({r["size"] for r in results}):
        scoped, unscoped = by[size, "scoped"], by[size, "unscoped"]
        lines.append(
            f"  at {size:,} rows: scoped / unscoped: decide {scoped['decide_ns'] / unscoped['decide_ns']:.2f}, "
            f"middleware {scoped['middleware_ns'] / unscoped['middleware_ns']:.2f}, "
            f"memory {scoped['retained_mb'] / max(unscoped['retained_mb'], 1e-9):.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tenants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 10,000 rows, few repetitions (smoke test)")
    parser.add_argument("--sizes", type=lambda text: tuple(int(x) for x in text.split(",")), help="e.g. 10,1000")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = run(args.sizes or (QUICK_SIZES if args.quick else SIZES), args.quick)
    print(render(results))
    print(ratios(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
