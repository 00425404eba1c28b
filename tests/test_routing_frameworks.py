"""Named policies with the real Django REST framework and django-ninja: the URLconfs docs/policies.md shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern
from ninja import NinjaAPI
from rest_framework.decorators import api_view
from rest_framework.response import Response

from credcors.checks import check_view_policies
from credcors.decorators import cors_policy
from credcors.routing import get_path_policies, view_policy
from tests.helpers import send_preflight
from tests.test_docs import code_blocks

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_frameworks")]

ROOT = Path(__file__).resolve().parent.parent
APP = "https://app.example.com"
PARTNER = "https://partner.example.net"
STRANGER = "https://stranger.example.org"

CREDCORS: dict[str, Any] = {
    "ALLOWED_ORIGINS": [APP],
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False, "ALLOW_METHODS": ["GET", "HEAD"]},
        "partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": False},
    },
}
PUBLIC = {"access-control-allow-origin": "*"}
PUBLIC_PREFLIGHT = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, HEAD",
    "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
    "access-control-max-age": "600",
}
PARTNERS = {"access-control-allow-origin": PARTNER}
PARTNERS_PREFLIGHT = {
    "access-control-allow-origin": PARTNER,
    "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
    "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
    "access-control-max-age": "600",
}

PUBLIC_PATHS = ["/drf/status", "/drf/ping", "/ninja/public/status", "/ninja/public/items/4"]
PARTNER_PATHS = ["/drf/orders/", "/drf/orders/3/"]


@pytest.fixture(autouse=True)
def _policies(settings: Any) -> None:
    settings.CREDCORS = CREDCORS


def _cors(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


# --- actual requests and preflights get their view's policy ---------------------------------


@pytest.mark.parametrize("origin", [STRANGER, PARTNER, APP])
@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_drf_and_ninja_views_answer_star_to_anyone(client: Client, path: str, origin: str) -> None:
    response = client.get(path, headers={"Origin": origin})
    preflight = send_preflight(client, path, origin, "GET")

    assert response.status_code == 200
    assert _cors(response) == PUBLIC
    assert (preflight.status_code, _cors(preflight)) == (204, PUBLIC_PREFLIGHT)


@pytest.mark.parametrize("path", PARTNER_PATHS)
def test_router_viewset_answers_the_partner_without_credentials(client: Client, path: str) -> None:
    response = client.get(path, headers={"Origin": PARTNER})
    preflight = send_preflight(client, path, PARTNER, "GET")

    assert response.status_code == 200
    assert _cors(response) == PARTNERS
    assert (preflight.status_code, _cors(preflight)) == (204, PARTNERS_PREFLIGHT)


@pytest.mark.parametrize("origin", [STRANGER, APP])
@pytest.mark.parametrize("path", PARTNER_PATHS)
def test_router_viewset_refuses_unlisted_and_default_origins(client: Client, path: str, origin: str) -> None:
    response = client.get(path, headers={"Origin": origin})
    preflight = send_preflight(client, path, origin, "GET")

    assert response.status_code == 200  # The view answers; the browser withholds it from the page.
    assert _cors(response) == {}
    assert (preflight.status_code, _cors(preflight)) == (403, {})


def test_default_view_beside_them_keeps_credentials_and_refuses_the_partner(client: Client) -> None:
    assert _cors(client.get("/api/echo", headers={"Origin": APP}))["access-control-allow-credentials"] == "true"
    assert _cors(client.get("/api/echo", headers={"Origin": PARTNER})) == {}


def test_preflights_resolve_each_framework_path_once(client: Client) -> None:
    before = get_path_policies().resolves
    for _ in range(3):
        for path in [*PUBLIC_PATHS, *PARTNER_PATHS]:
            send_preflight(client, path, PARTNER, "GET")

    assert get_path_policies().resolves - before == len(PUBLIC_PATHS) + len(PARTNER_PATHS)


# --- the system check walks their routes -----------------------------------------------------


def test_e020_reports_drf_and_ninja_routes_naming_an_unknown_policy(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "POLICIES": {"publik": {"ALLOW_ALL_ORIGINS": True}}}

    messages = check_view_policies()

    by_route = {message.msg.split(" at ")[1].split(" names")[0]: message for message in messages}
    assert {"'drf/status'", "'drf/ping'", "'ninja/public/status'", "'ninja/public/items/<item_id>'"} <= set(by_route)
    assert {"'^drf/orders/$'", "'^drf/orders/(?P<pk>[^/.]+)/$'"} <= set(by_route)
    assert "'StatusView'" in by_route["'drf/status'"].msg
    assert "'OrderViewSet'" in by_route["'^drf/orders/$'"].msg
    assert "Did you mean 'publik'?" in str(by_route["'ninja/public/status'"].hint)
    assert {message.id for message in messages} == {"credcors.E020"}


def test_no_e020_when_the_frameworks_views_name_configured_policies() -> None:
    assert check_view_policies() == []


# --- what does not work, as docs/policies.md says ----------------------------------------------


def test_cors_policy_below_api_view_marks_nothing_credcors_sees() -> None:
    @api_view(["GET"])
    @cors_policy("public")
    def inner(request: Any) -> Response:
        return Response({})

    @cors_policy("public")
    @api_view(["GET"])
    def outer(request: Any) -> Response:
        return Response({})

    assert (view_policy(inner), view_policy(outer)) == ("default", "public")


def test_cors_policy_on_a_ninja_operation_does_not_reach_its_route() -> None:
    api = NinjaAPI(urls_namespace="unmarked-api", docs_url=None, openapi_url=None)

    @api.get("/thing")
    @cors_policy("public")
    def thing(request: Any) -> dict[str, bool]:
        return {"ok": True}

    routes = [pattern for pattern in api.urls[0] if isinstance(pattern, URLPattern) and str(pattern.pattern) == "thing"]

    assert [view_policy(route.callback) for route in routes] == ["default"]


# --- the docs show exactly these URLconfs ----------------------------------------------------


@pytest.mark.parametrize("module", ["tests/urls_drf.py", "tests/urls_ninja.py"])
def test_docs_show_the_urlconf_the_tests_run(module: str) -> None:
    source = (ROOT / module).read_text()
    # The module without its docstring and `from __future__` line.
    body = source.split('"""', 2)[2].lstrip("\n").replace("from __future__ import annotations\n\n", "", 1)

    assert body in [block.text for block in code_blocks("docs/policies.md") if block.lang == "python"]
