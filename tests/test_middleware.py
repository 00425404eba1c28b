"""The middleware through Django's (WSGI) test client."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from credcors.models import AllowedOrigin
from credcors.store.current import get_store
from tests.helpers import send_preflight

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
EVIL = "https://evil.example.com"


def _cors_headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def _vary(response) -> list[str]:
    return [token.strip().lower() for token in response.headers.get("Vary", "").split(",") if token.strip()]


# -- Vary ---------------------------------------------------------------------


@pytest.mark.parametrize("origin", [None, APP, EVIL, "null"])
def test_response_under_urls_regex_varies_on_origin(client: Client, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}

    response = client.get("/api/recorded", headers=headers)

    assert response.status_code == 200
    assert _vary(response) == ["origin"]


def test_existing_vary_is_merged_not_replaced(client: Client) -> None:
    response = client.get("/api/cached", headers={"Origin": APP})

    assert _vary(response) == ["accept-encoding", "origin"]


def test_vary_cookie_from_inner_middleware_is_kept(client: Client) -> None:
    # The view reads request.user, so SessionMiddleware adds Vary: Cookie.
    response = client.get("/api/echo", headers={"Origin": EVIL})

    assert set(_vary(response)) == {"cookie", "origin"}


@pytest.mark.parametrize("origin", [APP, EVIL])
def test_preflight_response_varies_on_origin(client: Client, origin: str) -> None:
    assert _vary(send_preflight(client, "/api/recorded", origin, "POST")) == ["origin"]


def test_path_outside_urls_regex_is_left_alone(settings, client: Client, view_calls: list[str]) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "URLS_REGEX": r"^/api/"}

    actual = client.get("/public/recorded", headers={"Origin": APP})
    preflight = send_preflight(client, "/public/recorded", APP, "POST")

    assert "origin" not in _vary(actual)
    assert _cors_headers(actual) == {}
    # Not answered by credcors: the view ran and no CORS header was added.
    assert preflight.status_code == 200
    assert _cors_headers(preflight) == {}
    assert view_calls == ["GET", "OPTIONS"]


def test_path_inside_urls_regex_is_handled(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "URLS_REGEX": r"^/api/"}

    response = client.get("/api/recorded", headers={"Origin": APP})

    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert _vary(response) == ["origin"]


# -- Preflight ----------------------------------------------------------------


def test_allowed_preflight_is_answered_204_without_running_view(client: Client, view_calls: list[str]) -> None:
    response = send_preflight(client, "/api/recorded", APP, "PUT", "Content-Type, X-CSRFToken")

    assert response.status_code == 204
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
        # All of ALLOW_HEADERS, prebuilt once per snapshot (Fetch §4.8 only needs the asked ones listed).
        "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
        "access-control-max-age": "600",
    }
    assert response.content == b""
    assert view_calls == []


def test_allowed_preflight_without_request_headers_sends_the_allowed_headers(client: Client) -> None:
    response = send_preflight(client, "/api/recorded", APP, "GET")

    assert response.status_code == 204
    assert (
        _cors_headers(response)["access-control-allow-headers"]
        == "accept, authorization, content-type, x-csrftoken, x-requested-with"
    )


def test_preflight_for_path_without_view_is_still_answered(client: Client) -> None:
    # The middleware answers before URL resolution matters.
    response = send_preflight(client, "/api/no-such-view", APP, "POST")

    assert response.status_code == 204


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        (EVIL, "POST", None),
        ("https://app.example.com.evil.com", "POST", None),
        (APP, "BAD METHOD", None),
        (APP, "X" * 65, None),
        (APP, "POST", "x(evil)"),
        (APP, "POST", ", ".join(f"x-{i}" for i in range(1000))),
    ],
)
def test_refused_preflight_is_403_without_cors_headers_and_view_never_runs(
    client: Client, view_calls: list[str], origin: str, method: str, headers: str | None
) -> None:
    response = send_preflight(client, "/api/recorded", origin, method, headers)

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    assert response.content == b""
    assert view_calls == []


ALLOWED_PREFLIGHT_HEADERS = {
    "access-control-allow-origin": APP,
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
    "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
    "access-control-max-age": "600",
}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("PURGE", None, "PURGE"),
        ("patch", None, "patch"),  # methods are case-sensitive; browsers only upper-case the standard six
        ("POST", "content-type, x-evil", "x-evil"),
        ("POST", "cookie", "cookie"),
    ],
)
def test_preflight_asking_too_much_gets_only_the_allowed_lists_and_view_never_runs(
    client: Client, view_calls: list[str], method: str, headers: str | None, refused: str
) -> None:
    # An allowed origin asking for a method or header outside the lists gets
    # the allowed preflight's 2xx, so the browser's console names what it
    # asked for; the browser's own check still blocks the request.
    response = send_preflight(client, "/api/recorded", APP, method, headers)

    assert response.status_code == 204
    assert _cors_headers(response) == ALLOWED_PREFLIGHT_HEADERS
    assert all(refused not in value for value in response.headers.values())
    assert response.content == b""
    assert _vary(response) == ["origin"]
    assert view_calls == []


def test_options_without_request_method_reaches_view(client: Client, view_calls: list[str]) -> None:
    response = client.options("/api/recorded", headers={"Origin": APP})

    assert response.status_code == 200
    assert response.content == b"view ran"
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert view_calls == ["OPTIONS"]


def test_options_without_origin_reaches_view(client: Client, view_calls: list[str]) -> None:
    response = client.options("/api/recorded", headers={"Access-Control-Request-Method": "POST"})

    assert response.status_code == 200
    assert _cors_headers(response) == {}
    assert view_calls == ["OPTIONS"]


# -- Actual requests ----------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_allowed_actual_request_gets_one_matching_allow_origin(client: Client, method: str) -> None:
    response = getattr(client, method)("/api/echo", headers={"Origin": APP})

    assert response.status_code == 200
    assert _cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-request-id",
    }


def test_refused_actual_request_runs_view_untouched_without_cors_headers(client: Client, view_calls: list[str]) -> None:
    plain = client.get("/api/recorded")
    refused = client.get("/api/recorded", headers={"Origin": EVIL})

    assert refused.status_code == plain.status_code == 200
    assert refused.content == plain.content
    assert _cors_headers(refused) == {}
    assert view_calls == ["GET", "GET"]


def test_request_without_origin_gets_no_cors_headers(client: Client) -> None:
    response = client.get("/api/echo")

    assert _cors_headers(response) == {}


@pytest.mark.parametrize(
    "origin",
    [
        "https://APP.example.com",  # browsers serialize lowercase: byte match only
        "https://app.example.com/",
        "https://app.example.com:443",
        "http://app.example.com",
        "https://app.example.com:8443",
        "null",
    ],
)
def test_origin_not_exactly_as_listed_is_refused(client: Client, origin: str) -> None:
    response = client.get("/api/echo", headers={"Origin": origin})

    assert response.status_code == 200
    assert _cors_headers(response) == {}


def test_localhost_origin_with_port_from_settings_is_allowed(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": "http://localhost:3001"})

    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3001"


@pytest.mark.parametrize("origin", ["https://a.example.org", "https://a.b.c.example.org"])
def test_subdomain_of_settings_pattern_is_allowed(client: Client, origin: str) -> None:
    response = client.get("/api/echo", headers={"Origin": origin})

    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.org",  # the apex is not a subdomain
        "https://evilexample.org",
        "https://a.example.org.evil.com",
        "http://a.example.org",
        "https://a.example.org:8443",
        "https://A.example.org",
    ],
)
def test_near_miss_of_settings_pattern_is_refused(client: Client, origin: str) -> None:
    response = client.get("/api/echo", headers={"Origin": origin})

    assert _cors_headers(response) == {}


def test_enabled_database_row_is_allowed_and_disabled_row_is_not(client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://partner.example.net")
    AllowedOrigin.objects.create(origin="https://old.example.net", enabled=False)

    allowed = client.get("/api/echo", headers={"Origin": "https://partner.example.net"})
    disabled = client.get("/api/echo", headers={"Origin": "https://old.example.net"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://partner.example.net"
    assert _cors_headers(disabled) == {}


def test_database_pattern_row_allows_subdomains_only(client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://*.tenants.example.net")

    sub = client.get("/api/echo", headers={"Origin": "https://acme.tenants.example.net"})
    apex = client.get("/api/echo", headers={"Origin": "https://tenants.example.net"})

    assert sub.headers["Access-Control-Allow-Origin"] == "https://acme.tenants.example.net"
    assert _cors_headers(apex) == {}


def test_raw_row_of_pattern_over_private_suffixes_grants_nothing_and_counts_invalid(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # Raw SQL skips the model's validator (issue 21, finding 2): the loader
    # must still leave the row out, as it does every invalid row.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AllowedOrigin._meta.db_table} (origin, enabled, note, created_at, updated_at) "
            "VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            ["https://*.amazonaws.com", True],
        )
    AllowedOrigin.objects.create(origin="https://partner.example.net")

    attacker = client.get("/api/echo", headers={"Origin": "https://attacker-bucket.s3.amazonaws.com"})
    preflight = send_preflight(client, "/api/echo", "https://attacker-bucket.s3.amazonaws.com", "POST")
    own = client.get("/api/echo", headers={"Origin": "https://app.amazonaws.com"})
    partner = client.get("/api/echo", headers={"Origin": "https://partner.example.net"})

    assert _cors_headers(attacker) == {}
    assert _cors_headers(preflight) == {}
    assert _cors_headers(own) == {}
    assert partner.headers["Access-Control-Allow-Origin"] == "https://partner.example.net"
    [warning] = [r.getMessage() for r in caplog.records if "ignoring invalid AllowedOrigin row" in r.getMessage()]
    assert 'row "https://*.amazonaws.com"' in warning
    assert "hosts under 's3.amazonaws.com'" in warning
    assert get_store().invalid_rows == 1


@pytest.mark.parametrize("origin", ["https://app.example.org", "https://a.b.example.org"])
def test_settings_pattern_over_a_domain_of_one_owner_still_allows_every_depth(client: Client, origin: str) -> None:
    response = client.get("/api/echo", headers={"Origin": origin})

    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_database_rows_ignored_when_use_database_off(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "USE_DATABASE": False}
    AllowedOrigin.objects.create(origin="https://partner.example.net")

    response = client.get("/api/echo", headers={"Origin": "https://partner.example.net"})

    assert _cors_headers(response) == {}


def test_credentials_off_echoes_origin_without_allow_credentials(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "ALLOW_CREDENTIALS": False}

    actual = client.get("/api/echo", headers={"Origin": APP})
    preflight = send_preflight(client, "/api/echo", APP, "POST", "content-type")

    assert _cors_headers(actual) == {"access-control-allow-origin": APP}
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert "access-control-allow-credentials" not in _cors_headers(preflight)


def test_expose_headers_sent_only_on_allowed_actual_requests(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP], "EXPOSE_HEADERS": ["X-Request-Id", "X-Total-Count"]}

    actual = client.get("/api/echo", headers={"Origin": APP})
    preflight = send_preflight(client, "/api/echo", APP, "POST")
    refused = client.get("/api/echo", headers={"Origin": EVIL})

    assert actual.headers["Access-Control-Expose-Headers"] == "x-request-id, x-total-count"
    assert "access-control-expose-headers" not in _cors_headers(preflight)
    assert _cors_headers(refused) == {}


def test_no_expose_headers_configured_sends_none(settings, client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP]}

    response = client.get("/api/echo", headers={"Origin": APP})

    assert "access-control-expose-headers" not in _cors_headers(response)


def test_custom_methods_headers_and_max_age_are_sent(settings, client: Client) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": [APP],
        "ALLOW_METHODS": ["GET", "POST"],
        "ALLOW_HEADERS": ["X-Api-Key"],
        "PREFLIGHT_MAX_AGE": 7200,
    }

    allowed = send_preflight(client, "/api/echo", APP, "POST", "x-api-key")
    refused = send_preflight(client, "/api/echo", APP, "DELETE")

    assert allowed.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert allowed.headers["Access-Control-Allow-Headers"] == "x-api-key"
    assert allowed.headers["Access-Control-Max-Age"] == "7200"
    assert refused.status_code == 204
    assert _cors_headers(refused) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "x-api-key",
        "access-control-max-age": "7200",
    }


def test_credcors_of_wrong_type_allows_nothing(settings, client: Client) -> None:
    settings.CREDCORS = [APP]

    response = client.get("/api/echo", headers={"Origin": APP})

    assert _cors_headers(response) == {}
    assert _vary(response) == ["cookie", "origin"]


# -- Hostile input ------------------------------------------------------------

LONG_LABEL_ORIGIN = "https://" + "a" * 100_000 + ".example.org"
HOSTILE_ORIGINS = [
    LONG_LABEL_ORIGIN,
    "https://app.example.com" + "x" * 100_000,
    "https://app.example.com\r\nSet-Cookie: pwned=1",
    "https://app.example.com\nX-Injected: 1",
    "https://app.example.com\x00",
    "https://äpp.example.com",
    "https://app.example.com\u2028",
    "https://app.example.com https://evil.example.com",
    "https://app.example.com, https://evil.example.com",
    "https://app.example.com,https://app.example.com",
    "https://user:pass@app.example.com",
    "https://app.example.com/path",
    "https://*.example.org",
    "null",
    "",
    " https://app.example.com",
]


def _assert_not_echoed(response, hostile: str) -> None:
    marker = hostile.strip()[8:40] or "nothing-to-echo"
    for name, value in response.headers.items():
        assert marker not in value, name
        assert "pwned" not in value
        assert "Injected" not in name
    assert marker.encode("utf-8", "replace") not in response.content


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_hostile_origin_on_actual_request_is_refused_and_not_echoed(client: Client, origin: str) -> None:
    response = client.get("/api/recorded", headers={"Origin": origin})

    assert response.status_code == 200
    assert _cors_headers(response) == {}
    assert _vary(response) == ["origin"]
    _assert_not_echoed(response, origin)


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_hostile_origin_on_preflight_is_403_and_not_echoed(client: Client, view_calls: list[str], origin: str) -> None:
    response = send_preflight(client, "/api/recorded", origin, "POST")

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    _assert_not_echoed(response, origin)
    assert view_calls == []


@pytest.mark.parametrize(
    "request_headers",
    [
        ", ".join(f"x-hostile-{i}" for i in range(1000)),  # far over the length bound
        ",".join("a" for _ in range(1000)),  # short enough to parse, none allowed
        ", ".join(["content-type"] * 1000),
        "content-type\r\nSet-Cookie: pwned=1",
        "content-type, x-hostile\x00",
        "cöntent-type",
        "x-hostile-" + "h" * 100_000,
    ],
)
def test_hostile_request_headers_refuse_preflight_without_echo(client: Client, request_headers: str) -> None:
    response = send_preflight(client, "/api/recorded", APP, "POST", request_headers)

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    for value in response.headers.values():
        assert "hostile" not in value
        assert "pwned" not in value


@pytest.mark.parametrize(
    "request_method",
    ["P" * 100_000, "POST\r\nSet-Cookie: pwned=1", "PÖST", ""],
)
def test_hostile_request_method_refuses_preflight_without_echo(client: Client, request_method: str) -> None:
    response = send_preflight(client, "/api/recorded", APP, request_method)

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    for value in response.headers.values():
        assert "PPPP" not in value
        assert "pwned" not in value


def test_request_headers_with_empty_items_are_tolerated(client: Client) -> None:
    response = send_preflight(client, "/api/recorded", APP, "POST", " , content-type,,")

    assert response.status_code == 204
    assert (
        response.headers["Access-Control-Allow-Headers"]
        == "accept, authorization, content-type, x-csrftoken, x-requested-with"
    )


# -- Hosts as browsers have them -------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "origin"),
    [
        ("http://*.localhost:3000", "http://k_.localhost:3000"),
        ("https://my_app.example.com", "https://my_app.example.com"),
        ("https://-fc3.example.org", "https://-fc3.example.org"),
        ("https://*.intra_net.example.com", "https://wiki.intra_net.example.com"),
    ],
)
@pytest.mark.django_db
def test_underscore_and_hyphen_edged_hosts_browsers_send_are_allowed(
    settings, client: Client, listed: str, origin: str
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [listed], "USE_DATABASE": False}

    response = client.get("/api/recorded", headers={"Origin": origin})
    preflight = send_preflight(client, "/api/recorded", origin, "PUT")

    assert _cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
    }
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [
        "http://k_.localhost:3001",  # Another port.
        "https://my-app.example.com",  # A hyphen is not an underscore.
        "https://my_app.example.com.",  # Browsers never send the trailing dot.
        "https://MY_APP.example.com",  # Nor upper case.
        "https://a!b.example.com",  # The URL standard allows it; no DNS name has it.
    ],
)
@pytest.mark.django_db
def test_near_spellings_of_underscore_hosts_get_no_cors_header(settings, client: Client, origin: str) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["http://*.localhost:3000", "https://my_app.example.com"],
        "USE_DATABASE": False,
    }

    response = client.get("/api/recorded", headers={"Origin": origin})
    preflight = send_preflight(client, "/api/recorded", origin, "PUT")

    assert _cors_headers(response) == {}
    assert preflight.status_code == 403
    assert _cors_headers(preflight) == {}
