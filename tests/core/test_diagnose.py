"""The explanation layer: a specific, correct reason for each refusal cause."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credcors.core.compile import compile_rows
from credcors.core.config import Config, parse_config
from credcors.core.decide import decide
from credcors.core.decision import Kind
from credcors.core.diagnose import Row, explain, render, row_candidates
from credcors.core.snapshot import Snapshot
from credcors.explain import explain_request
from credcors.models import AllowedOrigin

ORIGINS = [
    "https://app.example.com",
    "http://localhost:3001",
    "https://*.example.org",
    "https://www.shop.example",
    "https://api.partner.example:8443",
]


def _setup(**overrides: Any) -> tuple[Snapshot, Config]:
    config = parse_config({"ALLOWED_ORIGINS": ORIGINS, "EXPOSE_HEADERS": ["x-request-id"], **overrides})
    return compile_rows(config, ())[0], config


def _explain(origin: str, rows: tuple[Row, ...] = (), config_overrides: dict[str, Any] | None = None, **kw: Any):
    policy, config = _setup(**(config_overrides or {}))
    return explain(policy, config, origin, rows=rows, **kw)


# -- Allowed ---------------------------------------------------------------------


def test_listed_origin_simple_get_allowed_with_exact_headers() -> None:
    result = _explain("https://app.example.com")

    assert result.allowed
    assert result.cause == "allowed"
    assert result.rule == "https://app.example.com"
    assert result.source == "settings"
    assert [exchange.kind for exchange in result.exchanges] == [Kind.ACTUAL]
    assert result.exchanges[0].response_headers == (
        ("access-control-allow-origin", "https://app.example.com"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-request-id"),
        ("vary", "Origin"),
    )
    assert "No preflight" in result.hints[0]


def test_put_with_custom_header_explains_preflight_then_request() -> None:
    result = _explain("https://a.b.example.org", method="put", headers=["Content-Type", "Accept"])

    assert result.allowed
    assert result.rule == "https://*.example.org"
    preflight, actual = result.exchanges
    assert preflight.kind is Kind.PREFLIGHT
    assert preflight.method == "PUT"  # Browsers upper-case the standard methods.
    assert preflight.request_headers == "content-type"  # Accept is safelisted: never asked for.
    assert preflight.status == 204
    assert (
        "access-control-allow-headers",
        "accept, authorization, content-type, x-csrftoken, x-requested-with",
    ) in preflight.response_headers
    assert actual.kind is Kind.ACTUAL


def test_verdict_is_exactly_policy_decide() -> None:
    policy, config = _setup()
    for origin in ("https://app.example.com", "https://evil.example", "null", "https://x.example.org"):
        result = explain(policy, config, origin, method="DELETE")
        decision = decide(policy, "OPTIONS", origin, "DELETE", None)
        assert result.allowed is decision.allowed
        assert result.exchanges[0].decision == decision


def test_credentials_off_allowed_with_warning() -> None:
    result = _explain("https://app.example.com", config_overrides={"ALLOW_CREDENTIALS": False})

    assert result.allowed
    assert any("ALLOW_CREDENTIALS'] is False" in hint for hint in result.hints)


# -- Refusal causes, each with its specific reason ------------------------------

REFUSALS = [
    # (origin, explain kwargs, cause, text the message must contain)
    (
        "https://evil.example",
        {},
        "not-listed",
        "https://evil.example is not in the allow-list (4 exact origins, 1 pattern) and nothing listed is a near miss",
    ),
    (
        "http://app.example.com",
        {},
        "scheme-differs",
        "you allowed https://app.example.com (settings); this request came from http://app.example.com: "
        "the scheme differs (http vs https)",
    ),
    (
        "http://localhost:3000",
        {},
        "port-differs",
        "you allowed http://localhost:3001 (settings); this request came from http://localhost:3000: "
        "the port differs (port 3000 here, port 3001 in the rule)",
    ),
    (
        "https://api.partner.example",
        {},
        "port-differs",
        "the port differs (the default port here, port 8443 in the rule)",
    ),
    (
        "https://app.example.com:8443",
        {},
        "port-differs",
        "the port differs (port 8443 here, the default port in the rule)",
    ),
    (
        "https://shop.example",
        {},
        "www-differs",
        "you allowed https://www.shop.example (settings); this request came from https://shop.example: "
        "one has 'www.' and the other does not",
    ),
    (
        "https://app.example.com.evil.net",
        {},
        "look-alike-host",
        "you allowed https://app.example.com (settings); this request came from https://app.example.com.evil.net: "
        "its host contains app.example.com but is not under it, so it is another site, whoever registered it",
    ),
    (
        "https://login.example.org.evil.net",
        {},
        "look-alike-host",
        "you allowed https://*.example.org (settings); this request came from https://login.example.org.evil.net: "
        "its host contains example.org but is not under it",
    ),
    (
        "https://example.org",
        {},
        "apex-not-covered",
        "the pattern https://*.example.org (settings) covers subdomains of example.org but never example.org itself",
    ),
    (
        "https://app.example.com/",
        {},
        "trailing-slash",
        'browsers never send "https://app.example.com/": it differs from the origin\'s serialization '
        "https://app.example.com only by a trailing slash",
    ),
    (
        "https://app.example.com:443",
        {},
        "default-port",
        "only by the default port :443 spelled out",
    ),
    (
        "https://App.Example.com",
        {},
        "uppercase",
        "only by upper-case letters",
    ),
    (
        "http://intranet.example.net",
        {},
        "insecure-origin",
        "http://intranet.example.net is a plain http:// origin; credcors cannot allow it while credentials are on",
    ),
    (
        "ftp://files.example.com",
        {},
        "malformed-origin",
        "is not an origin a browser would send: the 'ftp' scheme cannot make credentialed CORS requests",
    ),
    (
        "https://app.example.com/login",
        {},
        "malformed-origin",
        "is not an origin a browser would send: it has a path",
    ),
    ("null", {}, "null-origin", "the origin is 'null'"),
    ("https://a.example.org https://b.example.org", {}, "multiple-origins", "so it looks like several origins"),
    ("https://" + "a" * 300 + ".com", {}, "origin-too-long", "no origin is longer than 267"),
    (
        "https://app.example.com",
        {"method": "PURGE"},
        "method-not-allowed",
        "the preflight asks for method \"PURGE\", which is not in CREDCORS['ALLOW_METHODS'] "
        "(GET, HEAD, PUT, PATCH, POST, DELETE)",
    ),
    (
        "https://app.example.com",
        {"method": "patch"},
        "method-case",
        "methods are case-sensitive and browsers upper-case only DELETE, GET, HEAD, OPTIONS, POST and PUT",
    ),
    ("https://app.example.com", {"method": "GET POST"}, "malformed-method", "is not an HTTP method name"),
    (
        "https://app.example.com",
        {"headers": ["X-Api-Key", "content-type", "X-Trace"]},
        "header-not-allowed",
        'the preflight asks for request headers "x-api-key", "x-trace", not in CREDCORS[\'ALLOW_HEADERS\']',
    ),
    (
        "https://app.example.com",
        {"headers": ["Cookie"]},
        "forbidden-header",
        'the preflight asks for request header "cookie", not in',
    ),
    (
        "https://app.example.com",
        {"headers": ["Sec-Fetch-Mode"]},
        "forbidden-header",
        'the preflight asks for request header "sec-fetch-mode", not in',
    ),
    (
        "https://app.example.com",
        {"headers": ["x-ok", "bad header"]},
        "malformed-request-headers",
        "is not a comma-separated list of header names",
    ),
    (
        "https://app.example.com",
        {"headers": ["x-" + "a" * 5000]},
        "request-headers-too-long",
        "longer than 1024 characters",
    ),
]


@pytest.mark.parametrize(
    ("origin", "kwargs", "cause", "text"), REFUSALS, ids=[f"{r[2]}-{i}" for i, r in enumerate(REFUSALS)]
)
def test_refusal_cause_named_with_specific_reason(origin: str, kwargs: dict[str, Any], cause: str, text: str) -> None:
    result = _explain(origin, **kwargs)

    assert not result.allowed
    assert result.cause == cause
    assert text in result.message


def test_distinct_refusal_causes_at_least_ten() -> None:
    assert len({cause for _, _, cause, _ in REFUSALS}) >= 10


def test_scheme_near_miss_mentions_insecure_rule() -> None:
    result = _explain("http://app.example.com")

    assert any("ALLOW_INSECURE_ORIGINS" in hint for hint in result.hints)


def test_trailing_slash_says_what_browser_sends_and_its_verdict() -> None:
    result = _explain("https://app.example.com/")

    assert "A browser on that page sends https://app.example.com, which credcors allows" in result.hints[0]


def test_uppercase_of_unlisted_origin_explains_canonical_refusal_too() -> None:
    result = _explain("https://Evil.example")

    assert "which credcors refuses too: https://evil.example is not in the allow-list" in result.hints[0]


def test_unicode_host_names_punycode_form() -> None:
    result = _explain("https://bücher.example.org")

    assert result.cause == "unicode-host"
    assert "https://xn--bcher-kva.example.org" in result.message
    assert "which credcors allows" in result.hints[0]


def test_method_case_hint_says_what_to_write() -> None:
    result = _explain("https://app.example.com", method="patch")

    assert "Write method: 'PATCH' in the fetch() call." in result.hints


def test_forbidden_header_hint_explains_credentials_include() -> None:
    result = _explain("https://app.example.com", headers=["cookie"])

    assert "forbidden request-header name" in result.hints[0]
    assert "credentials: 'include'" in result.hints[0]


def test_refused_preflight_has_no_actual_request() -> None:
    result = _explain("https://app.example.com", method="PURGE")

    assert [exchange.kind for exchange in result.exchanges] == [Kind.PREFLIGHT]
    assert result.exchanges[0].status == 204
    assert result.exchanges[0].response_headers == (
        ("access-control-allow-origin", "https://app.example.com"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, HEAD, PUT, PATCH, POST, DELETE"),
        ("access-control-allow-headers", "accept, authorization, content-type, x-csrftoken, x-requested-with"),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
    )
    assert "never sends the actual request" in result.hints[-1]


def test_refused_origin_preflight_is_403_without_cors_headers() -> None:
    result = _explain("https://evil.example.com", method="PURGE")

    assert [exchange.kind for exchange in result.exchanges] == [Kind.PREFLIGHT]
    assert result.exchanges[0].status == 403
    assert result.exchanges[0].response_headers == (("vary", "Origin"),)


def test_path_outside_urls_regex_refused_without_headers() -> None:
    result = _explain("https://app.example.com", path="/admin/", config_overrides={"URLS_REGEX": r"^/api/"})

    assert result.cause == "path-not-covered"
    assert 'credcors does not handle the path "/admin/": CREDCORS[\'URLS_REGEX\'] "^/api/" does not match it' in (
        result.message
    )
    assert result.exchanges == ()


def test_path_inside_urls_regex_decided_normally() -> None:
    result = _explain("https://app.example.com", path="/api/me", config_overrides={"URLS_REGEX": r"^/api/"})

    assert result.allowed


# -- Database rows (pure: rows passed in) ------------------------------------------


def test_disabled_row_named_with_note() -> None:
    rows = (Row(7, "https://partner.example.net", False, "paused: contract"),)

    result = _explain("https://partner.example.net", rows=rows)

    assert result.cause == "disabled-row"
    assert (
        "database row 7 (https://partner.example.net) would allow https://partner.example.net, but it is disabled"
        in (result.message)
    )
    assert "'manage.py credcors enable https://partner.example.net'" in result.hints[0]
    assert '"paused: contract"' in result.hints[0]


def test_expired_row_named_with_when_and_how_to_extend() -> None:
    rows = (Row(8, "https://*.preview.example.com", True, "PR 123", expired="2026-12-07T12:00:00Z"),)

    result = _explain("https://pr-123.preview.example.com", rows=rows)

    assert result.cause == "expired-row"
    assert result.message == (
        "database row 8 (https://*.preview.example.com) would allow https://pr-123.preview.example.com, "
        "but it expired at 2026-12-07T12:00:00Z."
    )
    assert "'manage.py credcors add https://*.preview.example.com --expires 7d'" in result.hints[0]
    assert '"PR 123"' in result.hints[0]


def test_disabled_pattern_row_covers_subdomain() -> None:
    rows = (Row(3, "https://*.partner.example.net", False),)

    result = _explain("https://eu.partner.example.net", rows=rows)

    assert result.cause == "disabled-row"


def test_enabled_row_invalid_under_settings_is_ignored_row() -> None:
    rows = (Row(4, "http://intranet.example.net", True),)

    result = _explain("http://intranet.example.net", rows=rows)

    assert result.cause == "ignored-row"
    assert "but credcors ignores it: plain http:// origins" in result.message


def test_enabled_valid_row_not_in_snapshot_is_not_loaded_yet() -> None:
    rows = (Row(9, "https://partner.example.net", True),)

    result = _explain("https://partner.example.net", rows=rows)

    assert result.cause == "not-loaded-yet"
    assert "within REFRESH_SECONDS (5 s)" in result.hints[0]


def test_row_with_database_off_says_use_database() -> None:
    rows = (Row(9, "https://partner.example.net", True),)

    result = _explain("https://partner.example.net", rows=rows, config_overrides={"USE_DATABASE": False})

    assert result.cause == "database-off"


def test_row_candidates_are_origin_and_covering_patterns() -> None:
    assert row_candidates("https://a.b.example.com:8443") == [
        "https://a.b.example.com:8443",
        "https://*.b.example.com:8443",
        "https://*.example.com:8443",
        "https://*.com:8443",
    ]
    assert row_candidates("not an origin") == []
    assert row_candidates("x" * 100_000) == []


# -- Hostile input ------------------------------------------------------------------


HOSTILE = [
    "https://app.example.com\r\nSet-Cookie: session=evil",
    "https://app.example.com\x1b[31m",
    "https://\u202eelpmaxe.com",
    "https://app.example.com\x00",
    "<script>alert(1)</script>",
    "x" * 100_000,
]


@pytest.mark.parametrize("origin", HOSTILE)
def test_hostile_origin_text_is_printable_ascii_and_bounded(origin: str) -> None:
    result = _explain(origin, method="PUT\r\nX: y", headers=["x-a\r\nx-b", "\x1b[0m"])

    assert not result.allowed
    for text in (result.message, *result.hints):
        assert text.isascii()
        assert text.isprintable()
        assert len(text) < 1500
    assert "\r" not in str(result.to_dict())


def test_to_dict_is_json_ready() -> None:
    result = _explain("https://app.example.com", method="PUT", headers=["content-type"])

    data = result.to_dict()

    assert data["verdict"] == "allowed"
    assert data["exchanges"][0]["status"] == 204
    assert data["exchanges"][0]["response_headers"][0] == ["access-control-allow-origin", "https://app.example.com"]


# -- The cookie verdict (its lines passed in) ---------------------------------------

COOKIE_LINES = (
    "https://app.example.com is on another site (https://example.com) than the API.",
    "Safari and Firefox block third-party cookies by default, so they will not send the API's cookies from there "
    "in any case.",
)


def test_cookie_verdict_kept_for_allowed_origin_with_credentials() -> None:
    result = _explain("https://app.example.com", cookies=COOKIE_LINES)

    assert result.cookies == COOKIE_LINES
    assert result.to_dict()["cookies"] == list(COOKIE_LINES)


def test_cookie_verdict_kept_when_allowed_origin_preflight_asks_too_much() -> None:
    result = _explain("https://app.example.com", method="PURGE", cookies=COOKIE_LINES)

    assert result.cause == "method-not-allowed"
    assert result.cookies == COOKIE_LINES


@pytest.mark.parametrize("method", ["GET", "PURGE"])
def test_cookie_verdict_left_out_for_refused_origin(method: str) -> None:
    result = _explain("https://evil.example", method=method, cookies=COOKIE_LINES)

    assert not result.allowed
    assert result.cookies == ()
    assert result.to_dict()["cookies"] == []


def test_cookie_verdict_left_out_without_credentials() -> None:
    result = _explain("https://app.example.com", cookies=COOKIE_LINES, config_overrides={"ALLOW_CREDENTIALS": False})

    assert result.allowed
    assert result.cookies == ()


def test_render_prints_cookie_verdict_after_the_hints() -> None:
    text = render(_explain("https://app.example.com", cookies=("First line.", "Second line.")))

    assert "is sent directly.\nCookies:  First line.\n          Second line.\nCSRF:     " in text


# -- CSRF trust: the rule staff see in the admin and 'credcors list' ----------------


def _row_explain(
    trust: object, ticked: bool, origin: str = "https://partner.example.net", asked: str = "", **overrides: Any
) -> Any:
    config = parse_config({"ALLOWED_ORIGINS": ORIGINS, "TRUST_FOR_CSRF": trust, **overrides})
    snapshot = compile_rows(config, [(origin, 9, "default", ticked, None)])[0]
    return explain(snapshot, config, asked or origin, rows=(Row(9, origin, True, trust_for_csrf=ticked),))


def test_explain_says_trust_for_csrf_true_trusts_an_unticked_row() -> None:
    result = _row_explain(True, ticked=False)

    assert result.csrf_trusted is True
    assert result.csrf_trust_reason == (
        "trusted for CSRF: CREDCORS['TRUST_FOR_CSRF'] is True, which trusts every exact row of the default policy, "
        "ticked or not"
    )
    assert result.to_dict()["csrf_trusted"] is True
    assert "\nCSRF:     trusted for CSRF: CREDCORS['TRUST_FOR_CSRF'] is True" in render(result)


def test_explain_names_the_box_or_why_it_counts_for_nothing() -> None:
    assert _row_explain(False, ticked=True).csrf_trust_reason == "trusted for CSRF: its trust_for_csrf box is ticked"
    assert _row_explain(False, ticked=False).csrf_trust_reason == (
        "not trusted for CSRF: its trust_for_csrf box is not ticked"
    )
    pattern = _row_explain(
        True, ticked=False, origin="https://*.partner.example.net", asked="https://a.partner.example.net"
    )
    assert pattern.csrf_trusted is False
    assert "a pattern is never trusted for CSRF" in pattern.csrf_trust_reason
    nothing = _row_explain(True, ticked=True, ALLOW_CREDENTIALS=False)
    assert nothing.csrf_trust_reason == (
        "not trusted for CSRF: its policy sends no credentials, so it trusts nobody for CSRF"
    )


def test_explain_says_the_trust_of_a_settings_entry() -> None:
    assert _explain("https://app.example.com").csrf_trusted is False
    listed = _explain("https://app.example.com", config_overrides={"TRUST_FOR_CSRF": ["https://app.example.com"]})
    assert listed.csrf_trusted is True
    assert listed.csrf_trust_reason == (
        "trusted for CSRF: the settings entry of this origin in its policy decides, and TRUST_FOR_CSRF trusts it"
    )


def test_explain_says_nothing_of_csrf_for_a_refused_origin() -> None:
    result = _explain("https://evil.example")

    assert result.csrf_trusted is None
    assert result.to_dict()["csrf_trust_reason"] == ""
    assert "CSRF:" not in render(result)


# -- The Django-facing wrapper ----------------------------------------------------------


@pytest.mark.django_db
def test_explain_request_same_site_origin_cookies_are_same_site(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    result = explain_request("https://app.example.com")

    assert result.cookies == (
        "https://app.example.com is on the API's site (https://example.com): cookies are same-site.",
    )


@pytest.mark.django_db
def test_explain_request_cross_site_origin_with_lax_cookies_says_they_stay_home(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.net"]}

    result = explain_request("https://app.example.net", method="PUT")

    assert result.cookies == (
        "https://app.example.net is on another site (https://example.net) than the API.",
        "The session cookie does not travel from there: SESSION_COOKIE_SAMESITE is 'Lax'; "
        "it needs 'None' with SESSION_COOKIE_SECURE = True.",
        "The CSRF cookie does not travel from there: CSRF_COOKIE_SAMESITE is 'Lax'; "
        "it needs 'None' with CSRF_COOKIE_SECURE = True.",
        "Safari and Firefox block third-party cookies by default, so they will not send the API's cookies "
        "from there in any case.",
    )


@pytest.mark.django_db
def test_explain_request_cross_site_origin_with_none_secure_cookies_names_only_the_browsers(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.net"]}
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True

    result = explain_request("https://app.example.net")

    assert result.cookies == (
        "https://app.example.net is on another site (https://example.net) than the API.",
        "Safari and Firefox block third-party cookies by default, so they will not send the API's cookies "
        "from there in any case.",
    )


@pytest.mark.django_db
def test_explain_request_any_host_cannot_tell_the_site(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]

    result = explain_request("https://app.example.com")

    assert result.cookies == (
        "Cannot tell whether https://app.example.com is on the API's site: ALLOWED_HOSTS names no concrete host.",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("origin", ["null", "https://evil.example"])
def test_explain_request_refused_origin_has_no_cookie_verdict(settings, origin: str) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    assert explain_request(origin).cookies == ()


@pytest.mark.django_db
def test_explain_request_finds_disabled_row_in_database() -> None:
    row = AllowedOrigin.objects.create(origin="https://partner.example.net", enabled=False)

    result = explain_request("https://partner.example.net")

    assert result.cause == "disabled-row"
    assert f"database row {row.pk}" in result.message


@pytest.mark.django_db
def test_explain_request_names_database_row_that_allows() -> None:
    row = AllowedOrigin.objects.create(origin="https://partner.example.net")

    result = explain_request("https://partner.example.net")

    assert result.allowed
    assert result.source == f"database row {row.pk}"


@pytest.mark.django_db
def test_explain_request_reads_rows_with_one_query() -> None:
    explain_request("https://warm.example")  # loads the snapshot
    with CaptureQueriesContext(connection) as queries:
        explain_request("https://a.b.c.partner.example.net")
    table = AllowedOrigin._meta.db_table
    assert len([q for q in queries.captured_queries if table in q["sql"]]) == 1


@pytest.mark.django_db
def test_explain_request_survives_database_errors() -> None:
    def fail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        from django.db import OperationalError

        raise OperationalError("down")

    with connection.execute_wrapper(fail):
        result = explain_request("https://app.example.com")

    assert result.allowed  # settings still answer
    assert any("Could not read AllowedOrigin rows (OperationalError)" in hint for hint in result.hints)


def test_pattern_typed_as_origin_refused_as_pattern() -> None:
    result = _explain("https://*.example.org")

    assert result.cause == "pattern-not-origin"
    assert "is a pattern; browsers send one concrete origin" in result.message
    assert "https://app.example.org" in result.hints[0]


def test_many_refused_headers_listed_up_to_ten() -> None:
    names = [f"x-h{i:02d}" for i in range(13)]

    result = _explain("https://app.example.com", headers=names)

    assert '"x-h09" and 3 more, not in' in result.message


def test_pattern_with_other_port_is_port_near_miss() -> None:
    result = _explain("https://eu.example.org:8443")

    assert result.cause == "port-differs"
    assert "you allowed https://*.example.org (settings)" in result.message


def test_ipv6_origin_not_listed() -> None:
    result = _explain("http://[::1]:3000")

    assert result.cause == "not-listed"
    assert row_candidates("http://[::1]:3000") == ["http://[::1]:3000"]
    assert row_candidates("https://*.example.org") == []


# -- Near misses developers hit every day ---------------------------------------------


@pytest.mark.parametrize(
    ("listed", "origin", "cause", "text", "fix"),
    [
        (
            "http://127.0.0.1:3000",
            "http://localhost:3000",
            "loopback-differs",
            "localhost, 127.0.0.1 and [::1] all reach this machine, but to a browser they are three different origins",
            "Open the page at http://127.0.0.1:3000, or allow http://localhost:3000 too.",
        ),
        (
            "http://localhost:3000",
            "http://[::1]:3000",
            "loopback-differs",
            "you allowed http://localhost:3000 (settings); this request came from http://[::1]:3000",
            "Open the page at http://localhost:3000, or allow http://[::1]:3000 too.",
        ),
        (
            "http://localhost:3001",
            "https://localhost:3001",
            "scheme-differs",
            "the scheme differs (https vs http)",
            "Allow https://localhost:3001 itself, or open the page over http://.",
        ),
        (
            "https://*.example.net",
            "https://example.net",
            "apex-not-covered",
            "covers subdomains of example.net but never example.net itself",
            "Also allow https://example.net exactly: in the admin, with 'manage.py credcors add https://example.net'",
        ),
        (
            "https://www.shop.example",
            "https://shop.example",
            "www-differs",
            "one has 'www.' and the other does not",
            "Allow https://shop.example too, or redirect one host name to the other.",
        ),
    ],
)
def test_everyday_near_miss_is_named_with_its_fix(listed: str, origin: str, cause: str, text: str, fix: str) -> None:
    result = _explain(origin, config_overrides={"ALLOWED_ORIGINS": [listed]})

    assert result.cause == cause
    assert text in result.message
    assert any(fix in hint for hint in result.hints), result.hints


def test_wire_origin_the_validator_refuses_is_not_listed_without_near_misses() -> None:
    result = _explain("https://app.1")

    assert result.cause == "not-listed"


MIGRATING_HINT = (
    "settings.{name} lists this origin, but that is a django-cors-headers setting, which credcors does not read: "
    "run 'manage.py credcors convert-settings' to print the CREDCORS dict that allows it."
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CORS_ALLOWED_ORIGINS", ["https://partner.example.net"]),
        ("CORS_ORIGIN_WHITELIST", ("https://partner.example.net",)),
        ("CORS_ALLOWED_ORIGIN_REGEXES", [r"^https://\w+\.example\.net$", "("]),
        ("CORS_ORIGIN_REGEX_WHITELIST", [r"^https://partner\.example\.net$"]),
    ],
)
def test_explain_request_origin_listed_by_cors_headers_setting_points_to_convert_settings(
    settings, name: str, value: object
) -> None:
    setattr(settings, name, value)

    result = explain_request("https://partner.example.net")

    assert not result.allowed
    assert result.hints[-1] == MIGRATING_HINT.format(name=name)


@pytest.mark.django_db
def test_explain_request_origin_cors_headers_does_not_list_gets_no_migrating_hint(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://other.example.net", 7]
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://\w+\.example\.org$"]
    settings.CORS_ORIGIN_REGEX_WHITELIST = "not a list"

    result = explain_request("https://partner.example.net")

    assert not any("django-cors-headers" in hint for hint in result.hints)


@pytest.mark.django_db
def test_explain_request_allowed_origin_gets_no_migrating_hint(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    result = explain_request("https://app.example.com")

    assert result.allowed
    assert not any("django-cors-headers" in hint for hint in result.hints)
