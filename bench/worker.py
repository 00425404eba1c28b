"""One benchmark configuration in its own process, driven over a pipe by ``bench.run``.

Django settings are process-global, and both middlewares read them (credcors
caches its parsed config and compiled snapshot per process), so each
configuration gets a process of its own: nothing can leak from one into
another, and the coordinator still interleaves them batch by batch.
"""

from __future__ import annotations

import functools
import gc
import io
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import workload

Target = tuple[Callable[[Any], Any], Any]
#: Chunks a paired full-stack batch is cut into: an even number, so each stack
#: goes first equally often.
_PAIR_CHUNKS = 8

# Headers a browser sends on a cross-origin fetch besides Origin: they make
# request.headers (which django-cors-headers builds) as costly as in real life.
BROWSER_HEADERS = {
    "HTTP_HOST": "testserver",
    "HTTP_USER_AGENT": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
    ),
    "HTTP_ACCEPT": "*/*",
    "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
    "HTTP_REFERER": "https://app.example.com/",
    "HTTP_SEC_FETCH_MODE": "cors",
    "HTTP_SEC_FETCH_SITE": "same-site",
    "HTTP_SEC_FETCH_DEST": "empty",
    "HTTP_CONNECTION": "keep-alive",
}


def environ(config: str, size: int, kind: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": workload.request_method(kind),
        "PATH_INFO": workload.PATH,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **BROWSER_HEADERS,
        **workload.request_headers(config, size, kind),
    }


