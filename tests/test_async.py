"""The middleware under ASGI: Django's AsyncClient runs the middleware chain async."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import SynchronousOnlyOperation
from django.db import OperationalError, connection
from django.test import AsyncClient

from credcors.models import AllowedOrigin
from tests.conftest import Clock, refresh_held_in_another_thread

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
EVIL = "https://evil.example.com"
PARTNER = "https://partner.example.net"
TABLE = AllowedOrigin._meta.db_table


def _get(client: AsyncClient, path: str, **headers: str) -> Any:
    return async_to_sync(client.get)(path, headers=headers)


def _options(client: AsyncClient, path: str, **headers: str) -> Any:
    return async_to_sync(client.options)(path, headers=headers)


def _preflight(client: AsyncClient, path: str, origin: str, method: str = "POST", **extra: str) -> Any:
    return _options(client, path, Origin=origin, **{"Access-Control-Request-Method": method}, **extra)


def _cors_headers(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def _vary(response: Any) -> list[str]:
    return [t.strip().lower() for t in response.headers.get("Vary", "").split(",") if t.strip()]


def _allowed(client: AsyncClient, origin: str, path: str = "/api/async-recorded") -> bool:
    response = _get(client, path, Origin=origin)
    assert response.status_code == 200
    allow_origin: str | None = response.headers.get("Access-Control-Allow-Origin")
    return allow_origin == origin


@contextmanager
def _record_table_queries() -> Iterator[list[bool]]:
    """For each query on the AllowedOrigin table: was an event loop running in its thread?"""
    on_loop: list[bool] = []

    def probe(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if TABLE in sql:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                on_loop.append(False)
            else:
                on_loop.append(True)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(probe):
        yield on_loop


# -- Core behaviour under ASGI ------------------------------------------------


@pytest.mark.parametrize("path", ["/api/async-recorded", "/api/recorded"])
def test_async_allowed_actual_request_gets_credentialed_headers(async_client: AsyncClient, path: str) -> None:
    response = _get(async_client, path, Origin=APP)

    assert response.status_code == 200
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-request-id",
    }
    assert _vary(response) == ["origin"]


@pytest.mark.parametrize(
    "origin", [None, EVIL, "null", "https://app.example.com\r\nX-Evil: 1", "https://" + "a" * 100_000]
)
def test_async_refused_or_missing_origin_gets_vary_and_no_cors_headers(
    async_client: AsyncClient, origin: str | None, view_calls: list[str]
) -> None:
    headers = {"Origin": origin} if origin is not None else {}

    response = _get(async_client, "/api/async-recorded", **headers)

    assert response.status_code == 200
    assert response.content == b"async view ran"
    assert _cors_headers(response) == {}
    assert _vary(response) == ["origin"]
    assert all("aaaa" not in value and "X-Evil" not in value for value in response.headers.values())
    assert view_calls == ["GET"]


def test_async_existing_vary_is_merged(async_client: AsyncClient) -> None:
    response = _get(async_client, "/api/cached", Origin=APP)

    assert _vary(response) == ["accept-encoding", "origin"]


@pytest.mark.parametrize("path", ["/api/async-recorded", "/api/recorded"])
def test_async_allowed_preflight_answered_204_without_running_view(
    async_client: AsyncClient, view_calls: list[str], path: str
) -> None:
    response = _preflight(async_client, path, APP, "PATCH", **{"Access-Control-Request-Headers": "authorization"})

    assert response.status_code == 204
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
        "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
        "access-control-max-age": "600",
    }
    assert _vary(response) == ["origin"]
    assert view_calls == []


@pytest.mark.parametrize(
    ("origin", "method", "request_headers"),
    [
        (EVIL, "POST", ""),
        (APP, "POST", ", ".join(f"x-hostile-{i}" for i in range(1000))),
    ],
)
def test_async_refused_preflight_is_403_without_cors_headers(
    async_client: AsyncClient, view_calls: list[str], origin: str, method: str, request_headers: str
) -> None:
    extra = {"Access-Control-Request-Headers": request_headers} if request_headers else {}

    response = _preflight(async_client, "/api/async-recorded", origin, method, **extra)

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    assert all("hostile" not in value for value in response.headers.values())
    assert view_calls == []


@pytest.mark.parametrize(("method", "request_headers"), [("TRACE", ""), ("POST", "x-evil")])
def test_async_preflight_asking_too_much_gets_only_the_allowed_lists(
    async_client: AsyncClient, view_calls: list[str], method: str, request_headers: str
) -> None:
    # An allowed origin asking for a method or header outside the lists gets
    # the allowed preflight's answer, so the browser's console names what it
    # asked for; the browser still blocks the request.
    extra = {"Access-Control-Request-Headers": request_headers} if request_headers else {}

    response = _preflight(async_client, "/api/async-recorded", APP, method, **extra)

    assert response.status_code == 204
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
        "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
        "access-control-max-age": "600",
    }
    assert all("TRACE" not in value and "x-evil" not in value for value in response.headers.values())
    assert _vary(response) == ["origin"]
    assert view_calls == []


def test_async_options_without_request_method_reaches_view(async_client: AsyncClient, view_calls: list[str]) -> None:
    response = _options(async_client, "/api/async-recorded", Origin=APP)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert view_calls == ["OPTIONS"]


def test_async_path_outside_urls_regex_is_left_alone(settings, async_client: AsyncClient) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "URLS_REGEX": r"^/api/"}

    response = _get(async_client, "/public/recorded", Origin=APP)

    assert _cors_headers(response) == {}
    assert "origin" not in _vary(response)


def test_async_credentials_off_sends_no_allow_credentials(settings, async_client: AsyncClient) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "ALLOW_CREDENTIALS": False}

    response = _get(async_client, "/api/async", Origin=APP)

    assert _cors_headers(response) == {"access-control-allow-origin": APP}


# -- The ORM stays off the event loop -------------------------------------------


def test_orm_on_the_event_loop_is_refused_by_django() -> None:
    # Control for the tests below: a refresh run on the loop could not pass.
    async def read_on_loop() -> int:
        count: int = AllowedOrigin.objects.count()
        return count

    with pytest.raises(SynchronousOnlyOperation):
        async_to_sync(read_on_loop)()


def test_async_first_request_loads_rows_off_the_event_loop(async_client: AsyncClient) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    with _record_table_queries() as on_loop:
        assert _allowed(async_client, PARTNER)

    assert on_loop
    assert not any(on_loop)


def test_async_due_refresh_runs_off_the_event_loop(async_client: AsyncClient, clock: Clock) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(async_client, PARTNER)
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)

    clock.advance(5)
    with _record_table_queries() as on_loop:
        assert not _allowed(async_client, PARTNER)

    # The poll (which checks the table's triggers) and the changed row's read, both off the loop.
    assert on_loop
    assert not any(on_loop)


def test_async_warm_request_makes_no_query(
    async_client: AsyncClient, clock: Clock, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(async_client, PARTNER)

    with django_assert_num_queries(0):
        assert _allowed(async_client, PARTNER)
        assert not _allowed(async_client, EVIL)
        assert _preflight(async_client, "/api/async", PARTNER).status_code == 204


def test_async_saved_row_visible_after_commit(
    async_client: AsyncClient, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    assert not _allowed(async_client, PARTNER)

    with django_capture_on_commit_callbacks(execute=True):
        AllowedOrigin.objects.create(origin=PARTNER)

    assert _allowed(async_client, PARTNER)


def test_async_database_outage_keeps_last_snapshot(
    async_client: AsyncClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(async_client, PARTNER)

    def fail(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if "credcors_" in sql:  # The rows and the revision.
            raise OperationalError("connection refused")
        return execute(sql, params, many, context)

    clock.advance(5)
    with connection.execute_wrapper(fail):
        response = _get(async_client, "/api/async", Origin=PARTNER)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert len([r for r in caplog.records if r.name == "credcors" and r.levelno == logging.ERROR]) == 1


@pytest.mark.django_db(transaction=True)
def test_async_request_during_slow_refresh_is_served_without_waiting(
    async_client: AsyncClient, clock: Clock, django_assert_num_queries: Any
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _allowed(async_client, PARTNER)
    clock.advance(5)
    with refresh_held_in_another_thread(), django_assert_num_queries(0):
        assert _allowed(async_client, PARTNER)
