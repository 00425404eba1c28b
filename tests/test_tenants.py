"""Issue 24: rows and policies scoped to the API hosts they belong to, through the public surface.

One deployment answers on api.customer-a.com and api.customer-b.com; an
origin allowed for customer A's host must get nothing on customer B's: no
``Access-Control-*`` header on a simple request, a bare refusal of a
preflight, and no CSRF trust.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from credcors.checks import check_host_scopes, check_row_host_scopes
from credcors.hosting import HOST_BOUND, header_host, request_host, unreachable_scopes
from credcors.models import AllowedOrigin
from tests.helpers import send_preflight

APP_A = "https://app.customer-a.com"
APP_B = "https://app.customer-b.com"
HOST_A = "api.customer-a.com"
HOST_B = "api.customer-b.com"
EVERYWHERE = "https://console.example.com"
CSRF_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"
DJANGO_CSRF_PATH = "django.middleware.csrf.CsrfViewMiddleware"


@pytest.fixture
def tenants(settings: Settings) -> Settings:
    settings.ALLOWED_HOSTS = [HOST_A, HOST_B, ".customer-c.com", "testserver"]
    settings.CREDCORS = {"URLS_REGEX": r"^/api/", "REFRESH_SECONDS": 3600}
    return settings


def _get(client: Client, origin: str, host: str, path: str = "/api/echo") -> Any:
    return client.get(path, headers={"Origin": origin}, HTTP_HOST=host)


def _cors_headers(response: Any) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("access-control-")}


@pytest.mark.django_db
def test_scoped_row_is_allowed_on_its_host_and_refused_on_another(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)

    on_a = _get(client, APP_A, HOST_A)
    on_b = _get(client, APP_A, HOST_B)

    assert on_a["Access-Control-Allow-Origin"] == APP_A
    assert on_a["Access-Control-Allow-Credentials"] == "true"
    assert on_b.status_code == 200
    assert _cors_headers(on_b) == {}


@pytest.mark.django_db
def test_scoped_row_preflight_is_answered_on_its_host_only(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=[HOST_A])

    on_a = send_preflight(client, "/api/echo", APP_A, "PUT", "content-type", Host=HOST_A)
    on_b = send_preflight(client, "/api/echo", APP_A, "PUT", "content-type", Host=HOST_B)

    assert on_a.status_code == 204
    assert on_a["Access-Control-Allow-Origin"] == APP_A
    assert "PUT" in on_a["Access-Control-Allow-Methods"]
    assert _cors_headers(on_b) == {}


@pytest.mark.django_db
def test_port_of_the_request_host_does_not_matter(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    assert _get(client, APP_A, f"{HOST_A.upper()}:8443")["Access-Control-Allow-Origin"] == APP_A


@pytest.mark.django_db
def test_unscoped_row_still_applies_on_every_host(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=EVERYWHERE)
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)

    for host in (HOST_A, HOST_B, "shop.customer-c.com"):
        assert _get(client, EVERYWHERE, host)["Access-Control-Allow-Origin"] == EVERYWHERE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("customer-c.com", True),
        ("api.customer-c.com", True),
        ("a.b.customer-c.com", True),
        ("evilcustomer-c.com", False),
        ("customer-c.com.evil.net", False),
    ],
)
def test_leading_dot_scope_covers_the_domain_and_subdomains_as_allowed_hosts_does(
    client: Client, settings: Settings, host: str, allowed: bool
) -> None:
    settings.ALLOWED_HOSTS = ["*"]  # Django accepts every host: only the scope decides.
    settings.CREDCORS = {"URLS_REGEX": r"^/api/", "REFRESH_SECONDS": 3600}
    AllowedOrigin.objects.create(origin=APP_A, hosts=".customer-c.com")

    response = _get(client, APP_A, host)

    assert (response.get("Access-Control-Allow-Origin") == APP_A) is allowed


@pytest.mark.django_db
def test_row_scoped_to_several_hosts_applies_on_each(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=f"{HOST_B} {HOST_A}")
    assert AllowedOrigin.objects.get().hosts == f"{HOST_A} {HOST_B}"  # Canonical: sorted.
    assert _get(client, APP_A, HOST_A)["Access-Control-Allow-Origin"] == APP_A
    assert _get(client, APP_A, HOST_B)["Access-Control-Allow-Origin"] == APP_A
    assert _cors_headers(_get(client, APP_A, "shop.customer-c.com")) == {}


@pytest.mark.django_db
def test_host_outside_allowed_hosts_never_reaches_a_grant(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=EVERYWHERE)
    AllowedOrigin.objects.create(origin=APP_A, hosts=".evil.net")

    for host in ("evil.net", "api.evil.net"):
        response = _get(client, EVERYWHERE, host)
        assert response.status_code == 400  # Django's DisallowedHost.
        assert _cors_headers(response) == {}
        assert _cors_headers(_get(client, APP_A, host)) == {}


@pytest.mark.django_db
def test_hosts_are_read_from_x_forwarded_host_when_django_is_told_to(client: Client, tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    headers = {"Origin": APP_A, "X-Forwarded-Host": HOST_A}

    assert _cors_headers(client.get("/api/echo", headers=headers, HTTP_HOST=HOST_B)) == {}
    tenants.USE_X_FORWARDED_HOST = True
    allowed = client.get("/api/echo", headers=headers, HTTP_HOST=HOST_B)
    assert allowed["Access-Control-Allow-Origin"] == APP_A


@pytest.mark.django_db
def test_deciding_on_the_host_costs_no_query(
    client: Client, tenants: Settings, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    _get(client, APP_A, HOST_A)  # The first request loads the allow-list.
    with django_assert_num_queries(0):
        for host in (HOST_A, HOST_B, HOST_A):
            _get(client, APP_A, host)


@pytest.mark.django_db
def test_invalid_hosts_are_refused_before_they_are_stored(tenants: Settings) -> None:
    for bad in ("https://api.customer-a.com", "api.customer-a.com:8443", "*.customer-a.com", "*", "a b/c"):
        with pytest.raises(ValidationError):
            AllowedOrigin.objects.create(origin=APP_A, hosts=bad)
    assert not AllowedOrigin.objects.exists()


@pytest.mark.django_db
def test_row_with_non_canonical_hosts_written_by_raw_update_is_left_out(
    client: Client, tenants: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    row = AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    # QuerySet.update() skips validation: a bad value allows nothing, on any host.
    AllowedOrigin.objects.filter(pk=row.pk).update(hosts="API.customer-a.com:8443")

    assert _cors_headers(_get(client, APP_A, HOST_A)) == {}
    assert _cors_headers(_get(client, APP_A, HOST_B)) == {}
    assert "ignoring AllowedOrigin rows with hosts" in caplog.text


# --- Settings: HOSTS scopes a policy's own origins. ---


@pytest.mark.django_db
def test_settings_hosts_scope_the_policys_settings_origins(client: Client, tenants: Settings) -> None:
    tenants.CREDCORS = {**tenants.CREDCORS, "ALLOWED_ORIGINS": [APP_A], "HOSTS": [HOST_A]}
    AllowedOrigin.objects.create(origin=EVERYWHERE)  # Rows keep their own scope: none, every host.

    assert _get(client, APP_A, HOST_A)["Access-Control-Allow-Origin"] == APP_A
    assert _cors_headers(_get(client, APP_A, HOST_B)) == {}
    assert _get(client, EVERYWHERE, HOST_B)["Access-Control-Allow-Origin"] == EVERYWHERE


@pytest.mark.django_db
def test_a_row_on_a_scoped_policy_host_joins_the_settings_origins(client: Client, tenants: Settings) -> None:
    tenants.CREDCORS = {**tenants.CREDCORS, "ALLOWED_ORIGINS": [APP_A], "HOSTS": [".customer-c.com"]}
    AllowedOrigin.objects.create(origin=APP_B, hosts="api.customer-c.com")

    assert _get(client, APP_A, "shop.customer-c.com")["Access-Control-Allow-Origin"] == APP_A
    assert _get(client, APP_B, "api.customer-c.com")["Access-Control-Allow-Origin"] == APP_B
    assert _cors_headers(_get(client, APP_B, "shop.customer-c.com")) == {}


@pytest.mark.django_db
def test_invalid_settings_hosts_make_the_origins_apply_nowhere(client: Client, tenants: Settings) -> None:
    tenants.CREDCORS = {**tenants.CREDCORS, "ALLOWED_ORIGINS": [APP_A], "HOSTS": ["https://api.customer-a.com"]}
    assert _cors_headers(_get(client, APP_A, HOST_A)) == {}
    assert _cors_headers(_get(client, APP_A, HOST_B)) == {}


# --- CSRF: a scoped origin is trusted only on its hosts. ---


@pytest.fixture
def csrf_tenants(tenants: Settings) -> Client:
    tenants.MIDDLEWARE = [CSRF_PATH if name == DJANGO_CSRF_PATH else name for name in tenants.MIDDLEWARE]
    tenants.ROOT_URLCONF = "tests.test_csrf"
    return Client(enforce_csrf_checks=True)


def _write(client: Client, origin: str, host: str) -> Any:
    token = client.get("/api/token", headers={"Origin": origin}, HTTP_HOST=host).json()["csrfToken"]
    return client.post(
        "/api/write",
        data=b"{}",
        content_type="application/json",
        headers={"Origin": origin, "X-CSRFToken": token},
        HTTP_HOST=host,
    )


@pytest.mark.django_db
def test_scoped_row_trusted_for_csrf_is_trusted_on_its_host_only(csrf_tenants: Client) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A, trust_for_csrf=True)

    assert _write(csrf_tenants, APP_A, HOST_A).status_code == 200
    forged = _write(csrf_tenants, APP_A, HOST_B)
    assert forged.status_code == 403
    assert _cors_headers(forged) == {}


@pytest.mark.django_db
def test_settings_origin_of_a_scoped_policy_is_trusted_on_its_hosts_only(
    csrf_tenants: Client, tenants: Settings
) -> None:
    tenants.CREDCORS = {**tenants.CREDCORS, "ALLOWED_ORIGINS": [APP_A], "HOSTS": [HOST_A], "TRUST_FOR_CSRF": [APP_A]}

    assert _write(csrf_tenants, APP_A, HOST_A).status_code == 200
    assert _write(csrf_tenants, APP_A, HOST_B).status_code == 403


# --- System checks: a scope ALLOWED_HOSTS can never match (W016). ---


def test_settings_hosts_that_allowed_hosts_never_matches_are_a_warning(settings: Settings) -> None:
    settings.ALLOWED_HOSTS = [HOST_A, ".customer-c.com"]
    settings.CREDCORS = {
        "HOSTS": [HOST_A, "api.customer-z.com"],
        "POLICIES": {"partners": {"HOSTS": [".customer-c.com", ".example.com", ".api.customer-c.com"]}},
    }

    messages = check_host_scopes()

    assert [message.id for message in messages] == ["credcors.W016", "credcors.W016"]
    first, second = (str(message.msg) for message in messages)
    assert '"api.customer-z.com"' in first
    assert 'CREDCORS["HOSTS"]' in first
    assert '".example.com"' in second
    assert "'partners'" in second
    assert "ALLOWED_HOSTS" in str(messages[0].hint)


def test_a_leading_dot_scope_is_reachable_through_any_allowed_host_beneath_it(settings: Settings) -> None:
    settings.ALLOWED_HOSTS = ["api.customer-a.com", ".shop.customer-b.com"]
    assert unreachable_scopes([".customer-a.com", ".customer-b.com", ".b.shop.customer-b.com", ".x.com"]) == [".x.com"]
    settings.ALLOWED_HOSTS = ["*"]
    assert unreachable_scopes([".x.com", "y.com"]) == []
    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True  # Django then accepts the localhost variants alone.
    assert unreachable_scopes(["api-a.localhost", "127.0.0.1", "api.example.com"]) == ["api.example.com"]


@pytest.mark.django_db
def test_rows_scoped_to_hosts_allowed_hosts_never_matches_are_a_database_warning(tenants: Settings) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=f"{HOST_A} api.customer-z.com")
    for n in range(4):
        AllowedOrigin.objects.create(origin=f"https://app{n}.customer-z.com", hosts="api.customer-z.com")
    AllowedOrigin.objects.create(origin=APP_B, hosts="api.customer-y.com", enabled=False)

    assert check_row_host_scopes(databases=None) == []
    [message] = check_row_host_scopes(databases=["default"])

    assert message.id == "credcors.W016"
    assert '"api.customer-z.com"' in message.msg
    assert f'"{APP_A}"' in message.msg
    assert "and 2 more" in message.msg
    assert "customer-y" not in message.msg  # Disabled rows allow nothing anyway.


# --- The request host, read once and remembered per raw value. ---


def test_request_host_is_djangos_and_remembered_within_a_bound(settings: Settings, rf: Any) -> None:
    settings.ALLOWED_HOSTS = [HOST_A]
    assert request_host(rf.get("/", HTTP_HOST=f"{HOST_A}:8000")) == HOST_A
    assert request_host(rf.get("/", HTTP_HOST="evil.net")) is None
    for n in range(HOST_BOUND + 5):  # Clients choose the value: the memory stays bounded.
        request_host(rf.get("/", HTTP_HOST=f"h{n}.evil.net"))
    assert request_host(rf.get("/", HTTP_HOST=HOST_A)) == HOST_A

    settings.ALLOWED_HOSTS = [HOST_B]  # A change of settings forgets every answer.
    assert request_host(rf.get("/", HTTP_HOST=HOST_A)) is None


def test_request_without_a_host_header_falls_back_to_the_server_name(settings: Settings, rf: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]
    request = rf.get("/")
    request.META.pop("HTTP_HOST", None)
    assert request_host(request) == "testserver"
    request.META["SERVER_NAME"] = "evil.net"
    assert request_host(request) is None
    settings.ALLOWED_HOSTS = ["testserver"]
    request.META.update(SERVER_NAME="testserver", SERVER_PORT="8080")
    assert request_host(request) == "testserver"  # The port, as Django adds it, is dropped again.
    del request.META["SERVER_NAME"]
    assert request_host(request) is None  # Nothing names a host at all.


def test_handshake_host_is_read_from_the_scope_headers(settings: Settings) -> None:
    settings.ALLOWED_HOSTS = [HOST_A]
    assert header_host([(b"Host", b"API.customer-a.com:443")]) == HOST_A
    assert header_host([(b"host", b"evil.net")]) == ""
    assert header_host([(b"origin", APP_A.encode())]) is None
    forwarded = [(b"host", b"internal"), (b"x-forwarded-host", HOST_A.encode())]
    assert header_host(forwarded) == ""
    settings.USE_X_FORWARDED_HOST = True
    assert header_host(forwarded) == HOST_A
