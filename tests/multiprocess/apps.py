"""Test-only instrumentation for the servers: a query log and a process id header."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponseBase

PID_HEADER = "x-server-pid"

_log_fd: int | None = None


def _query_log_dir() -> str:
    # A setting of tests/multiprocess/settings.py only: mypy's Django plugin
    # types the settings of tests.settings, which has no QUERY_LOG_DIR.
    directory: str = getattr(settings, "QUERY_LOG_DIR", "")
    return directory


def _log_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    # One line per statement: "<monotonic time>\t<sql>".  Writing happens only
    # when a query runs, so in steady state this costs nothing per request,
    # which is exactly what the tests measure.
    global _log_fd
    if _log_fd is None:
        path = os.path.join(_query_log_dir(), f"queries-{os.getpid()}.log")
        _log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    line = f"{time.monotonic():.4f}\t{' '.join(str(sql).split())[:200]}\n"
    os.write(_log_fd, line.encode())
    return execute(sql, params, many, context)


def _install_query_log(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _log_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_log_query)


class MultiprocessTestConfig(AppConfig):
    name = "tests.multiprocess"
    label = "credcors_multiprocess"

    def ready(self) -> None:
        if _query_log_dir():
            connection_created.connect(_install_query_log, dispatch_uid="credcors_mp_query_log")


class PidMiddleware:
    """Says which process answered, on every response (preflights never reach a view)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response: HttpResponseBase = self.get_response(request)
        response.headers[PID_HEADER] = str(os.getpid())
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        response.headers[PID_HEADER] = str(os.getpid())
        return response
