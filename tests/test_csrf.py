"""credcors.csrf: exact allowed origins pass Django's CSRF origin check; the token is still required."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.test import Client
from django.urls import path
from pytest_django import DjangoAssertNumQueries, Settings

from credcors.checks import check_csrf_middleware
from credcors.csrf import CredCorsCsrfViewMiddleware
from credcors.models import AllowedOrigin

CSRF_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"
DJANGO_CSRF_PATH = "django.middleware.csrf.CsrfViewMiddleware"
APP = "https://app.example.com"
ROW = "https://row.example.net"


def token_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"csrfToken": get_token(request)})


def write_view(request: HttpRequest) -> HttpResponse:
    # Not csrf_exempt, and touches neither session nor user: its only
    # queries would come from credcors.
    return JsonResponse({"written": request.method})


urlpatterns = [
    path("api/token", token_view),
    path("api/write", write_view),
    path("public/write", write_view),
]


class MySubclass(CredCorsCsrfViewMiddleware):
    pass


def not_a_class(get_response: Any) -> Any:
    return get_response


pytestmark = pytest.mark.urls("tests.test_csrf")


@pytest.fixture
def csrf_settings(settings: Settings) -> Settings:
    settings.MIDDLEWARE = [CSRF_PATH if name == DJANGO_CSRF_PATH else name for name in settings.MIDDLEWARE]
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": [APP, "https://*.example.org"],
        "URLS_REGEX": r"^/api/",
        "TRUST_FOR_CSRF": True,
        "REFRESH_SECONDS": 3600,
    }
    return settings


@pytest.fixture
def browser_client(csrf_settings: Settings) -> Client:
    return Client(enforce_csrf_checks=True)


def _token(client: Client, origin: str = APP) -> str:
    response = client.get("/api/token", HTTP_ORIGIN=origin)
    assert response.status_code == 200
    token = response.json()["csrfToken"]
    assert isinstance(token, str)
    return token


def _refusal(caplog: pytest.LogCaptureFixture) -> str:
    """The reason Django's CSRF middleware logged for the one 403."""
    [record] = [r for r in caplog.records if r.name == "django.security.csrf"]
    return record.getMessage()


def _post(client: Client, origin: str, token: str | None, url: str = "/api/write") -> Any:
    headers = {"Origin": origin}
    if token is not None:
        headers["X-CSRFToken"] = token
    return client.post(url, data=b'{"text": "hi"}', content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_allowed_exact_origin_with_token_passes(browser_client: Client) -> None:
    response = _post(browser_client, APP, _token(browser_client))
    assert response.status_code == 200
    assert response.json() == {"written": "POST"}
    assert response["Access-Control-Allow-Origin"] == APP


@pytest.mark.django_db
def test_enabled_row_origin_with_token_passes(browser_client: Client) -> None:
    AllowedOrigin.objects.create(origin=ROW)
    response = _post(browser_client, ROW, _token(browser_client))
    assert response.status_code == 200


@pytest.mark.django_db
def test_allowed_origin_without_token_forbidden(browser_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    _token(browser_client)  # The CSRF cookie is there; only the token is missing.
    response = _post(browser_client, APP, None)
    assert response.status_code == 403
    assert "CSRF token missing" in _refusal(caplog)


@pytest.mark.django_db
def test_allowed_origin_with_wrong_token_forbidden(browser_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    _token(browser_client)
    response = _post(browser_client, APP, "x" * 64)
    assert response.status_code == 403
    assert "incorrect" in _refusal(caplog)


@pytest.mark.django_db
def test_origin_matched_only_by_pattern_forbidden(browser_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    origin = "https://a.example.org"
    token = _token(browser_client)
    # CORS does allow it, so only the CSRF origin check can be refusing it.
    assert browser_client.get("/api/token", HTTP_ORIGIN=origin)["Access-Control-Allow-Origin"] == origin
    response = _post(browser_client, origin, token)
    assert response.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)


@pytest.mark.django_db
def test_disabled_row_origin_forbidden(browser_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    AllowedOrigin.objects.create(origin=ROW, enabled=False)
    response = _post(browser_client, ROW, _token(browser_client))
    assert response.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)


@pytest.mark.django_db
def test_unlisted_origin_forbidden(browser_client: Client) -> None:
    response = _post(browser_client, "https://evil.example.com", _token(browser_client))
    assert response.status_code == 403


@pytest.mark.django_db
def test_trust_for_csrf_off_cross_origin_post_forbidden(
    browser_client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "TRUST_FOR_CSRF": False}
    response = _post(browser_client, APP, _token(browser_client))
    assert response.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)
    # CORS still allows the origin: the setting only decides CSRF trust.
    assert response["Access-Control-Allow-Origin"] == APP


@pytest.mark.django_db
def test_path_outside_urls_regex_forbidden(browser_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    response = _post(browser_client, APP, _token(browser_client), url="/public/write")
    assert response.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)


@pytest.mark.django_db
def test_same_origin_post_with_token_passes(browser_client: Client) -> None:
    response = _post(browser_client, "http://testserver", _token(browser_client))
    assert response.status_code == 200


@pytest.mark.django_db
def test_allowed_origin_post_runs_no_extra_query(
    browser_client: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    AllowedOrigin.objects.create(origin=ROW)
    token = _token(browser_client, ROW)  # Loads the snapshot once.
    with django_assert_num_queries(0):
        response = _post(browser_client, ROW, token)
    assert response.status_code == 200


def test_check_trust_on_without_middleware_warns(settings: Settings) -> None:
    settings.CREDCORS = {"TRUST_FOR_CSRF": True}
    [message] = check_csrf_middleware()
    assert message.id == "credcors.W004"
    assert CSRF_PATH in message.msg
    assert message.hint is not None
    assert CSRF_PATH in message.hint


def test_check_trust_on_with_middleware_silent(csrf_settings: Settings) -> None:
    assert check_csrf_middleware() == []


def test_check_trust_on_with_subclass_silent(settings: Settings) -> None:
    settings.CREDCORS = {"TRUST_FOR_CSRF": True}
    settings.MIDDLEWARE = ["no.such.Middleware", f"{__name__}.not_a_class", f"{__name__}.MySubclass"]
    assert check_csrf_middleware() == []


def test_check_trust_on_with_unrelated_middleware_warns(settings: Settings) -> None:
    settings.CREDCORS = {"TRUST_FOR_CSRF": True}
    settings.MIDDLEWARE = ["no.such.Middleware", f"{__name__}.not_a_class", DJANGO_CSRF_PATH]
    assert [message.id for message in check_csrf_middleware()] == ["credcors.W004"]


def test_check_trust_off_silent(settings: Settings) -> None:
    settings.CREDCORS = {"TRUST_FOR_CSRF": False}
    assert check_csrf_middleware() == []
