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
            "MAX_STALE_SECONDS": 0.75,
            "ALLOW_INSECURE_ORIGINS": False,
            "TRUST_FOR_CSRF": True,
        },
        {"MAX_STALE_SECONDS": None},
        {"MAX_STALE_SECONDS": 60},
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


@pytest.mark.parametrize(
    ("credcors", "key"),
    [
        ({"ALLOWED_ORIGINS": ["https://*.amazonaws.com"]}, 'CREDCORS["ALLOWED_ORIGINS"]'),
        (
            {"POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://*.amazonaws.com"]}}},
            'CREDCORS["POLICIES"][\'partners\']["ALLOWED_ORIGINS"]',
        ),
    ],
)
def test_pattern_over_private_suffixes_in_settings_is_e004_naming_a_suffix_beneath(
    settings, credcors: dict[str, Any], key: str
) -> None:
    settings.CREDCORS = credcors

    message = _only(check_settings())

    assert message.id == "credcors.E004"
    assert message.level == checks.ERROR
    assert message.msg == (
        f"{key}: 'https://*.amazonaws.com' is not an allowed origin: https://*.amazonaws.com would allow hosts "
        "under 's3.amazonaws.com', a public suffix anyone can register under; wildcards spanning a public suffix "
        "are refused."
    )
    assert message.hint == (
        "List exact origins instead, one for each host you use under 'amazonaws.com': 's3.amazonaws.com' is on "
        "the Public Suffix List, so the hosts beneath it belong to different owners."
    )


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


@pytest.mark.parametrize(
    ("entry", "problem", "hint"),
    [
        ("partner.example.net", "it has no scheme", 'Write it with its scheme: "https://partner.example.net".'),
        ("https://*.com", "*.com would cover a whole top-level domain", "Allow a domain you control"),
    ],
)
def test_origin_refused_by_the_validator_says_the_fix_once_in_the_hint(
    settings, entry: str, problem: str, hint: str
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [entry]}

    message = _only(check_settings())

    assert message.id == "credcors.E004"
    assert message.msg == f'CREDCORS["ALLOWED_ORIGINS"]: {entry!r} is not an allowed origin: {problem}.'
    assert message.hint is not None
    assert message.hint.startswith(hint)
    assert message.hint not in message.msg


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

    assert [rule.serialize() for rule in config.default_policy.rules] == ["https://ok.example.com"]
    assert config.default_policy.allow_methods == ("GET",)
    assert config.default_policy.allow_headers == ("content-type",)
    assert config.default_policy.expose_headers == ("x-request-id",)
    assert config.default_policy.max_age == 600
    assert config.refresh_seconds == 5.0


@pytest.mark.parametrize(
    ("credcors", "check_id", "quoted"),
    [
        ({"MAX_STALE_SECONDS": "60"}, "credcors.E027", "'60'"),
        ({"MAX_STALE_SECONDS": 0}, "credcors.E027", "not 0;"),
        ({"MAX_STALE_SECONDS": -30}, "credcors.E027", "-30"),
        ({"MAX_STALE_SECONDS": True}, "credcors.E027", "True"),
        ({"MAX_STALE_SECONDS": float("nan")}, "credcors.E027", "nan"),
        ({"MAX_STALE_SECONDS": float("inf")}, "credcors.E027", "inf"),
        ({"MAX_STALE_SECONDS": 10**400}, "credcors.E027", "1000000000"),
        ({"MAX_STALE_SECONDS": [60]}, "credcors.E027", "[60]"),
        ({"MAX_STALE_SECONDS": 5}, "credcors.E028", "is 5,"),
        ({"MAX_STALE_SECONDS": 4.5}, "credcors.E028", "is 4.5,"),
    ],
)
def test_bad_max_stale_seconds_is_reported_and_keeps_a_bound(
    settings, credcors: dict[str, Any], check_id: str, quoted: str
) -> None:
    settings.CREDCORS = credcors

    message = _only(check_settings())

    assert message.id == check_id
    assert message.level == checks.ERROR
    assert message.msg.startswith('CREDCORS["MAX_STALE_SECONDS"] ')
    assert quoted in message.msg
    assert "until it is fixed, a process drops its database rows after 10 s without the database." in message.msg
    assert message.hint is not None
    if check_id == "credcors.E027":
        assert message.hint.startswith('Write CREDCORS["MAX_STALE_SECONDS"] = 60 to serve only the settings')
        assert "or None to serve the rows loaded last for the whole outage" in message.hint
    else:
        assert 'not greater than CREDCORS["REFRESH_SECONDS"] (5)' in message.msg
        assert message.hint == (
            'Write a number of seconds greater than CREDCORS["REFRESH_SECONDS"], such as 60 (a few polls), '
            "or lower REFRESH_SECONDS."
        )
    # Fail closed: whoever set the key asked for a bound, and keeps one.
    assert get_config().max_stale_seconds == 10.0


