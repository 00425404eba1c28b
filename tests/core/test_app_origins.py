"""Origins of app shells (Capacitor, Ionic, Tauri, browser extensions): exact, never patterns."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from credcors.checks import check_cookies
from credcors.core.config import parse_config
from credcors.core.origin_header import OriginShape, classify_origin
from credcors.core.origins import OriginError, parse_rule
from credcors.explain import explain_request
from credcors.models import AllowedOrigin

CHROME = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FIREFOX = "moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SAFARI = "safari-web-extension://0A1B2C3D-4E5F-6789-ABCD-EF0123456789"
APPS = ["capacitor://localhost", "ionic://localhost", "tauri://localhost", CHROME, FIREFOX, SAFARI]


@pytest.mark.parametrize("origin", APPS)
def test_app_origin_is_its_own_canonical_form(origin: str) -> None:
    rule = parse_rule(origin)

    assert rule.serialize() == origin
    assert rule.wildcard is False
    assert classify_origin(origin) is OriginShape.SERIALIZED


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Capacitor://LocalHost/", "capacitor://localhost"),
        ("ionic://app", "ionic://app"),
        (SAFARI.lower(), SAFARI),  # Safari sends the UUID in upper case.
        (FIREFOX.upper().replace("MOZ-EXTENSION", "moz-extension"), FIREFOX),
    ],
)
def test_app_origin_is_canonicalized(written: str, stored: str) -> None:
    assert parse_rule(written).serialize() == stored


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("capacitor://*.localhost", "listed exactly, never as a pattern"),
        ("chrome-extension://*", "listed exactly, never as a pattern"),
        ("capacitor://localhost:8080", "not a capacitor:// origin as the app sends it"),
        ("chrome-extension://not-an-id", 'e.g. "chrome-extension://abcdefghijklmnopabcdefghijklmnop"'),
        ("moz-extension://0a1b2c3d", 'e.g. "moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789"'),
        ("capacitor:localhost", "not a capacitor:// origin"),
        ("file:///index.html", "cannot make credentialed CORS requests"),
        ("app://localhost", "cannot make credentialed CORS requests"),
        ("null", "sandboxed frames"),
    ],
)
def test_app_patterns_and_unknown_schemes_are_refused(value: str, needle: str) -> None:
    with pytest.raises(OriginError) as caught:
        parse_rule(value)

    assert needle in caught.value.message


def test_app_origin_as_a_pattern_in_settings_is_e004() -> None:
    config = parse_config({"ALLOWED_ORIGINS": ["capacitor://*.localhost", "capacitor://localhost"]})

    assert [problem.id for problem in config.problems] == ["credcors.E004"]
    assert "never as a pattern" in config.problems[0].msg
    assert [rule.serialize() for rule in config.default_policy.rules] == ["capacitor://localhost"]


@pytest.mark.parametrize("origin", ["capacitor://LOCALHOST", "capacitor://localhost:1", "chrome-extension://x"])
def test_wire_values_an_app_never_sends_are_malformed(origin: str) -> None:
    assert classify_origin(origin) is OriginShape.MALFORMED


@pytest.mark.django_db
def test_app_origins_are_allowed_on_the_wire(client: Client, settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["capacitor://localhost"], "USE_DATABASE": True}
    AllowedOrigin.objects.create(origin=SAFARI.lower())

    for origin in ("capacitor://localhost", SAFARI):
        response = client.get("/api/echo", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
    for origin in ("ionic://localhost", SAFARI.lower(), "null", "file://"):
        assert "Access-Control-Allow-Origin" not in client.get("/api/echo", headers={"Origin": origin}).headers


@pytest.mark.django_db
def test_app_origin_row_is_validated_like_any_other() -> None:
    with pytest.raises(ValidationError, match="never as a pattern"):
        AllowedOrigin(origin="tauri://*.localhost").full_clean()
    row = AllowedOrigin.objects.create(origin="Tauri://LOCALHOST")
    assert row.origin == "tauri://localhost"


@pytest.mark.django_db
def test_explain_app_origins(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["capacitor://localhost"], "USE_DATABASE": False}

    allowed = explain_request("capacitor://localhost", method="POST", headers=["content-type"])
    refused = explain_request("ionic://localhost")
    spelled = explain_request("capacitor://localhost:443")

    assert (allowed.allowed, allowed.rule, allowed.cookies) == (True, "capacitor://localhost", ())
    assert (refused.allowed, refused.cause) == (False, "not-listed")
    assert (spelled.allowed, spelled.cause) == (False, "malformed-origin")


def test_cookie_checks_leave_app_origins_out(settings: Any) -> None:
    # An app shell's origin has no site for SameSite to compare with the API's.
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["capacitor://localhost", CHROME], "USE_DATABASE": False}

    assert check_cookies() == []


# --- any port on localhost, only while DEBUG ------------------------------------------------


@pytest.mark.parametrize("entry", ["http://localhost:*", "http://127.0.0.1:*"])
def test_any_port_entry_warns_and_matches_nothing_without_debug(entry: str) -> None:
    config = parse_config({"ALLOWED_ORIGINS": [entry]})

    assert [problem.id for problem in config.problems] == ["credcors.W008"]
    assert entry in config.problems[0].msg
    assert config.default_policy.rules == ()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:3000", True),
        ("http://localhost:65535", True),
        ("http://localhost", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:80", False),
        ("http://localhost:03000", False),
        ("http://localhost:65536", False),
        ("http://localhost:x", False),
        ("http://localhost:*", False),
        ("https://localhost:3000", False),
        ("http://localhost.evil.example:3000", False),
    ],
)
def test_any_port_on_localhost_while_debug(client: Client, settings: Any, origin: str, allowed: bool) -> None:
    settings.DEBUG = True
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["http://localhost:*", "http://127.0.0.1:*"], "TRUST_FOR_CSRF": True}

    response = client.get("/api/echo", headers={"Origin": origin})

    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    from credcors.store.current import get_store

    assert get_store().get().trusts_for_csrf(origin, "default") is False  # Never an exact origin: no CSRF trust.


@pytest.mark.django_db
def test_turning_debug_off_drops_the_any_port_entry(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["http://localhost:*"]}
    headers = {"Origin": "http://localhost:3000"}
    assert "Access-Control-Allow-Origin" in client.get("/api/echo", headers=headers).headers

    settings.DEBUG = False

    assert "Access-Control-Allow-Origin" not in client.get("/api/echo", headers=headers).headers


@pytest.mark.django_db
def test_any_port_entry_is_explained_and_pattern_sites_still_work(settings: Any) -> None:
    settings.DEBUG = True
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["http://localhost:*", "https://*.example.org"], "USE_DATABASE": False}

    result = explain_request("http://localhost:5173")
    pattern = explain_request("https://a.example.org")

    assert (result.allowed, result.rule) == (True, "http://localhost:*")
    assert pattern.allowed is True


def test_index_lookup_finds_any_port_grants_before_patterns() -> None:
    from credcors.core.compile import compile_rows

    config = parse_config({"ALLOWED_ORIGINS": ["http://localhost:*", "https://*.example.org"]}, debug=True)
    snapshot = compile_rows(config, [])[0]

    found = snapshot.default.index.lookup("http://localhost:4200")
    assert found is not None
    assert found.origin == "http://localhost:*"
    pattern = snapshot.default.index.lookup("https://a.example.org")
    assert pattern is not None
    assert pattern.origin == "https://*.example.org"
    assert snapshot.default.index.lookup("http://127.0.0.1:4200") is None
    assert len(snapshot.default.index) == 2
