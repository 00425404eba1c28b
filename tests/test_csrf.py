"""credcors.csrf: exact allowed origins pass Django's CSRF origin check; the token is still required."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.urls import path
from pytest_django import DjangoAssertNumQueries, Settings

from credcors.checks import check_csrf_middleware
from credcors.csrf import CredCorsCsrfViewMiddleware
from credcors.decorators import cors_policy
from credcors.models import AllowedOrigin

CSRF_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"
DJANGO_CSRF_PATH = "django.middleware.csrf.CsrfViewMiddleware"
APP = "https://app.example.com"
ROW = "https://row.example.net"
PARTNER = "https://partner.example.net"
PARTNER_ROW = "https://partner-row.example.net"
READER_ROW = "http://reader.example.net"


def token_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"csrfToken": get_token(request)})


def write_view(request: HttpRequest) -> HttpResponse:
    # Not csrf_exempt, and touches neither session nor user: its only
    # queries would come from credcors.
    return JsonResponse({"written": request.method})


def _of_policy(name: str, view: Any) -> Any:
    # cors_policy marks the function it gets: mark a fresh one per policy.
    def policy_view(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = view(request)
        return response

    return cors_policy(name)(policy_view)


urlpatterns = [
    path("api/token", token_view),
    path("api/write", write_view),
    path("public/write", write_view),
    path("api/partners/token", _of_policy("partners", token_view)),
    path("api/partners/write", _of_policy("partners", write_view)),
    path("api/readers/write", _of_policy("readers", write_view)),
    path("api/public/write", _of_policy("public", write_view)),
    path("api/nowhere/write", _of_policy("nowhere", write_view)),
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


@pytest.fixture
def policy_client(csrf_settings: Settings) -> Client:
    """A browser's client with a credentialed partner policy, a policy without credentials, and a public one."""
    csrf_settings.CREDCORS = {
        **csrf_settings.CREDCORS,
        "TRUST_FOR_CSRF": [APP, PARTNER],
        "POLICIES": {
            "partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": True, "USE_DATABASE": True},
            "readers": {"ALLOW_CREDENTIALS": False, "USE_DATABASE": True},
            "public": {"ALLOW_ALL_ORIGINS": True},
        },
    }
    return Client(enforce_csrf_checks=True)


def _token(client: Client, origin: str = APP, url: str = "/api/token") -> str:
    response = client.get(url, HTTP_ORIGIN=origin)
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
def test_trusted_row_of_named_policy_passes_on_its_policy_views_only(
    policy_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    AllowedOrigin.objects.create(origin=PARTNER_ROW, policy="partners", trust_for_csrf=True)
    # The token is read cross-origin, with credentials, from the partner policy's own view.
    token = _token(policy_client, PARTNER_ROW, "/api/partners/token")

    own = _post(policy_client, PARTNER_ROW, token, url="/api/partners/write")
    default = _post(policy_client, PARTNER_ROW, token)

    assert own.status_code == 200
    assert default.status_code == 403  # The default policy's credentialed view refuses it for CORS and CSRF.
    assert "Origin checking failed" in _refusal(caplog)


@pytest.mark.django_db
def test_trusted_settings_origin_of_named_policy_passes_on_its_policy_views_only(
    policy_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    token = _token(policy_client, PARTNER, "/api/partners/token")

    own = _post(policy_client, PARTNER, token, url="/api/partners/write")
    default = _post(policy_client, PARTNER, token)

    assert own.status_code == 200
    assert default.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)


@pytest.mark.django_db
def test_trusted_default_origin_forbidden_on_other_policies_views(policy_client: Client) -> None:
    token = _token(policy_client)

    assert _post(policy_client, APP, token).status_code == 200
    for url in ("/api/partners/write", "/api/readers/write", "/api/public/write", "/api/nowhere/write"):
        assert _post(policy_client, APP, token, url=url).status_code == 403, url


@pytest.mark.django_db
def test_trusted_row_in_policy_without_credentials_forbidden(
    policy_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # Written around the model's validator (it checks the default policy's
    # credentials); the compiler takes plain http:// in a policy without credentials.
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=READER_ROW, policy="readers", trust_for_csrf=True)])
    token = _token(policy_client)
    assert policy_client.get("/api/readers/write", HTTP_ORIGIN=READER_ROW)["Access-Control-Allow-Origin"] == READER_ROW

    response = _post(policy_client, READER_ROW, token, url="/api/readers/write")

    assert response.status_code == 403
    assert "Origin checking failed" in _refusal(caplog)


def test_origin_check_outside_process_view_trusts_nobody(csrf_settings: Settings) -> None:
    # Django calls _origin_verified only from process_view; anywhere else
    # the view, hence the policy, is unknown.
    request = RequestFactory().post("/api/write", HTTP_ORIGIN=APP)
    middleware = CredCorsCsrfViewMiddleware(lambda request: HttpResponse())

    assert middleware._origin_verified(request) is False


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