def test_max_stale_seconds_is_compared_with_the_refresh_seconds_in_force(settings) -> None:
    settings.CREDCORS = {"REFRESH_SECONDS": 60, "MAX_STALE_SECONDS": 60}

    message = _only(check_settings())

    assert message.id == "credcors.E028"
    assert "(60)" in message.msg
    assert "such as 240 " in str(message.hint)
    assert get_config().max_stale_seconds == 120.0


def test_max_stale_seconds_is_one_value_for_every_policy(settings) -> None:
    # One poll brings every policy's rows, so they all go unconfirmed together.
    settings.CREDCORS = {"POLICIES": {"partner": {"MAX_STALE_SECONDS": 60}}}

    message = _only(check_settings())

    assert message.id == "credcors.E018"
    assert "'MAX_STALE_SECONDS'" in message.msg
    assert get_config().max_stale_seconds is None


def test_unreadable_lists_and_credcors_of_wrong_type_allow_nothing(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": "https://app.example.com"}
    assert get_config().default_policy.rules == ()

    settings.CREDCORS = ["https://app.example.com"]
    config = get_config()
    assert config.default_policy.rules == ()
    assert config.default_policy.use_database is False


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

    from credcors.core.catalogue import CHECKS

    text = (Path(__file__).resolve().parent.parent / "docs" / "checks.md").read_text()
    rows = dict(re.findall(r"^\| `(credcors\.[EWI]\d{3})` \| (.*) \|$", text, re.MULTILINE))

    assert rows == dict(CHECKS)


def test_every_check_id_in_the_code_is_catalogued() -> None:
    from pathlib import Path

    from credcors.core.catalogue import CHECKS

    package = Path(__file__).resolve().parent.parent / "credcors"
    used = {
        found
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
        for found in re.findall(r"credcors\.[EWI]\d{3}", path.read_text())
    }

    assert used <= set(CHECKS)
    assert len(used) >= 20  # The search finds what it should.


# -- Migrating from django-cors-headers, and a forgotten migrate ------------------


def test_cors_headers_setting_left_in_settings_reports_w014_naming_its_key(settings) -> None:
    from credcors.checks import check_cors_headers_settings

    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    message = _only(check_cors_headers_settings())

    assert message.id == "credcors.W014"
    assert message.level == checks.WARNING
    assert message.msg == (
        "settings.CORS_ALLOWED_ORIGINS is a django-cors-headers setting, which credcors does not read; "
        "its credcors equivalent is CREDCORS['ALLOWED_ORIGINS']."
    )
    assert message.hint == (
        "Run 'manage.py credcors convert-settings' to print the CREDCORS dict for your CORS_* settings, "
        "then remove them."
    )


def test_cors_headers_setting_without_equivalent_reports_w014_saying_so(settings) -> None:
    from credcors.checks import check_cors_headers_settings

    settings.CORS_ALLOW_PRIVATE_NETWORK = True
    settings.CORS_ORIGIN_ALLOW_ALL = False

    messages = check_cors_headers_settings()

    assert [message.id for message in messages] == ["credcors.W014", "credcors.W014"]
    assert "CREDCORS['ALLOW_ALL_ORIGINS']" in messages[0].msg
    assert messages[1].msg.startswith("settings.CORS_ALLOW_PRIVATE_NETWORK is a django-cors-headers setting")
    assert messages[1].msg.endswith("its credcors equivalent is nothing in CREDCORS (convert-settings says why).")


def test_cors_headers_setting_is_reported_by_manage_py_check(settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.CORS_ALLOW_CREDENTIALS = True

    call_command("check")

    assert "credcors.W014" in capsys.readouterr().err


def test_every_cors_headers_setting_convert_settings_knows_is_checked(settings) -> None:
    from credcors.checks import check_cors_headers_settings
    from credcors.convert.reading import KNOWN_SETTINGS

    for name in KNOWN_SETTINGS:
        setattr(settings, name, [])

    assert len(check_cors_headers_settings()) == len(KNOWN_SETTINGS) >= 14


@pytest.mark.django_db
def test_migrated_database_reports_nothing() -> None:
    from credcors.checks import check_migrated

    assert check_migrated(databases=["default"]) == []


@pytest.mark.django_db
def test_missing_table_reports_w015_saying_to_migrate(capsys: pytest.CaptureFixture[str]) -> None:
    from django.db import connection

    from credcors.checks import check_migrated

    # Renamed inside the test's transaction, which the rollback undoes (triggers included).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE credcors_allowedorigin RENAME TO credcors_not_migrated")
    message = _only(check_migrated(databases=["default"]))
    call_command("check", "--database", "default")

    assert message.id == "credcors.W015"
    assert message.level == checks.WARNING
    assert message.msg == (
        "The database 'default' has no 'credcors_allowedorigin' table yet: until 'migrate' creates it, credcors "
        "serves its settings only and the admin's origin pages fail."
    )
    assert message.hint == (
        "Run 'manage.py migrate --database default' (which shows this warning too, from the checks it runs "
        "before it creates the table)."
    )
    assert "credcors.W015" in capsys.readouterr().err


class _CredcorsElsewhere:
    """A router that keeps credcors' tables off the default database."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if app_label == "credcors" else None


@pytest.mark.django_db
def test_database_credcors_is_not_migrated_to_gets_no_missing_table_warning(settings) -> None:
    from django.db import connection

    from credcors.checks import check_migrated

    settings.DATABASE_ROUTERS = [_CredcorsElsewhere()]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE credcors_allowedorigin RENAME TO credcors_not_migrated")

    assert check_migrated(databases=["default"]) == []


def test_check_without_database_never_queries_for_the_table() -> None:
    from credcors.checks import check_migrated

    assert check_migrated() == []


# --- rows whose settings the table does not show (check --database) -------------------------

SHADOWING = {
    "ALLOWED_ORIGINS": ["https://app.example.com", "https://trusted.example.com"],
    "TRUST_FOR_CSRF": ["https://trusted.example.com"],
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True},
        "readers": {"ALLOWED_ORIGINS": ["https://reader.example.net"], "USE_DATABASE": True},
    },
}


@pytest.mark.django_db
def test_row_trusted_but_shadowed_by_an_untrusted_settings_entry_warns_w009(settings) -> None:
    from credcors.checks import check_shadowed_trust
    from credcors.models import AllowedOrigin

    settings.CREDCORS = SHADOWING
    AllowedOrigin.objects.create(origin="https://app.example.com", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://trusted.example.com")

    first, second = check_shadowed_trust(databases=["default"])

    assert first.id == second.id == "credcors.W009"
    assert first.msg == (
        "The AllowedOrigin row 'https://app.example.com' of the policy 'default' is marked trusted for CSRF, but the "
        "settings entry of the same origin in that policy decides: 'https://app.example.com' is not trusted for CSRF."
    )
    assert "is marked not trusted for CSRF" in second.msg
    assert "'https://trusted.example.com' is trusted for CSRF" in second.msg
    assert first.hint == (
        "Delete the row (the settings entry allows the origin already); the CSRF trust of a settings origin is set "
        'by CREDCORS["TRUST_FOR_CSRF"].'
    )


@pytest.mark.django_db
def test_shadowed_rows_of_the_same_trust_or_out_of_force_are_silent(settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from credcors.checks import check_shadowed_trust
    from credcors.models import AllowedOrigin

    settings.CREDCORS = SHADOWING
    AllowedOrigin.objects.create(origin="https://app.example.com")  # Untrusted, like its settings entry.
    AllowedOrigin.objects.create(origin="https://trusted.example.com", trust_for_csrf=True, enabled=False)
    AllowedOrigin.objects.create(origin="https://other.example.com", trust_for_csrf=True)  # Not in settings.
    # A policy without credentials trusts nobody: the row's box changes nothing there either.
    AllowedOrigin.objects.create(origin="https://reader.example.net", policy="readers", trust_for_csrf=True)
    AllowedOrigin.objects.filter(origin="https://trusted.example.com").update(
        enabled=True, expires_at=timezone.now() - timedelta(hours=1)
    )

    assert check_shadowed_trust(databases=["default"]) == []
    assert check_shadowed_trust(databases=None) == []


@pytest.mark.django_db
def test_rows_in_an_allow_all_policy_warn_w010(settings) -> None:
    from credcors.checks import check_allow_all_rows
    from credcors.models import AllowedOrigin

    settings.CREDCORS = SHADOWING
    for number in range(5):
        AllowedOrigin.objects.create(origin=f"https://r{number}.example.net", policy="public")
    AllowedOrigin.objects.create(origin="https://off.example.net", policy="public", enabled=False)

    message = _only(check_allow_all_rows(databases=["default"]))

    assert message.id == "credcors.W010"
    assert message.msg == (
        "The policy 'public' answers every origin with '*' (CREDCORS[\"POLICIES\"]['public'][\"ALLOW_ALL_ORIGINS\"]) "
        'and takes no rows, but holds 5 enabled AllowedOrigin rows ("https://r0.example.net", '
        '"https://r1.example.net", "https://r2.example.net" and 2 more): rows there allow nothing, and their CSRF '
        "trust counts nowhere."
    )
    assert message.hint == (
        "Move them to a policy that lists its origins (the default one for credentialed calls), or delete them: "
        "a public policy needs no rows."
    )


@pytest.mark.django_db
def test_allow_all_policy_without_rows_or_database_is_silent(settings) -> None:
    from credcors.checks import check_allow_all_rows
    from credcors.models import AllowedOrigin

    settings.CREDCORS = SHADOWING
    AllowedOrigin.objects.create(origin="https://r.example.net")

    assert check_allow_all_rows(databases=["default"]) == []
    assert check_allow_all_rows(databases=None) == []
    settings.CREDCORS = {}
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="public")
    assert check_allow_all_rows(databases=["default"]) == []


@pytest.mark.django_db
def test_row_checks_skip_a_table_that_is_not_there(settings) -> None:
    from credcors.checks import check_allow_all_rows, check_shadowed_trust
    from tests.conftest import table_reads_fail

    settings.CREDCORS = SHADOWING
    with table_reads_fail() as failed:
        assert check_shadowed_trust(databases=["default"]) == []
        assert check_allow_all_rows(databases=["default"]) == []

    assert len(failed) == 2
