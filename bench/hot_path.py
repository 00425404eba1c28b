"""An allowed database-row origin against a settings origin, and the cold load against a raw fetch.

Part of ``python3 dev.py bench``; alone: ``python3 dev.py bench --hot-path [--quick]``.  For each size (10 and
1,000,000 rows; ``--quick``: 10 and 10,000) one process of its own
(Django's settings are process-global) creates an SQLite file with that many
``AllowedOrigin`` rows beside 10 settings origins, and measures, in that one
process:

1. a raw fetch of the rows' ids and origins (one cursor, ``fetchall``), then
   the cold load (the first ``store.get()``: read, validate, compile), and
   their ratio;
2. ``decide()`` for an allowed settings origin and for an allowed row origin,
   on the loaded snapshot;
3. the middleware alone around a trivial view, for the same two origins;
4. the database queries those requests made (none, or the figure is wrong).

Times are the median of ``REPS`` batches of ``BATCH`` calls each, the two
origins' batches interleaved so drift hits both alike, with the collector off.
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
from collections.abc import Callable
from typing import Any

from bench import workload

SIZES = (10, 1_000_000)
QUICK_SIZES = (10, 10_000)
SETTINGS_ORIGINS = [f"https://settings{i}.example.org" for i in range(10)]
REPS = 15
BATCH = 20_000


def _timed(fn: Callable[[], Any], n: int) -> float:
    """Nanoseconds per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n


