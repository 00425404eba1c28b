"""Every system check id, triggered by a realistic mistake."""

from __future__ import annotations

import re
import sys
import types
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from credcors.checks import check_middleware, check_settings, check_urlconf_middleware
from credcors.conf import get_config

MIDDLEWARE_PATH = "credcors.middleware.CredCorsMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"


def _only(messages: list[checks.CheckMessage]) -> checks.CheckMessage:
    assert len(messages) == 1, messages
    return messages[0]


def test_clean_test_settings_report_nothing() -> None:
    assert check_settings() == []
    assert check_middleware() == []
    assert check_urlconf_middleware() == []


@pytest.mark.parametrize(
    "credcors",
    [
        None,
        {},
        {
            "ALLOWED_ORIGINS": ("https://app.example.com", "https://*.example.org", "http://[::1]:8000"),
            "ALLOW_CREDENTIALS": True,
            "ALLOW_METHODS": ["get", "POST", "PATCH"],
            "ALLOW_HEADERS": ["Content-Type", "X-CSRFToken"],
            "EXPOSE_HEADERS": ["X-Request-Id"],
            "PREFLIGHT_MAX_AGE": 0,
            "URLS_REGEX": re.compile(r"^/api/"),
            "USE_DATABASE": False,
            "REFRESH_SECONDS": 0.5,
            "ALLOW_INSECURE_ORIGINS": False,
            "TRUST_FOR_CSRF": True,
        },
    ],
)
def test_valid_settings_report_nothing(settings, credcors: Any) -> None:
    settings.CREDCORS = credcors

    assert check_settings() == []


def test_missing_credcors_setting_reports_nothing(settings) -> None:
    del settings.CREDCORS

    assert check_settings() == []


