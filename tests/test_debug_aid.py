"""The DEBUG-only reason on refused requests: present with DEBUG, absent without."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from credcors.log import DEBUG_REASON_HEADER
from tests.helpers import send_preflight

APP = "https://app.example.com"

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings) -> None:
    settings.DEBUG = True


def test_debug_off_refused_preflight_has_no_reason(client: Client) -> None:
    response = send_preflight(client, "/api/echo", "https://evil.example", "PUT")

    assert response.status_code == 403
    assert DEBUG_REASON_HEADER not in response.headers


def test_debug_off_refused_method_of_allowed_origin_has_no_reason(client: Client) -> None:
    response = send_preflight(client, "/api/echo", APP, "PURGE")

    assert response.status_code == 204
    assert DEBUG_REASON_HEADER not in response.headers


def test_debug_off_refused_request_has_no_reason(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": "https://evil.example"})

    assert DEBUG_REASON_HEADER not in response.headers


@pytest.mark.usefixtures("debug")
def test_debug_on_refused_origin_names_reason_and_command(client: Client) -> None:
    response = send_preflight(client, "/api/echo", "https://evil.example", "PUT")

    assert response.status_code == 403
    assert response.headers[DEBUG_REASON_HEADER] == (
        "origin-not-allowed: this origin is not in the allow-list; run 'manage.py credcors explain ORIGIN' for details"
    )
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.usefixtures("debug")
@pytest.mark.urls("tests.urls_policies")
def test_debug_on_origin_refused_by_the_views_policy_names_the_policy(client: Client, settings: Any) -> None:
    # The default policy allows APP; the partner view's policy does not.
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"]}},
    }

    preflight = client.options("/api/partner", headers={"Origin": APP, "Access-Control-Request-Method": "PUT"})
    actual = client.get("/api/partner", headers={"Origin": APP})

    expected = (
        "origin-not-allowed: this origin is not in the allow-list of the policy 'partners', which this view uses; "
        "run 'manage.py credcors explain ORIGIN --path PATH' for details"
    )
    assert preflight.status_code == 403
    assert preflight.headers[DEBUG_REASON_HEADER] == expected
    assert actual.headers[DEBUG_REASON_HEADER] == expected


@pytest.mark.usefixtures("debug")
def test_debug_on_refused_header_names_header_and_allowed_ones(client: Client) -> None:
    response = send_preflight(client, "/api/echo", APP, "PUT", "x-api-key")

    # The 204 carries the allowed lists (so the browser names the header) and
    # the reason alongside them.
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers[DEBUG_REASON_HEADER] == (
        "header-not-allowed: request header \"x-api-key\" is not in CREDCORS['ALLOW_HEADERS'] "
        "(accept, authorization, content-type, x-csrftoken, x-requested-with)"
    )


@pytest.mark.usefixtures("debug")
def test_debug_on_refused_method_names_allowed_methods(client: Client) -> None:
    response = send_preflight(client, "/api/echo", APP, "PURGE")

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, PUT, PATCH, POST, DELETE"
    assert response.headers[DEBUG_REASON_HEADER] == (
        "method-not-allowed: method \"PURGE\" is not in CREDCORS['ALLOW_METHODS'] (GET, HEAD, PUT, PATCH, POST, DELETE)"
    )


@pytest.mark.usefixtures("debug")
def test_debug_on_allowed_preflight_has_no_reason(client: Client) -> None:
    response = send_preflight(client, "/api/echo", APP, "PUT")

    assert response.status_code == 204
    assert DEBUG_REASON_HEADER not in response.headers


@pytest.mark.usefixtures("debug")
def test_debug_on_refused_actual_request_carries_reason_view_runs(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": "null"})

    assert response.status_code == 200
    assert response.headers[DEBUG_REASON_HEADER].startswith("null-origin: ")


@pytest.mark.usefixtures("debug")
@pytest.mark.parametrize(
    ("origin", "extra"),
    [
        ("https://evil.example\x1b[31m", {}),
        ("https://" + "a" * 100_000, {}),
        (APP, {"Access-Control-Request-Headers": "x-" + "\u00e9" * 30 + "\x7f"}),
        (APP, {"Access-Control-Request-Headers": "x-" + "a" * 3000}),
    ],
)
def test_debug_reason_never_echoes_hostile_input(client: Client, origin: str, extra: dict[str, str]) -> None:
    response = send_preflight(client, "/api/echo", origin, "PUT", **extra)

    value = response.headers[DEBUG_REASON_HEADER]
    assert value.isascii()
    assert value.isprintable()
    assert len(value) <= 400
    assert "evil" not in value
    assert "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" not in value


@pytest.mark.usefixtures("debug")
def test_debug_reason_method_detail_is_bounded(client: Client) -> None:
    response = send_preflight(client, "/api/echo", APP, "X" * 60)

    value = response.headers[DEBUG_REASON_HEADER]
    assert value.startswith('method-not-allowed: method "' + "X" * 40 + '"...(+20 chars)')


def _async_preflight(client: AsyncClient) -> Any:
    # Runs the middleware chain in async mode (no async test plugin needed).
    return async_to_sync(client.options)(
        "/api/async", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}
    )


@pytest.mark.usefixtures("debug")
def test_debug_on_async_refused_preflight_carries_reason(async_client: AsyncClient) -> None:
    response = _async_preflight(async_client)

    assert response.status_code == 403
    assert response.headers[DEBUG_REASON_HEADER].startswith("origin-not-allowed: ")


def test_debug_off_async_refused_preflight_has_no_reason(async_client: AsyncClient) -> None:
    response = _async_preflight(async_client)

    assert response.status_code == 403
    assert DEBUG_REASON_HEADER not in response.headers