def _paired(first: Callable[[], Any], second: Callable[[], Any], reps: int, batch: int) -> tuple[float, float]:
    """Median ns per call of each, their batches interleaved (the first goes first on even rounds)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(min(batch // 10, 2000)):
        first()
        second()
    gc.disable()
    try:
        for rep in range(reps):
            if rep % 2:
                b.append(_timed(second, batch))
                a.append(_timed(first, batch))
            else:
                a.append(_timed(first, batch))
                b.append(_timed(second, batch))
    finally:
        gc.enable()
    return statistics.median(a), statistics.median(b)


def _insert_rows(db_path: str, origins: list[str]) -> None:
    import sqlite3

    connection = sqlite3.connect(db_path)
    now = "2026-01-01 00:00:00"
    connection.executemany(
        "INSERT INTO credcors_allowedorigin "
        "(origin, enabled, policy, trust_for_csrf, note, expires_at, created_at, updated_at) "
        "VALUES (?, 1, 'default', 0, '', NULL, ?, ?)",
        ((origin, now, now) for origin in origins),
    )
    connection.commit()
    connection.close()


def measure(size: int, quick: bool) -> dict[str, Any]:
    """Every figure for one size, in this process (call it in a fresh one)."""
    import django
    from django.conf import settings

    db_path = os.path.join(tempfile.mkdtemp(prefix="credcors-hot-"), "bench.sqlite3")
    values = workload.settings_for("cc-db", 1, db_path)
    values["CREDCORS"] = {"ALLOWED_ORIGINS": SETTINGS_ORIGINS, "USE_DATABASE": True, "REFRESH_SECONDS": 3600}
    settings.configure(**values)
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", run_syncdb=True, verbosity=0, skip_checks=True)
    origins = workload.exact_origins(size)
    _insert_rows(db_path, origins)
    row_origin = origins[size // 2]
    settings_origin = SETTINGS_ORIGINS[5]

    connection.close()  # both reads below open the connection themselves
    gc.collect()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, origin FROM credcors_allowedorigin")
        fetched = cursor.fetchall()
    raw_s = time.perf_counter() - start
    assert len(fetched) == size
    del fetched
    gc.collect()

    from credcors.core.decide import decide
    from credcors.store.current import get_store

    start = time.perf_counter()
    snapshot = get_store().get()
    cold_s = time.perf_counter() - start
    assert decide(snapshot, "GET", row_origin).allowed
    assert decide(snapshot, "GET", settings_origin).allowed

    reps, batch = (3, 2000) if quick else (REPS, BATCH)
    decide_settings, decide_row = _paired(
        lambda: decide(snapshot, "GET", settings_origin), lambda: decide(snapshot, "GET", row_origin), reps, batch
    )

    from django.http import HttpResponse

    from credcors.middleware import CredCorsMiddleware

    middleware = CredCorsMiddleware(lambda request: HttpResponse(b"ok"))
    factory = RequestFactory()
    # With a Host header, as every browser's request has (RequestFactory sends
    # none unless told): credcors reads the host Django validates once per request.
    settings_request = factory.get(workload.PATH, HTTP_ORIGIN=settings_origin, HTTP_HOST="testserver")
    row_request = factory.get(workload.PATH, HTTP_ORIGIN=row_origin, HTTP_HOST="testserver")
    answered = middleware(row_request)
    assert isinstance(answered, HttpResponse)
    assert answered.headers["Access-Control-Allow-Origin"] == row_origin
    with CaptureQueriesContext(connection) as queries:
        mw_settings, mw_row = _paired(
            lambda: middleware(settings_request), lambda: middleware(row_request), reps, batch
        )
    return {
        "size": size,
        "raw_fetch_s": raw_s,
        "cold_load_s": cold_s,
        "decide_settings_ns": decide_settings,
        "decide_row_ns": decide_row,
        "middleware_settings_ns": mw_settings,
        "middleware_row_ns": mw_row,
        "queries": len(queries),
    }


def _child(conn: Any, size: int, quick: bool) -> None:
    try:
        conn.send(measure(size, quick))
    except BaseException as exc:  # the parent must not wait forever on a child that failed
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        conn.close()


def run(sizes: tuple[int, ...], quick: bool) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    results = []
    for size in sizes:
        print(f"hot path: {size:,} rows ...", file=sys.stderr, flush=True)
        parent, child = context.Pipe()
        process = context.Process(target=_child, args=(child, size, quick))
        process.start()
        result = parent.recv()
        process.join()
        if "error" in result:
            raise RuntimeError(f"the {size:,}-row run failed: {result['error']}")
        results.append(result)
    return results


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | decide(): settings origin | decide(): row origin | row / settings | middleware: settings origin "
        "| middleware: row origin | row / settings | queries | raw fetch | cold load | cold / raw |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {r['decide_settings_ns'] / 1000:.2f} µs | {r['decide_row_ns'] / 1000:.2f} µs "
            f"| {r['decide_row_ns'] / r['decide_settings_ns']:.2f} | {r['middleware_settings_ns'] / 1000:.2f} µs "
            f"| {r['middleware_row_ns'] / 1000:.2f} µs | {r['middleware_row_ns'] / r['middleware_settings_ns']:.2f} "
            f"| {r['queries']} | {r['raw_fetch_s'] * 1000:.0f} ms | {r['cold_load_s'] * 1000:.0f} ms "
            f"| {r['cold_load_s'] / r['raw_fetch_s']:.1f} |"
        )
    return "\n".join(lines)


#: Issue #22's targets: a row origin within 10% of a settings origin; the cold load at most 3 raw fetches.
ROW_OVER_SETTINGS = 1.10
COLD_OVER_RAW = 3.0


def targets(results: list[dict[str, Any]]) -> str:
    """One line per target, with the figures that decide it (the cold load only at a million rows or more)."""
    lines = ["== targets: an allowed row origin within 10% of a settings origin; cold load <= 3x a raw fetch"]
    for r in results:
        for level in ("decide", "middleware"):
            ratio = r[f"{level}_row_ns"] / r[f"{level}_settings_ns"]
            verdict = "met" if ratio <= ROW_OVER_SETTINGS else "MISSED"
            lines.append(f"  {level} at {r['size']:,} rows: row / settings {ratio:.2f} ({verdict})")
        lines.append(f"  queries at {r['size']:,} rows: {r['queries']} ({'met' if r['queries'] == 0 else 'MISSED'})")
        if r["size"] >= 1_000_000:
            ratio = r["cold_load_s"] / r["raw_fetch_s"]
            verdict = "met" if ratio <= COLD_OVER_RAW else "MISSED"
            lines.append(f"  cold load at {r['size']:,} rows: {ratio:.1f} raw fetches ({verdict})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench --hot-path", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 10,000 rows, few repetitions (smoke test)")
    parser.add_argument("--sizes", type=lambda text: tuple(int(x) for x in text.split(",")), help="e.g. 10,1000")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = run(args.sizes or (QUICK_SIZES if args.quick else SIZES), args.quick)
    print(render(results))
    print(targets(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