@pytest.mark.parametrize(
    ("credcors", "check_id", "names"),
    [
        ("https://app.example.com", "credcors.E001", ["'https://app.example.com'", "dict"]),
        (["https://app.example.com"], "credcors.E001", ["['https://app.example.com']"]),
        ({"ALLOWED_ORIGIN": ["https://app.example.com"]}, "credcors.E002", ["'ALLOWED_ORIGIN'"]),
        (
            {"ALLOWED_ORIGINS": "https://app.example.com"},
            "credcors.E003",
            ["ALLOWED_ORIGINS", "'https://app.example.com'"],
        ),
        ({"ALLOW_METHODS": ["GET", 1]}, "credcors.E003", ["ALLOW_METHODS", "['GET', 1]"]),
        ({"ALLOW_CREDENTIALS": "yes"}, "credcors.E015", ["ALLOW_CREDENTIALS", "'yes'"]),
        ({"USE_DATABASE": 1}, "credcors.E015", ["USE_DATABASE", "1"]),
        ({"ALLOWED_ORIGINS": ["https://*.com"]}, "credcors.E004", ["ALLOWED_ORIGINS", "'https://*.com'"]),
        ({"ALLOWED_ORIGINS": ["https://*.github.io"]}, "credcors.E004", ["ALLOWED_ORIGINS", "public suffix"]),
        ({"ALLOWED_ORIGINS": ["null"]}, "credcors.E004", ["ALLOWED_ORIGINS", "'null'"]),
        ({"ALLOWED_ORIGINS": ["http://evil.com"]}, "credcors.E004", ["ALLOWED_ORIGINS", "'http://evil.com'"]),
        ({"ALLOWED_ORIGINS": [r"^https://.*\.example\.com$"]}, "credcors.E004", ["ALLOWED_ORIGINS"]),
        ({"ALLOW_METHODS": ["GET", "CONNECT"]}, "credcors.E005", ["ALLOW_METHODS", "'CONNECT'"]),
        ({"ALLOW_METHODS": ["trace"]}, "credcors.E005", ["ALLOW_METHODS", "'trace'"]),
        ({"ALLOW_METHODS": ["GET POST"]}, "credcors.E005", ["ALLOW_METHODS", "'GET POST'"]),
        ({"ALLOW_METHODS": ["*"]}, "credcors.E005", ["ALLOW_METHODS", "'*'"]),
        ({"ALLOW_HEADERS": ["content-type", "Cookie"]}, "credcors.E006", ["ALLOW_HEADERS", "'Cookie'"]),
        ({"ALLOW_HEADERS": ["sec-fetch-mode"]}, "credcors.E006", ["ALLOW_HEADERS", "'sec-fetch-mode'"]),
        ({"ALLOW_HEADERS": ["Proxy-Authorization"]}, "credcors.E006", ["ALLOW_HEADERS", "'Proxy-Authorization'"]),
        ({"ALLOW_HEADERS": ["x token"]}, "credcors.E006", ["ALLOW_HEADERS", "'x token'"]),
        ({"ALLOW_HEADERS": ["*"]}, "credcors.E006", ["ALLOW_HEADERS", "'*'"]),
        ({"EXPOSE_HEADERS": ["Set-Cookie"]}, "credcors.E007", ["EXPOSE_HEADERS", "'Set-Cookie'"]),
        ({"EXPOSE_HEADERS": ["*"]}, "credcors.E007", ["EXPOSE_HEADERS", "'*'"]),
        ({"EXPOSE_HEADERS": ["x:id"]}, "credcors.E007", ["EXPOSE_HEADERS", "'x:id'"]),
        ({"PREFLIGHT_MAX_AGE": 100_000}, "credcors.E008", ["PREFLIGHT_MAX_AGE", "100000"]),
        ({"PREFLIGHT_MAX_AGE": -1}, "credcors.E008", ["PREFLIGHT_MAX_AGE", "-1"]),
        ({"PREFLIGHT_MAX_AGE": "600"}, "credcors.E008", ["PREFLIGHT_MAX_AGE", "'600'"]),
        ({"PREFLIGHT_MAX_AGE": True}, "credcors.E008", ["PREFLIGHT_MAX_AGE", "True"]),
        ({"PREFLIGHT_MAX_AGE": 600.0}, "credcors.E008", ["PREFLIGHT_MAX_AGE", "600.0"]),
        ({"URLS_REGEX": "^/api/(v1"}, "credcors.E009", ["URLS_REGEX", "'^/api/(v1'", "does not compile"]),
        ({"URLS_REGEX": ["^/api/"]}, "credcors.E009", ["URLS_REGEX", "list"]),
        ({"REFRESH_SECONDS": 0}, "credcors.E010", ["REFRESH_SECONDS", "0"]),
        ({"REFRESH_SECONDS": 7200}, "credcors.E010", ["REFRESH_SECONDS", "7200"]),
        ({"REFRESH_SECONDS": "5"}, "credcors.E010", ["REFRESH_SECONDS", "'5'"]),
        ({"REFRESH_SECONDS": True}, "credcors.E010", ["REFRESH_SECONDS", "True"]),
        ({"USE_DATABASE": False}, "credcors.W001", ["ALLOWED_ORIGINS", "USE_DATABASE"]),
        (
            {"ALLOWED_ORIGINS": ["https://a.example.com", "https://A.example.com:443/"]},
            "credcors.W002",
            ["ALLOWED_ORIGINS", "'https://a.example.com'", "'https://A.example.com:443/'"],
        ),
        (
            {"ALLOWED_ORIGINS": ["http://intranet.example.com"], "ALLOW_INSECURE_ORIGINS": True},
            "credcors.W003",
            ["ALLOWED_ORIGINS", "'http://intranet.example.com'"],
        ),
    ],
)
def test_bad_setting_reports_check_naming_key_and_value(
    settings, credcors: Any, check_id: str, names: list[str]
) -> None:
    settings.CREDCORS = credcors

    message = _only(check_settings())

    assert message.id == check_id
    expected_level = checks.ERROR if check_id.startswith("credcors.E") else checks.WARNING
    assert message.level == expected_level
    for name in names:
        assert name in message.msg
    assert message.hint