class Worker:
    def __init__(self, config: str, size: int, db_path: str) -> None:
        import django
        from django.conf import settings

        self.config, self.size = config, size
        settings.configure(**workload.settings_for(config, size, db_path))
        django.setup()
        from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
        from django.core.management import call_command
        from django.http import HttpResponse
        from django.utils.module_loading import import_string

        call_command("migrate", run_syncdb=True, verbosity=0, skip_checks=True)
        self._populate()

        def view(request: Any) -> HttpResponse:
            return HttpResponse(b"ok")

        middleware = [path for path in settings.MIDDLEWARE if "Cors" in path]
        self.middleware = import_string(middleware[0])(view) if middleware else view
        self.handler = WSGIHandler()
        # The same stack without the CORS middleware, in this very process:
        # the full-stack target compares against it, so that what differs
        # between processes (heap size, memory layout) cancels out.
        from django.test.utils import override_settings

        with override_settings(MIDDLEWARE=[path for path in settings.MIDDLEWARE if "Cors" not in path]):
            self.floor_handler = WSGIHandler()
        self.requests = {kind: WSGIRequest(environ(config, size, kind)) for kind in workload.KINDS}
        self.environs = {kind: environ(config, size, kind) for kind in workload.KINDS}
        self.last_status = ""

    def _populate(self) -> None:
        origins = workload.exact_origins(self.size)
        if self.config == "dch-db":
            from corsheaders.signals import check_request_enabled

            from bench.models import MySite

            MySite.objects.bulk_create([MySite(host=origin) for origin in origins], batch_size=2000)

            # django-cors-headers' README recipe for origins kept in the database.
            def cors_allow_mysites(sender: object, request: Any, **kwargs: object) -> bool:
                # Named with its type: mypy's Django plugin reads tests.settings,
                # where the bench app is not installed, so it types MySite's queries as Any.
                allowed: bool = MySite.objects.filter(host=request.headers["origin"]).exists()
                return allowed

            check_request_enabled.connect(cors_allow_mysites, weak=False)
        elif self.config == "cc-db":
            from credcors.models import AllowedOrigin

            AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=origin) for origin in origins], batch_size=2000)

    # -- the two levels ------------------------------------------------------

    def _call_middleware(self, request: Any) -> Any:
        # A fresh request as far as both middlewares can tell: django-cors-headers
        # caches request.headers and _cors_enabled on it.
        state = request.__dict__
        state.pop("headers", None)
        state.pop("_cors_enabled", None)
        return self.middleware(request)

    def _start_response(self, status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        self.last_status = status

    def _call_full(self, template: dict[str, Any], floor: bool = False) -> Any:
        env = template.copy()
        env["wsgi.input"] = io.BytesIO(b"")
        response = (self.floor_handler if floor else self.handler)(env, self._start_response)
        b"".join(response)
        response.close()
        return response

    def target(self, level: str, kind: str) -> Target:
        if level == "middleware":
            return self._call_middleware, self.requests[kind]
        if level == workload.IN_PROCESS_FLOOR:
            return functools.partial(self._call_full, floor=True), self.environs[kind]
        return self._call_full, self.environs[kind]

    # -- commands ------------------------------------------------------------

    def check(self) -> dict[str, tuple[int, str | None]]:
        """Status and Access-Control-Allow-Origin of each level/kind; also primes caches."""
        answers = {}
        for level in workload.LEVELS:
            for kind in workload.KINDS:
                fn, arg = self.target(level, kind)
                response = fn(arg)
                for _ in range(3):
                    fn(arg)
                allow = response.headers.get("access-control-allow-origin")
                answers[f"{level}/{kind}"] = (response.status_code, None if allow is None else allow[:40])
        gc.collect()
        gc.freeze()  # The allow-lists are long-lived: keep them out of later collections.
        return answers

    def calibrate(self, level: str, kind: str, target_ns: int, slow_ns: int) -> tuple[int, float]:
        """(requests per batch, ns per request); 0 requests when one alone exceeds slow_ns."""
        fn, arg = self.target(level, kind)
        # The fastest of three, so that one credcors refresh (every
        # REFRESH_SECONDS) does not get a configuration classed as slow.
        single = min(self._timed(fn, arg, 1) for _ in range(3))
        if single > slow_ns:
            return 0, float(single)
        n = 1
        while True:
            elapsed = self._timed(fn, arg, n)
            if elapsed >= target_ns // 4 or n >= 1 << 20:
                return max(1, round(n * target_ns / max(elapsed, 1))), elapsed / n
            n *= 2

    def time(self, level: str, kind: str, n: int) -> int:
        fn, arg = self.target(level, kind)
        self._warm_up(fn, arg, n)
        return self._timed(fn, arg, n)

    def time_full_pair(self, kind: str, n: int) -> tuple[int, int]:
        """ns for n full-stack requests with the CORS middleware and n without, interleaved.

        The two stacks alternate in chunks, each going first in every other
        chunk: timed as two batches one after the other, the first would
        always pay for the caches the coordinator's switch to this process
        left cold, and the second never.
        """
        with_cors, without = self.target("full", kind), self.target(workload.IN_PROCESS_FLOOR, kind)
        for fn, arg in (with_cors, without):
            self._warm_up(fn, arg, n)
        totals = [0, 0]
        chunks = min(n, _PAIR_CHUNKS)
        for chunk in range(chunks):
            size = n // chunks + (chunk < n % chunks)  # The sizes add up to n.
            order = (0, 1) if chunk % 2 == 0 else (1, 0)
            for which in order:
                fn, arg = (with_cors, without)[which]
                totals[which] += self._timed(fn, arg, size)
        return totals[0], totals[1]

    @staticmethod
    def _warm_up(fn: Callable[[Any], Any], arg: Any, n: int) -> None:
        for _ in range(max(2, n // 20)):
            fn(arg)  # Also absorbs a due credcors refresh.

    @staticmethod
    def _timed(fn: Callable[[Any], Any], arg: Any, n: int) -> int:
        counter = time.perf_counter_ns
        gc.disable()
        try:
            start = counter()
            for _ in range(n):
                fn(arg)
            return counter() - start
        finally:
            gc.enable()

    def queries(self, requests: int) -> dict[str, float]:
        """Database queries per request at the full level, after warm-up."""
        from django.db import connection

        counts: dict[str, float] = {}
        for kind in workload.KINDS:
            fn, arg = self.target("full", kind)
            for _ in range(5):
                fn(arg)
            executed = [0]

            def count(
                execute: Any, sql: str, params: Any, many: bool, context: Any, executed: list[int] = executed
            ) -> Any:
                executed[0] += 1
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                for _ in range(requests):
                    fn(arg)
            counts[kind] = executed[0] / requests
        return counts

    def reload(self) -> dict[str, float]:
        """Start-up compile time and, for database origins, a reload under load."""
        from credcors import conf
        from credcors.store.current import get_store

        store = get_store()

        result: dict[str, float] = {}
        if self.config == "cc-db":
            from credcors.models import AllowedOrigin

            start = time.perf_counter_ns()
            rows = tuple(
                AllowedOrigin.objects.filter(enabled=True).order_by("pk").values_list("origin", "pk", "expires_at")
            )
            result["read_ms"] = (time.perf_counter_ns() - start) / 1e6
            result["rows"] = len(rows)
        conf.reset()
        store.reset()
        start = time.perf_counter_ns()
        store.get()
        result["cold_ms"] = (time.perf_counter_ns() - start) / 1e6
        if self.config == "cc-db":
            result.update(self._reload_under_load())
        return result

    def _reload_under_load(self) -> dict[str, float]:
        """Reload a changed table on this thread while another thread serves requests."""
        from credcors.models import AllowedOrigin
        from credcors.store.current import get_store

        store = get_store()

        fn, arg = self.target("middleware", "allowed")
        stop = threading.Event()
        latencies: list[tuple[int, int]] = []

        def serve() -> None:
            counter = time.perf_counter_ns
            while not stop.is_set():
                start = counter()
                fn(arg)
                latencies.append((start, counter() - start))

        reader = threading.Thread(target=serve)
        reader.start()
        deadline = time.monotonic() + 10
        while len(latencies) < 2000 and time.monotonic() < deadline:
            time.sleep(0.001)
        # Another process's change (bulk_create sends no signal), then the
        # interval passes: this thread, not the reader, refreshes, as a
        # background refresh would, and the reader answers meanwhile.
        AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://reloaded.example.com")])
        store.schedule.expire()
        begin = time.perf_counter_ns()
        store.refresh()
        end = time.perf_counter_ns()
        # Go on until the reader has answered 2,000 more: a reload that
        # outlasted REFRESH_SECONDS makes the reader's own next poll due at
        # once, and that request's wait counts too.
        served = len(latencies)
        deadline = time.monotonic() + 10
        while len(latencies) < served + 2000 and time.monotonic() < deadline:
            time.sleep(0.001)
        stop.set()
        reader.join()
        during = [latency for start, latency in latencies if start < end and start + latency > begin]
        since = [latency for start, latency in latencies if start + latency > begin]
        before = sorted(latency for start, latency in latencies if start + latency <= begin)
        return {
            "reload_ms": (end - begin) / 1e6,
            "answered_during": len(during),
            "worst_other_ms": max(since, default=0) / 1e6,
            "typical_other_us": before[len(before) // 2] / 1e3 if before else 0.0,
        }


def serve(conn: Any, config: str, size: int, db_path: str) -> None:
    """Process entry point: build the configuration, then answer commands until "stop"."""
    try:
        worker = Worker(config, size, db_path)
        conn.send(("ok", None))
    except BaseException as exc:  # Report set-up failures to the coordinator.
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        command, *args = conn.recv()
        if command == "stop":
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", getattr(worker, command)(*args)))
        except BaseException as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
