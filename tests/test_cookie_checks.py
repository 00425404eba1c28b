"""Cookie readiness: credcors.core.same_site' judgement and the checks W006, W007, E014 and I001."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError
from django.test.utils import override_settings

from credcors.checks import check_cookie_rows, check_cookies
from credcors.core.catalogue import Problem
from credcors.core.cookies import cookie_findings
from credcors.core.origins import parse_rule
from credcors.core.same_site import Cookie, api_hosts, api_sites, judge, origin_site
from credcors.models import AllowedOrigin

SESSION_ONLY = [
    "credcors.middleware.CredCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
LAX = [Cookie("SESSION_COOKIE", "Lax", False), Cookie("CSRF_COOKIE", "Lax", False)]


def _cookie_settings(origins: list[str], hosts: list[str], **extra: Any) -> override_settings:
    return override_settings(
        ALLOWED_HOSTS=hosts, CREDCORS={"ALLOWED_ORIGINS": origins, **extra.pop("credcors", {})}, **extra
    )


def _ids(messages: list[checks.CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def _by_id(messages: list[checks.CheckMessage], check_id: str) -> list[checks.CheckMessage]:
    return [message for message in messages if message.id == check_id]


# --- the checks, through Django's settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origins", "hosts"),
    [
        (["https://app.example.com"], ["api.example.com"]),
        (["http://localhost:3001"], ["localhost"]),
        (["http://localhost:3001", "http://127.0.0.1:3001", "http://[::1]:3001"], ["localhost", "127.0.0.1", "[::1]"]),
        (["https://*.example.com"], ["api.example.com"]),
        (["https://*.api.example.co.uk"], ["example.co.uk"]),
        (["https://app.example.com"], [".example.com"]),
        (["https://app.example.com", "https://admin.example.org"], ["api.example.com", "api.example.org"]),
        (["https://app.example.net"], ["*"]),
        (["https://app.example.net"], ["api.example.com", "*"]),
        (["http://app.example.com"], ["api.example.com"]),
    ],
)
def test_same_site_or_unknown_api_site_reports_nothing(origins: list[str], hosts: list[str]) -> None:
    credcors = {"ALLOW_INSECURE_ORIGINS": any(o.startswith("http://app.") for o in origins)}
    with _cookie_settings(origins, hosts, credcors=credcors):
        assert check_cookies() == []


def test_empty_allowed_hosts_with_debug_judges_against_djangos_development_hosts() -> None:
    with _cookie_settings(["http://localhost:3001"], [], DEBUG=True):
        assert check_cookies() == []
    with _cookie_settings(["https://app.example.net"], [], DEBUG=True):
        assert "credcors.W006" in _ids(check_cookies())
    with _cookie_settings(["https://app.example.net"], [], DEBUG=False):
        assert check_cookies() == []


def test_cross_site_origin_with_lax_cookies_warns_per_setting_naming_origin() -> None:
    with _cookie_settings(["https://app.example.net"], ["api.example.com"]):
        messages = check_cookies()

    assert _ids(messages) == ["credcors.W006", "credcors.W006", "credcors.I001"]
    session, csrf = _by_id(messages, "credcors.W006")
    for message, setting in ((session, "SESSION_COOKIE_SAMESITE"), (csrf, "CSRF_COOKIE_SAMESITE")):
        assert message.level == checks.WARNING
        assert f"{setting} is 'Lax'" in message.msg
        assert "'https://app.example.net'" in message.msg
        assert "'api.example.com'" in message.msg
        assert message.hint is not None
        assert f"Set {setting} = 'None'" in message.hint
    assert "session cookie" in session.msg
    assert "CSRF cookie" in csrf.msg


@pytest.mark.parametrize(("value", "shown"), [("Strict", "'Strict'"), (False, "False (no SameSite attribute")])
def test_cross_site_origin_with_strict_or_unset_samesite_warns(value: object, shown: str) -> None:
    with _cookie_settings(
        ["https://app.example.net"], ["api.example.com"], MIDDLEWARE=SESSION_ONLY, SESSION_COOKIE_SAMESITE=value
    ):
        [warning] = _by_id(check_cookies(), "credcors.W006")

    assert f"SESSION_COOKIE_SAMESITE is {shown}" in warning.msg


def test_cross_site_origin_with_none_secure_cookies_gets_only_the_third_party_note() -> None:
    with _cookie_settings(
        ["https://app.example.net"],
        ["api.example.com"],
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_SECURE=True,
        CSRF_COOKIE_SAMESITE="None",
        CSRF_COOKIE_SECURE=True,
    ):
        [note] = check_cookies()

    assert note.id == "credcors.I001"
    assert note.level == checks.INFO
    assert "'https://app.example.net' is on another site" in note.msg
    assert "Safari and Firefox" in note.msg
    assert note.hint is not None
    assert "backend-for-frontend" in note.hint


def test_only_the_cookie_left_lax_is_named() -> None:
    with _cookie_settings(
        ["https://app.example.net"], ["api.example.com"], SESSION_COOKIE_SAMESITE="none", SESSION_COOKIE_SECURE=True
    ):
        [warning] = _by_id(check_cookies(), "credcors.W006")

    assert "CSRF_COOKIE_SAMESITE" in warning.msg


@pytest.mark.parametrize("hosts", [["api.example.com"], ["*"]])
def test_samesite_none_without_secure_is_an_error_whatever_the_site(hosts: list[str]) -> None:
    with _cookie_settings(["https://app.example.com"], hosts, SESSION_COOKIE_SAMESITE="None", MIDDLEWARE=SESSION_ONLY):
        [error] = check_cookies()

    assert error.id == "credcors.E014"
    assert error.level == checks.ERROR
    assert "SESSION_COOKIE_SAMESITE is 'None' but SESSION_COOKIE_SECURE is False" in error.msg
    assert error.hint is not None
    assert "Set SESSION_COOKIE_SECURE = True" in error.hint


def test_cross_site_pattern_is_judged_by_the_site_it_covers() -> None:
    with _cookie_settings(["https://*.example.net", "https://*.example.com"], ["api.example.com"]):
        messages = check_cookies()

    assert _ids(messages) == ["credcors.W006", "credcors.W006", "credcors.I001"]
    for message in messages:
        assert "'https://*.example.net'" in message.msg
        assert "*.example.com" not in message.msg


def test_http_origin_on_another_site_warns_w007_naming_it() -> None:
    with _cookie_settings(["http://127.0.0.1:3000"], ["localhost"], MIDDLEWARE=SESSION_ONLY):
        messages = check_cookies()

    assert _ids(messages) == ["credcors.W006", "credcors.W007", "credcors.I001"]
    [warning] = _by_id(messages, "credcors.W007")
    assert warning.level == checks.WARNING
    assert "'http://127.0.0.1:3000' is an http:// page on another site" in warning.msg
    assert "'localhost'" in warning.msg
    assert warning.hint is not None
    assert "localhost and 127.0.0.1 are different sites" in warning.hint
    assert "(the same domain" not in warning.msg


@pytest.mark.parametrize(
    "extra",
    [
        {"SECURE_SSL_REDIRECT": True},
        {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True},
    ],
)
def test_http_origin_on_an_https_api_domain_is_cross_site_by_scheme(extra: dict[str, Any]) -> None:
    with _cookie_settings(
        ["http://app.example.com"], ["api.example.com"], credcors={"ALLOW_INSECURE_ORIGINS": True}, **extra
    ):
        messages = check_cookies()

    assert _ids(messages) == ["credcors.W006", "credcors.W006", "credcors.W007", "credcors.I001"]
    [warning] = _by_id(messages, "credcors.W007")
    assert "'http://app.example.com'" in warning.msg
    assert "browsers count the scheme as part of the site" in warning.msg


def test_credentials_off_reports_nothing() -> None:
    with _cookie_settings(
        ["https://app.example.net"],
        ["api.example.com"],
        credcors={"ALLOW_CREDENTIALS": False},
        SESSION_COOKIE_SAMESITE="None",
    ):
        assert check_cookies() == []


def test_no_session_or_csrf_middleware_judges_no_cookie() -> None:
    # CSRF_USE_SESSIONS: the token lives in the session; an unimportable entry is not a cookie user.
    middleware = [
        "credcors.middleware.CredCorsMiddleware",
        "no.such.Middleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ]
    with _cookie_settings(
        ["https://app.example.net"], ["api.example.com"], MIDDLEWARE=middleware, CSRF_USE_SESSIONS=True
    ):
        assert _ids(check_cookies()) == ["credcors.I001"]


def test_credcors_csrf_middleware_counts_as_csrf_cookie_user() -> None:
    middleware = ["credcors.middleware.CredCorsMiddleware", "credcors.csrf.CredCorsCsrfViewMiddleware"]
    with _cookie_settings(["https://app.example.net"], ["api.example.com"], MIDDLEWARE=middleware):
        [warning] = _by_id(check_cookies(), "credcors.W006")

    assert "CSRF_COOKIE_SAMESITE" in warning.msg


def test_many_cross_site_origins_are_named_up_to_five() -> None:
    origins = [f"https://app{n}.example.net" for n in range(7)]
    with _cookie_settings(origins, ["api.example.com"], MIDDLEWARE=SESSION_ONLY):
        [warning, note] = check_cookies()

    assert "'https://app4.example.net' and 2 more" in warning.msg
    assert "app5" not in warning.msg
    assert "are on another site" in note.msg


def test_check_command_prints_cookie_warning_and_fails_on_cookie_error(capsys: pytest.CaptureFixture[str]) -> None:
    with _cookie_settings(["https://app.example.net"], ["api.example.com"]):
        call_command("check")
    assert "credcors.W006" in capsys.readouterr().err

    with (
        _cookie_settings(["https://app.example.net"], ["*"], SESSION_COOKIE_SAMESITE="None"),
        pytest.raises(SystemCheckError, match=r"credcors\.E014"),
    ):
        call_command("check")


# --- AllowedOrigin rows: check --database ------------------------------------------------------------------------


@pytest.fixture
def cross_site_row(db: None) -> AllowedOrigin:
    row: AllowedOrigin = AllowedOrigin.objects.create(origin="https://app.example.net")
    return row


@pytest.mark.usefixtures("cross_site_row")
def test_database_check_judges_enabled_rows() -> None:
    AllowedOrigin.objects.create(origin="https://off.example.net", enabled=False)
    with _cookie_settings([], ["api.example.com"], MIDDLEWARE=SESSION_ONLY):
        messages = check_cookie_rows(databases=["default"])
        assert check_cookies() == []

    assert _ids(messages) == ["credcors.W006", "credcors.I001"]
    assert "'https://app.example.net'" in messages[0].msg
    assert "off.example.net" not in messages[0].msg


@pytest.mark.usefixtures("cross_site_row")
def test_database_check_leaves_the_third_party_note_to_the_settings_check() -> None:
    with _cookie_settings(["https://other.example.org"], ["api.example.com"], MIDDLEWARE=SESSION_ONLY):
        assert _ids(check_cookies()) == ["credcors.W006", "credcors.I001"]
        assert _ids(check_cookie_rows(databases=["default"])) == ["credcors.W006"]


@pytest.mark.usefixtures("cross_site_row")
@pytest.mark.parametrize(
    ("databases", "credcors"),
    [(None, {}), ([], {}), (["default"], {"ALLOW_CREDENTIALS": False}), (["default"], {"USE_DATABASE": False})],
)
def test_database_check_off_reports_nothing(databases: list[str] | None, credcors: dict[str, Any]) -> None:
    with _cookie_settings([], ["api.example.com"], credcors=credcors):
        assert check_cookie_rows(databases=databases) == []


@pytest.mark.usefixtures("cross_site_row")
def test_database_check_skips_rows_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # A row that slipped past the model's validator, and then a table that is not there yet.
    AllowedOrigin.objects.filter(origin="https://app.example.net").update(origin="app.example.net")
    with _cookie_settings([], ["api.example.com"]):
        assert check_cookie_rows(databases=["default"]) == []

        def missing_table(*args: Any, **kwargs: Any) -> Any:
            raise DatabaseError("no such table: credcors_allowedorigin")

        monkeypatch.setattr(AllowedOrigin.objects, "using", missing_table)
        assert check_cookie_rows(databases=["default"]) == []


@pytest.mark.usefixtures("cross_site_row")
def test_database_check_runs_only_with_check_database(capsys: pytest.CaptureFixture[str]) -> None:
    with _cookie_settings([], ["api.example.com"]):
        call_command("check")
        assert "credcors.W006" not in capsys.readouterr().err
        call_command("check", "--database", "default")
        assert "credcors.W006" in capsys.readouterr().err


# --- the pure judgement, for explain and the admin's test page -------------------------------------------------


def test_api_hosts_keep_concrete_entries_in_djangos_forms() -> None:
    entries = [
        "API.example.com.",
        ".example.org",
        "*.example.net",
        "example.com:8000",
        "a/b",
        "[::1]",
        7,
        "",
        "api.example.com",
    ]

    assert api_hosts(entries, debug=False) == ("api.example.com", "example.org", "[::1]")
    assert api_hosts([], debug=True) == ("localhost", "127.0.0.1", "[::1]")
    assert api_hosts([], debug=False) == ()
    assert api_hosts(["api.example.com", "*"], debug=False) == ()


def test_api_sites_schemes_follow_where_http_is_possible() -> None:
    assert [site.schemes for site in api_sites(["localhost", "api.example.com"])] == [
        frozenset({"http", "https"}),
        frozenset({"https"}),
    ]
    assert {scheme for site in api_sites(["localhost"], http="never") for scheme in site.schemes} == {"https"}
    assert {scheme for site in api_sites(["api.example.com"], http="any") for scheme in site.schemes} == {
        "http",
        "https",
    }


@pytest.mark.parametrize(
    ("origin", "site"),
    [
        ("https://app.example.co.uk", "https://example.co.uk"),
        ("https://*.example.com", "https://example.com"),
        ("https://*.api.example.com", "https://example.com"),
        ("http://*.localhost:3000", "http://localhost"),
        ("http://127.0.0.1:3000", "http://127.0.0.1"),
    ],
)
def test_origin_site_is_scheme_and_registrable_domain(origin: str, site: str) -> None:
    assert str(origin_site(parse_rule(origin))) == site


def test_verdict_same_site_lets_every_cookie_travel() -> None:
    verdict = judge(parse_rule("https://app.example.com"), api_sites(["api.example.com"]), LAX)

    assert verdict.same_site is True
    assert verdict.cookies_travel is True
    assert verdict.refusing_browsers == ()
    assert verdict.lines() == [
        "https://app.example.com is on the API's site (https://example.com): cookies are same-site."
    ]


def test_verdict_cross_site_names_held_back_cookies_and_refusing_browsers() -> None:
    verdict = judge(parse_rule("https://app.example.net"), api_sites(["api.example.com"]), LAX)

    assert verdict.same_site is False
    assert verdict.cookies_travel is False
    assert [cookie.label for cookie in verdict.held_back] == ["session cookie", "CSRF cookie"]
    assert verdict.refusing_browsers == ("Safari", "Firefox")
    lines = verdict.lines()
    assert lines[0] == "https://app.example.net is on another site (https://example.net) than the API."
    assert "SESSION_COOKIE_SAMESITE is 'Lax'" in lines[1]
    assert lines[-1].startswith("Safari and Firefox block third-party cookies")


def test_verdict_cross_site_with_none_secure_cookies_travels_where_third_party_cookies_are_allowed() -> None:
    cookies = [Cookie("SESSION_COOKIE", "None", True)]
    verdict = judge(parse_rule("http://app.example.com", allow_insecure=True), api_sites(["api.example.com"]), cookies)

    assert verdict.same_site is False
    assert verdict.scheme_only is True
    assert verdict.cookies_travel is True
    assert "browsers count the scheme as part of the site" in verdict.lines()[0]


def test_verdict_unknown_api_site_still_knows_dropped_cookies() -> None:
    rule = parse_rule("https://app.example.net")
    assert judge(rule, (), LAX).cookies_travel is None

    verdict = judge(rule, None, [Cookie("SESSION_COOKIE", "None", False)])

    assert verdict.same_site is None
    assert verdict.cookies_travel is False
    assert verdict.lines() == [
        "Cannot tell whether https://app.example.net is on the API's site: ALLOWED_HOSTS names no concrete host.",
        "Browsers reject the session cookie: SESSION_COOKIE_SAMESITE is 'None' but SESSION_COOKIE_SECURE is False.",
    ]


def test_cookie_findings_second_pass_leaves_out_the_dropped_cookie_error() -> None:
    cookies = [Cookie("SESSION_COOKIE", "None", False)]

    assert [f.id for f in cookie_findings([], ["api.example.com"], cookies)] == ["credcors.E014"]
    assert cookie_findings([], ["api.example.com"], cookies, dropped_cookies=False) == []


def test_finding_level_follows_its_id() -> None:
    assert [Problem(f"credcors.{x}", "m", "h").level for x in ("E001", "W001", "I001")] == ["error", "warning", "info"]


# --- every credentialed policy, not only the default one ----------------------------------------------------------

PARTNER_POLICY = {"partners": {"ALLOWED_ORIGINS": ["https://app.partner.net"], "ALLOW_CREDENTIALS": True}}


def test_credentialed_named_policy_origin_on_another_site_gets_the_cookie_warning() -> None:
    with _cookie_settings([], ["api.example.com"], MIDDLEWARE=SESSION_ONLY, credcors={"POLICIES": PARTNER_POLICY}):
        messages = check_cookies()

    assert _ids(messages) == ["credcors.W006", "credcors.I001"]
    assert "'https://app.partner.net'" in messages[0].msg
    assert "SESSION_COOKIE_SAMESITE is 'Lax'" in messages[0].msg


def test_named_policy_without_credentials_gets_no_cookie_warning() -> None:
    public = {"public": {"ALLOWED_ORIGINS": ["https://app.partner.net"]}}
    with _cookie_settings([], ["api.example.com"], MIDDLEWARE=SESSION_ONLY, credcors={"POLICIES": public}):
        assert check_cookies() == []


def test_origin_of_two_credentialed_policies_is_named_once() -> None:
    both = {"partners": {**PARTNER_POLICY["partners"]}}
    with _cookie_settings(
        ["https://app.partner.net"], ["api.example.com"], MIDDLEWARE=SESSION_ONLY, credcors={"POLICIES": both}
    ):
        [warning, _] = check_cookies()

    assert warning.msg.count("app.partner.net") == 1


@pytest.mark.django_db
def test_database_check_judges_rows_of_a_credentialed_named_policy_only() -> None:
    policies = {
        "partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True},
        "readers": {"USE_DATABASE": True},
    }
    AllowedOrigin.objects.create(origin="https://app.partner.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://reader.other.org", policy="readers")
    credcors = {"USE_DATABASE": False, "ALLOW_CREDENTIALS": False, "POLICIES": policies}
    with _cookie_settings([], ["api.example.com"], MIDDLEWARE=SESSION_ONLY, credcors=credcors):
        messages = check_cookie_rows(databases=["default"])

    assert _ids(messages) == ["credcors.W006", "credcors.I001"]
    assert "'https://app.partner.net'" in messages[0].msg
    assert "reader.other.org" not in messages[0].msg