def test_unknown_key_close_to_a_real_one_hint_suggests_it(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGIN": ["https://app.example.com"]}

    message = _only(check_settings())

    assert message.hint is not None
    assert "Did you mean 'ALLOWED_ORIGINS'?" in message.hint


def test_unknown_key_far_from_every_key_hint_lists_valid_keys(settings) -> None:
    settings.CREDCORS = {"COLOUR": "blue"}

    message = _only(check_settings())

    assert message.id == "credcors.E002"
    assert message.hint is not None
    assert "Did you mean" not in message.hint
    assert "ALLOWED_ORIGINS" in message.hint


def test_several_mistakes_report_one_message_each(settings) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["https://*.com", "https://ok.example.com"],
        "ALLOW_METHODS": ["TRACE"],
        "PREFLIGHT_MAX_AGE": -5,
        "TYPO": True,
    }

    # str(): a message without an id would sort as 'None' and fail the comparison.
    ids = sorted(str(message.id) for message in check_settings())

    assert ids == ["credcors.E002", "credcors.E004", "credcors.E005", "credcors.E008"]


def test_insecure_loopback_origin_with_allow_insecure_is_not_warned(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["http://127.0.0.1:8000"], "ALLOW_INSECURE_ORIGINS": True}

    assert check_settings() == []


def test_wildcards_without_credentials_are_accepted(settings) -> None:
    # '*' is only a wildcard (and so only a mistake) when credentials are on.
    settings.CREDCORS = {
        "ALLOW_CREDENTIALS": False,
        "ALLOW_METHODS": ["*"],
        "ALLOW_HEADERS": ["*"],
        "EXPOSE_HEADERS": ["*"],
    }

    assert check_settings() == []


def test_invalid_entries_are_left_out_of_the_config(settings) -> None:
    # Fail closed: what a check reports never ends up allowing anything.
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["https://*.com", "https://ok.example.com"],
        "ALLOW_METHODS": ["GET", "CONNECT"],
        "ALLOW_HEADERS": ["cookie", "content-type"],
        "EXPOSE_HEADERS": ["set-cookie", "x-request-id"],
        "PREFLIGHT_MAX_AGE": 10**9,
        "REFRESH_SECONDS": -1,
    }

    config = get_config()

    assert [rule.serialize() for rule in config.rules] == ["https://ok.example.com"]
    assert config.allow_methods == ("GET",)
    assert config.allow_headers == ("content-type",)
    assert config.expose_headers == ("x-request-id",)
    assert config.max_age == 600
    assert config.refresh_seconds == 5.0


def test_unreadable_lists_and_credcors_of_wrong_type_allow_nothing(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": "https://app.example.com"}
    assert get_config().rules == ()

    settings.CREDCORS = ["https://app.example.com"]
    config = get_config()
    assert config.rules == ()
    assert config.use_database is False


def test_uncompilable_urls_regex_applies_to_no_path(settings) -> None:
    settings.CREDCORS = {"URLS_REGEX": "(", "ALLOWED_ORIGINS": ["https://app.example.com"]}

    config = get_config()

    assert not config.applies_to("/")
    assert not config.applies_to("/api/echo")


def test_middleware_missing_reports_e011(settings) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]

    message = _only(check_middleware())

    assert message.id == "credcors.E011"
    assert MIDDLEWARE_PATH in message.msg
    assert message.hint is not None
    assert "MIDDLEWARE" in message.hint


def test_middleware_setting_empty_reports_e011(settings) -> None:
    settings.MIDDLEWARE = None

    assert _only(check_middleware()).id == "credcors.E011"


def test_middleware_below_common_middleware_reports_e012(settings) -> None:
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        COMMON,
        MIDDLEWARE_PATH,
    ]

    message = _only(check_middleware())

    assert message.id == "credcors.E012"
    assert MIDDLEWARE_PATH in message.msg
    assert COMMON in message.msg
    assert message.hint is not None
    assert "move credcors above it" in message.hint


def test_middleware_without_common_middleware_reports_nothing(settings) -> None:
    settings.MIDDLEWARE = [MIDDLEWARE_PATH]

    assert check_middleware() == []


HOSTS = "django_hosts.middleware.HostsRequestMiddleware"
PROJECT_TENANTS = "project.middleware.TenantMiddleware"
WITH_POLICIES = {"ALLOWED_ORIGINS": ["https://app.example.com"], "POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True}}}


@pytest.fixture
def routers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for django-hosts' middleware and a project's subclass of django-tenants' (not test dependencies)."""

    def module(name: str, **classes: type) -> None:
        found = types.ModuleType(name)
        found.__dict__.update(classes)
        monkeypatch.setitem(sys.modules, name, found)

    hosts = type("HostsRequestMiddleware", (), {"__module__": "django_hosts.middleware"})
    tenants = type("TenantMainMiddleware", (), {"__module__": "django_tenants.middleware.main"})
    project = type("TenantMiddleware", (tenants,), {"__module__": "project.middleware"})
    module("django_hosts")
    module("django_hosts.middleware", HostsRequestMiddleware=hosts)
    module("project")
    module("project.middleware", TenantMiddleware=project)


@pytest.mark.usefixtures("routers")
def test_host_routing_middleware_below_credcors_reports_w011(settings) -> None:
    settings.CREDCORS = WITH_POLICIES
    settings.MIDDLEWARE = [
        MIDDLEWARE_PATH,
        HOSTS,
        PROJECT_TENANTS,
        "tests.host_routing.HostUrlconfMiddleware",  # Unknown: logged when it sets request.urlconf.
        "nowhere.Middleware",
        COMMON,
    ]

    messages = check_urlconf_middleware()

    assert [(message.id, message.msg, message.hint) for message in messages] == [
        (
            "credcors.W011",
            f"{path!r} sets request.urlconf but is below {MIDDLEWARE_PATH!r} in settings.MIDDLEWARE: credcors "
            "answers preflights before it runs, so a preflight resolves its view, and with it its CORS policy, in "
            "ROOT_URLCONF while the actual request uses the URLconf it picks.",
            f"Move {path!r} above {MIDDLEWARE_PATH!r} in MIDDLEWARE: host and tenant routing go first.",
        )
        for path in (HOSTS, PROJECT_TENANTS)
    ]
    assert all(isinstance(message, checks.Warning) for message in messages)


@pytest.mark.usefixtures("routers")
@pytest.mark.parametrize(
    ("credcors", "middleware"),
    [
        (WITH_POLICIES, [HOSTS, PROJECT_TENANTS, MIDDLEWARE_PATH, COMMON]),  # Where they belong.
        ({"ALLOWED_ORIGINS": ["https://app.example.com"]}, [MIDDLEWARE_PATH, HOSTS, COMMON]),  # One policy only.
        (WITH_POLICIES, [HOSTS, COMMON]),  # No credcors: E011.
    ],
)
def test_host_routing_middleware_above_credcors_or_without_policies_reports_nothing(
    settings, credcors: Any, middleware: list[str]
) -> None:
    settings.CREDCORS = credcors
    settings.MIDDLEWARE = middleware

    assert check_urlconf_middleware() == []


def test_check_command_fails_on_credcors_error(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://*.com"], "ALLOW_METHODS": ["CONNECT"]}

    with pytest.raises(SystemCheckError) as info:
        call_command("check")

    assert "credcors.E004" in str(info.value)
    assert "credcors.E005" in str(info.value)


def test_check_command_reports_middleware_error(settings) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]

    with pytest.raises(SystemCheckError, match=r"credcors\.E011"):
        call_command("check")


def test_check_command_prints_credcors_warning_without_failing(settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.CREDCORS = {"USE_DATABASE": False}

    call_command("check")

    assert "credcors.W001" in capsys.readouterr().err


def test_check_command_clean_settings_pass(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("check")

    assert "credcors" not in capsys.readouterr().err


# -- One catalogue of check ids ---------------------------------------------------


def test_docs_check_table_is_the_catalogue() -> None:
    from pathlib import Path

    from credcors.catalogue import CHECKS

    text = (Path(__file__).resolve().parent.parent / "docs" / "checks.md").read_text()
    rows = dict(re.findall(r"^\| `(credcors\.[EWI]\d{3})` \| (.*) \|$", text, re.MULTILINE))

    assert rows == dict(CHECKS)


def test_every_check_id_in_the_code_is_catalogued() -> None:
    from pathlib import Path

    from credcors.catalogue import CHECKS

    package = Path(__file__).resolve().parent.parent / "credcors"
    used = {
        found
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
        for found in re.findall(r"credcors\.[EWI]\d{3}", path.read_text())
    }

    assert used <= set(CHECKS)
    assert len(used) >= 20  # The search finds what it should.
