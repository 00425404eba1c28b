"""credcors.convert: django-cors-headers settings to CREDCORS, on realistic configurations."""

from __future__ import annotations

import re
import types
from typing import Any

import pytest
from django.dispatch import Signal
from hypothesis import given
from hypothesis import strategies as st

from credcors.convert import convert_settings
from credcors.convert.reading import Conversion, Finding
from credcors.convert.regex import WiderPattern, regex_to_patterns
from credcors.core.config import parse_config

# Configurations shaped like the ones found in real projects' settings files.
REAL_WORLD: dict[str, dict[str, Any]] = {
    "spa_on_subdomain": {
        "CORS_ALLOWED_ORIGINS": ["https://app.example.com", "http://localhost:3000", "http://127.0.0.1:3000"],
        "CORS_ALLOW_CREDENTIALS": True,
    },
    "preview_deploys_by_regex": {
        "CORS_ALLOWED_ORIGINS": ["https://www.example.com"],
        "CORS_ALLOWED_ORIGIN_REGEXES": [
            r"^https://\w+\.example\.com$",
            r"^https://deploy-preview-\d+--site\.netlify\.app$",
        ],
        "CORS_ALLOW_CREDENTIALS": True,
        "CORS_URLS_REGEX": r"^/api/.*$",
    },
    "allow_all_in_production": {
        "CORS_ALLOW_ALL_ORIGINS": True,
        "CORS_ALLOW_CREDENTIALS": True,
    },
    "legacy_3x_names": {
        "CORS_ORIGIN_WHITELIST": ("https://example.com", "https://admin.example.com/"),
        "CORS_ORIGIN_REGEX_WHITELIST": (r"^(https?://)?(\w+\.)?example\.com$",),
        "CORS_ORIGIN_ALLOW_ALL": False,
        "CORS_REPLACE_HTTPS_REFERER": True,
    },
    "headers_and_methods": {
        "CORS_ALLOWED_ORIGINS": ["https://dashboard.example.com"],
        "CORS_ALLOW_CREDENTIALS": True,
        "CORS_ALLOW_METHODS": ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"],
        "CORS_ALLOW_HEADERS": ["accept", "authorization", "content-type", "user-agent", "x-csrftoken", "*"],
        "CORS_EXPOSE_HEADERS": ["Content-Disposition", "Set-Cookie"],
        "CORS_PREFLIGHT_MAX_AGE": 172800,
        "CORS_ALLOW_PRIVATE_NETWORK": True,
    },
    "mobile_webview_null_and_http": {
        "CORS_ALLOWED_ORIGINS": [
            "null",
            "http://partner.example.net",
            "capacitor://localhost",
            "https://m.example.com",
        ],
        "CORS_ALLOW_CREDENTIALS": True,
    },
    "public_api_without_credentials": {
        "CORS_ALLOWED_ORIGINS": ["http://partner.example.net", "https://partner.example.net"],
        "CORS_ALLOW_METHODS": ["GET", "*"],
        "CORS_PREFLIGHT_MAX_AGE": 0,
    },
    "github_pages_regex": {
        "CORS_ALLOWED_ORIGIN_REGEXES": [re.compile(r"^https://.*\.github\.io$"), r"^https://docs\.example\.com"],
        "CORS_ALLOW_CREDENTIALS": True,
    },
}


def severities(conversion: Conversion, setting: str) -> list[str]:
    return [finding.severity for finding in conversion.findings if finding.setting == setting]


def finding_for(conversion: Conversion, setting: str, value: object) -> Finding:
    matches = [f for f in conversion.findings if f.setting == setting and f.value == value]
    assert len(matches) == 1, conversion.findings
    return matches[0]


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_config_converts_to_dict_without_check_errors(name: str) -> None:
    conversion = convert_settings(REAL_WORLD[name], signal_receivers=0)

    config = parse_config(conversion.credcors)

    assert [problem for problem in config.problems if problem.is_error] == []


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_source_text_evaluates_to_the_same_dict(name: str) -> None:
    conversion = convert_settings(REAL_WORLD[name], signal_receivers=0)
    namespace: dict[str, Any] = {}

    exec(conversion.source_text, namespace)

    assert namespace["CREDCORS"] == conversion.credcors


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_render_is_python_with_every_finding_as_comment(name: str) -> None:
    conversion = convert_settings(REAL_WORLD[name], signal_receivers=0)

    rendered = conversion.render()

    compile(rendered, "<render>", "exec")
    assert conversion.source_text in rendered
    for finding in conversion.findings:
        assert f"#   {finding.message}" in rendered


def test_plain_list_with_credentials_converts_exactly() -> None:
    conversion = convert_settings(REAL_WORLD["spa_on_subdomain"], signal_receivers=0)

    assert conversion.credcors == {
        "ALLOWED_ORIGINS": ["https://app.example.com", "http://localhost:3000", "http://127.0.0.1:3000"],
        "ALLOW_CREDENTIALS": True,
    }
    assert conversion.refused == []
    assert severities(conversion, "CORS_PREFLIGHT_MAX_AGE") == ["note"]


def test_one_label_regex_is_refused_not_widened_to_a_pattern() -> None:
    conversion = convert_settings(REAL_WORLD["preview_deploys_by_regex"], signal_receivers=0)

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://www.example.com"]
    finding = finding_for(conversion, "CORS_ALLOWED_ORIGIN_REGEXES", r"^https://\w+\.example\.com$")
    assert finding.severity == "refused"
    assert finding.message == (
        "Not converted: the regex matches exactly one label before 'example.com', and a *. pattern matches any "
        "number of them (https://a.b.example.com too), so the rewrite would allow origins the regex did not."
    )
    assert finding.hint == (
        "List the exact origins it was meant to allow, or, if every host at every depth under it is yours, "
        "write 'https://*.example.com' in ALLOWED_ORIGINS yourself."
    )


def test_one_label_regex_over_amazonaws_is_refused_and_the_pattern_would_be_too() -> None:
    regex = r"^https://\w+\.amazonaws\.com$"

    conversion = convert_settings({"CORS_ALLOWED_ORIGIN_REGEXES": [regex]}, signal_receivers=0)

    assert conversion.credcors["ALLOWED_ORIGINS"] == []
    finding = finding_for(conversion, "CORS_ALLOWED_ORIGIN_REGEXES", regex)
    assert finding.severity == "refused"
    assert "exactly one label before 'amazonaws.com'" in finding.message
    assert finding.hint.startswith("List the exact origins it was meant to allow; 'https://*.amazonaws.com' itself")
    assert "'s3.amazonaws.com', a public suffix anyone can register under" in finding.hint


def test_any_depth_regex_over_amazonaws_is_refused_by_the_validator() -> None:
    regex = r"^https://(.+\.)?amazonaws\.com$"

    conversion = convert_settings({"CORS_ALLOWED_ORIGIN_REGEXES": [regex]}, signal_receivers=0)

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://amazonaws.com"]
    [refused] = conversion.refused
    assert refused.message.startswith("'https://*.amazonaws.com': https://*.amazonaws.com would allow hosts under")
    assert "List exact origins instead" in refused.hint


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"^https://\w+\.example\.com$", "exactly one label before 'example.com'"),
        (r"^https://(\w+\.)?example\.com$", "exactly one label before 'example.com'"),
        (r"^https://([^.]+\.)?example\.com$", "exactly one label before 'example.com'"),
        (r"^https://[a-z0-9-]+\.preview\.example\.com$", "exactly one label before 'preview.example.com'"),
        (r"^https://(\w+\.)+example\.com$", "the regex's \\w before 'example.com' matches no '-'"),
        (r"^https://([a-z0-9-]+\.)*example\.com$", "the regex's [a-z0-9-] before 'example.com' matches no '_'"),
        (r"^https://[\w.]+\.example\.com$", "the regex's [\\w.] before 'example.com' matches no '-'"),
        (r"^https://([a-z]+\.)+example\.com$", "matches no digits, '_' or '-'"),
        (r"^https://([0-9-]+\.)+example\.com$", "matches no letters or '_'"),
    ],
)
def test_regex_a_pattern_would_widen_is_refused_with_the_reason(regex: str, reason: str) -> None:
    with pytest.raises(WiderPattern) as info:
        regex_to_patterns(regex)

    assert reason in info.value.problem
    # What it refuses really is wider: the pattern allows an origin the regex does not.
    [pattern] = [origin for origin in info.value.origins if origin.startswith("https://")]
    wider = [pattern.replace("*.", label) for label in ("a.b.", "a-b.", "a_b.", "a1.", "1.")]
    assert any(not re.match(regex, origin) for origin in wider)


def test_regex_with_digits_in_label_is_refused_not_guessed() -> None:
    conversion = convert_settings(REAL_WORLD["preview_deploys_by_regex"], signal_receivers=0)

    finding = finding_for(
        conversion, "CORS_ALLOWED_ORIGIN_REGEXES", r"^https://deploy-preview-\d+--site\.netlify\.app$"
    )
    assert finding.severity == "refused"
    assert "no exact-origin or *. pattern equivalent" in finding.message
    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://www.example.com"]


def test_urls_regex_is_carried_over_and_default_is_dropped() -> None:
    custom = convert_settings(REAL_WORLD["preview_deploys_by_regex"], signal_receivers=0)
    default = convert_settings({"CORS_URLS_REGEX": r"^.*$"}, signal_receivers=0)

    assert custom.credcors["URLS_REGEX"] == r"^/api/.*$"
    assert "URLS_REGEX" not in default.credcors


def test_compiled_urls_regex_keeps_its_flags_inline() -> None:
    conversion = convert_settings({"CORS_URLS_REGEX": re.compile(r"^/API/", re.IGNORECASE)}, signal_receivers=0)

    pattern = conversion.credcors["URLS_REGEX"]
    assert pattern == "(?i)^/API/"
    assert parse_config(conversion.credcors).applies_to("/api/users")


def test_broken_urls_regex_is_refused_with_check_message() -> None:
    conversion = convert_settings({"CORS_URLS_REGEX": r"^/api/(v1"}, signal_receivers=0)

    assert "URLS_REGEX" not in conversion.credcors
    assert finding_for(conversion, "CORS_URLS_REGEX", r"^/api/(v1").severity == "refused"


def test_allow_all_with_credentials_is_refused_and_allows_nothing() -> None:
    conversion = convert_settings(REAL_WORLD["allow_all_in_production"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOW_ALL_ORIGINS", True)
    assert finding.severity == "refused"
    assert "every site on the internet" in finding.message
    assert conversion.credcors["ALLOWED_ORIGINS"] == []
    assert "*" not in conversion.source_text


def test_allow_all_without_credentials_becomes_a_public_policy() -> None:
    conversion = convert_settings({"CORS_ALLOW_ALL_ORIGINS": True}, signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOW_ALL_ORIGINS", True)
    assert finding.severity == "changed"
    assert '@cors_policy("public")' in finding.hint
    assert conversion.credcors["POLICIES"] == {"public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}}
    assert conversion.credcors["ALLOW_CREDENTIALS"] is False
    assert "ALLOW_ALL_ORIGINS" not in {key for key in conversion.credcors if key != "POLICIES"}
    assert parse_config(conversion.credcors).problems == ()


def test_allow_all_under_urls_regex_names_the_paths_to_mark() -> None:
    settings = {"CORS_ALLOW_ALL_ORIGINS": True, "CORS_URLS_REGEX": r"^/public/"}

    conversion = convert_settings(settings, signal_receivers=0)

    assert conversion.credcors["URLS_REGEX"] == r"^/public/"
    assert "the views under CORS_URLS_REGEX '^/public/'" in finding_for(conversion, "CORS_ALLOW_ALL_ORIGINS", True).hint


def test_legacy_whitelist_is_read_when_new_name_is_absent() -> None:
    conversion = convert_settings(REAL_WORLD["legacy_3x_names"], signal_receivers=0)

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://example.com", "https://admin.example.com"]
    assert severities(conversion, "CORS_ORIGIN_WHITELIST") == ["note", "note"]  # legacy name; trailing slash dropped
    assert severities(conversion, "CORS_REPLACE_HTTPS_REFERER") == ["unsupported"]
    assert severities(conversion, "CORS_ORIGIN_ALLOW_ALL") == ["note"]  # legacy name, False: nothing refused


def test_new_name_wins_over_legacy_alias() -> None:
    conversion = convert_settings(
        {"CORS_ALLOWED_ORIGINS": ["https://new.example.com"], "CORS_ORIGIN_WHITELIST": ["https://old.example.com"]},
        signal_receivers=0,
    )

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://new.example.com"]
    assert "takes precedence" in finding_for(conversion, "CORS_ORIGIN_WHITELIST", ["https://old.example.com"]).message


def test_optional_scheme_regex_keeps_https_and_refuses_insecure_http_with_credentials() -> None:
    conversion = convert_settings(
        {"CORS_ALLOWED_ORIGIN_REGEXES": [r"^https?://(.*\.)?example\.com$"], "CORS_ALLOW_CREDENTIALS": True},
        signal_receivers=0,
    )

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://example.com", "https://*.example.com"]
    refused = [f.message for f in conversion.refused]
    assert len(refused) == 2
    assert all("plain http://" in message for message in refused)


def test_null_origin_is_refused_with_validator_reason() -> None:
    conversion = convert_settings(REAL_WORLD["mobile_webview_null_and_http"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOWED_ORIGINS", "null")
    assert finding.severity == "refused"
    assert "sandboxed frames" in finding.message
    assert "Serve the front end from a real https:// origin" in finding.hint


def test_http_origin_with_credentials_is_refused_with_insecure_hint() -> None:
    conversion = convert_settings(REAL_WORLD["mobile_webview_null_and_http"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOWED_ORIGINS", "http://partner.example.net")
    assert 'Use "https://partner.example.net"' in finding.hint
    assert "ALLOW_INSECURE_ORIGINS" in finding.hint
    # The app shell's origin is an exact origin credcors allows; null stays refused.
    assert conversion.credcors["ALLOWED_ORIGINS"] == ["capacitor://localhost", "https://m.example.com"]
    assert [finding.value for finding in conversion.findings if finding.severity == "refused"] == [
        "null",
        "http://partner.example.net",
    ]


def test_http_origin_without_credentials_is_kept_and_credentials_stay_off() -> None:
    conversion = convert_settings(REAL_WORLD["public_api_without_credentials"], signal_receivers=0)

    assert conversion.credcors["ALLOW_CREDENTIALS"] is False
    assert conversion.credcors["ALLOWED_ORIGINS"] == ["http://partner.example.net", "https://partner.example.net"]
    assert conversion.credcors["PREFLIGHT_MAX_AGE"] == 0
    assert (
        "True if your front end calls the API with credentials"
        in finding_for(conversion, "CORS_ALLOW_CREDENTIALS", None).hint
    )


def test_forbidden_methods_and_headers_are_refused_one_by_one() -> None:
    conversion = convert_settings(REAL_WORLD["headers_and_methods"], signal_receivers=0)

    assert conversion.credcors["ALLOW_METHODS"] == ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
    assert conversion.credcors["ALLOW_HEADERS"] == [
        "accept",
        "authorization",
        "content-type",
        "user-agent",
        "x-csrftoken",
    ]
    assert conversion.credcors["EXPOSE_HEADERS"] == ["Content-Disposition"]
    assert finding_for(conversion, "CORS_ALLOW_METHODS", "TRACE").severity == "refused"
    assert "not a wildcard for credentialed requests" in finding_for(conversion, "CORS_ALLOW_HEADERS", "*").message
    assert "Set-Cookie" in finding_for(conversion, "CORS_EXPOSE_HEADERS", "Set-Cookie").message


def test_max_age_above_browser_caps_is_lowered() -> None:
    conversion = convert_settings(REAL_WORLD["headers_and_methods"], signal_receivers=0)

    assert conversion.credcors["PREFLIGHT_MAX_AGE"] == 86400
    assert finding_for(conversion, "CORS_PREFLIGHT_MAX_AGE", 172800).severity == "changed"


def test_negative_max_age_is_refused_and_default_kept() -> None:
    conversion = convert_settings({"CORS_PREFLIGHT_MAX_AGE": -1}, signal_receivers=0)

    assert "PREFLIGHT_MAX_AGE" not in conversion.credcors
    assert finding_for(conversion, "CORS_PREFLIGHT_MAX_AGE", -1).severity == "refused"


def test_private_network_is_reported_unsupported() -> None:
    conversion = convert_settings(REAL_WORLD["headers_and_methods"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOW_PRIVATE_NETWORK", True)
    assert finding.severity == "unsupported"
    assert "Access-Control-Allow-Private-Network" in finding.message


def test_wildcard_over_public_suffix_from_regex_is_refused() -> None:
    conversion = convert_settings(REAL_WORLD["github_pages_regex"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOWED_ORIGIN_REGEXES", r"^https://.*\.github\.io$")
    assert finding.severity == "refused"
    assert "public suffix" in finding.message
    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://docs.example.com"]


def test_unanchored_regex_is_rewritten_and_the_hole_reported() -> None:
    conversion = convert_settings(REAL_WORLD["github_pages_regex"], signal_receivers=0)

    finding = finding_for(conversion, "CORS_ALLOWED_ORIGIN_REGEXES", r"^https://docs\.example\.com")
    assert finding.severity == "changed"
    assert "https://docs.example.com.evil.com" in finding.message


def test_duplicates_after_canonicalization_are_kept_once() -> None:
    conversion = convert_settings(
        {"CORS_ALLOWED_ORIGINS": ["https://app.example.com", "https://APP.example.com:443"]}, signal_receivers=0
    )

    assert conversion.credcors["ALLOWED_ORIGINS"] == ["https://app.example.com"]
    assert finding_for(conversion, "ALLOWED_ORIGINS", "https://app.example.com").severity == "note"


def test_wrong_types_are_refused_not_converted() -> None:
    conversion = convert_settings(
        {
            "CORS_ALLOWED_ORIGINS": "https://app.example.com",
            "CORS_ALLOWED_ORIGIN_REGEXES": [42],
            "CORS_ALLOW_METHODS": "GET",
            "CORS_ALLOW_CREDENTIALS": "yes",
        },
        signal_receivers=0,
    )

    assert conversion.credcors == {"ALLOWED_ORIGINS": [], "ALLOW_CREDENTIALS": False}
    assert {f.setting for f in conversion.refused} == {
        "CORS_ALLOWED_ORIGINS",
        "CORS_ALLOWED_ORIGIN_REGEXES",
        "CORS_ALLOW_METHODS",
        "CORS_ALLOW_CREDENTIALS",
    }


def test_unknown_cors_setting_is_reported_as_possible_typo() -> None:
    conversion = convert_settings({"CORS_ORIGINS_ALLOWED": ["https://app.example.com"]}, signal_receivers=0)

    assert "typo" in finding_for(conversion, "CORS_ORIGINS_ALLOWED", ["https://app.example.com"]).message
    assert conversion.credcors["ALLOWED_ORIGINS"] == []


def test_django_settings_object_is_read(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.CORS_ALLOW_CREDENTIALS = True
    settings.CORS_ORIGIN_ALOW_ALL = True  # A typo seen in the wild.
    from django.conf import settings as django_settings

    conversion = convert_settings(django_settings, signal_receivers=0)

    assert conversion.credcors == {"ALLOWED_ORIGINS": ["https://app.example.com"], "ALLOW_CREDENTIALS": True}
    assert severities(conversion, "CORS_ORIGIN_ALOW_ALL") == ["note"]


def test_module_like_object_is_read() -> None:
    module = types.SimpleNamespace(CORS_ALLOWED_ORIGINS=["https://app.example.com"], CORS_ALLOW_CREDENTIALS=True)

    assert convert_settings(module, signal_receivers=0).credcors["ALLOWED_ORIGINS"] == ["https://app.example.com"]


def test_connected_check_request_enabled_receiver_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    signal = Signal()

    def enable_everywhere(sender: object, **kwargs: object) -> bool:
        return True

    signal.connect(enable_everywhere, weak=False)
    monkeypatch.setitem(
        __import__("sys").modules, "corsheaders.signals", types.SimpleNamespace(check_request_enabled=signal)
    )

    conversion = convert_settings({"CORS_ALLOWED_ORIGINS": ["https://app.example.com"]})

    assert finding_for(conversion, "check_request_enabled", 1).severity == "unsupported"


def test_no_signal_receivers_means_no_signal_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(__import__("sys").modules, "corsheaders.signals", raising=False)

    conversion = convert_settings({"CORS_ALLOWED_ORIGINS": ["https://app.example.com"]})

    assert severities(conversion, "check_request_enabled") == []


def test_exact_conversion_renders_no_findings_line() -> None:
    conversion = convert_settings(
        {
            "CORS_ALLOWED_ORIGINS": ["https://app.example.com"],
            "CORS_ALLOW_CREDENTIALS": True,
            "CORS_PREFLIGHT_MAX_AGE": 600,
        },
        signal_receivers=0,
    )

    assert conversion.findings == []
    assert "# No findings" in conversion.render()


# The regex translation against the regex itself: every origin a translated
# pattern produces must be matched by the original (re.match, as
# django-cors-headers does), and refused shapes must give None.
TRANSLATABLE = {
    r"^https://([\w-]+\.)+example\.com$": ["https://*.example.com"],
    r"^https://[\w.-]+\.example\.com$": ["https://*.example.com"],
    r"^https://([^.]+\.)*example\.com$": ["https://example.com", "https://*.example.com"],
    r"^https://(.*\.)?example\.com$": ["https://example.com", "https://*.example.com"],
    r"^https://(www\.)?example\.com$": ["https://example.com", "https://www.example.com"],
    r"^https://([\w-]+\.)+preview\.example\.com$": ["https://*.preview.example.com"],
    r"^https://example\.com:8443$": ["https://example.com:8443"],
    r"^(https|http)://api\.example\.com$": ["https://api.example.com", "http://api.example.com"],
    r"^https://example\.com(:\d+)?$": ["https://example.com"],
    r"https://app\.example\.com/?$": ["https://app.example.com"],
}


@pytest.mark.parametrize(("regex", "expected"), TRANSLATABLE.items())
def test_translatable_regex_gives_origins_the_regex_matches(regex: str, expected: list[str]) -> None:
    translation = regex_to_patterns(regex)

    assert translation is not None
    origins, _ = translation
    assert origins == expected
    for origin in origins:
        # Never wider: the regex matches what a pattern allows, at any depth, with any label character.
        for label in ("a.", "a.b.", "a-b.c_d.", "0.x9."):
            assert re.match(regex, origin.replace("*.", label)), (origin, label)
        if "*." in origin:
            assert not re.match(regex, origin.replace("*.", "a.").replace("example", "evilexample"))


@pytest.mark.parametrize(
    "regex",
    [
        r"^http://localhost:\d+$",
        r"^https://app\d+\.example\.com$",
        r"^https://.*$",
        r"^https://(foo|bar)\.example\.com$",
        r"^https://[a-z]+-staging\.example\.com$",
        r"example",
        r"^https://example\.com/path$",
    ],
)
def test_untranslatable_regex_gives_none(regex: str) -> None:
    assert regex_to_patterns(regex) is None


@given(st.lists(st.text(alphabet="htps:/.*exampl0-9A[]^$\\wnul", max_size=30), max_size=6), st.booleans())
def test_any_origin_lists_convert_to_dict_without_check_errors(values: list[str], credentials: bool) -> None:
    conversion = convert_settings(
        {"CORS_ALLOWED_ORIGINS": values, "CORS_ALLOWED_ORIGIN_REGEXES": values, "CORS_ALLOW_CREDENTIALS": credentials},
        signal_receivers=0,
    )

    assert [p for p in parse_config(conversion.credcors).problems if p.is_error] == []


@pytest.mark.parametrize("regex", [r"^/api/v\d+/", '^/say/"hi"/$', "^/it's/", r'^/a\d"b/', "^/tab\t/"])
def test_source_text_round_trips_awkward_strings(regex: str) -> None:
    conversion = convert_settings({"CORS_URLS_REGEX": regex}, signal_receivers=0)
    namespace: dict[str, Any] = {}

    exec(conversion.source_text, namespace)

    assert namespace["CREDCORS"]["URLS_REGEX"] == regex


def test_regexes_given_as_one_string_are_refused() -> None:
    regex = r"^https://\w+\.example\.com$"

    conversion = convert_settings({"CORS_ALLOWED_ORIGIN_REGEXES": regex}, signal_receivers=0)

    assert finding_for(conversion, "CORS_ALLOWED_ORIGIN_REGEXES", regex).severity == "refused"
    assert conversion.credcors["ALLOWED_ORIGINS"] == []


def test_finding_str_names_setting_severity_and_hint() -> None:
    finding = Finding("CORS_ALLOWED_ORIGINS", "null", "refused", "It is null.", "List a real origin.")

    assert str(finding) == "CORS_ALLOWED_ORIGINS 'null': refused: It is null. List a real origin."
    assert str(Finding("CORS_X", 1, "note", "Odd.")) == "CORS_X 1: note: Odd."


@pytest.mark.parametrize(
    ("regex", "expected"),
    [(r"^https://(api\.)example\.com$", ["https://api.example.com"]), (r"^https://(www\.)+example\.com$", None)],
)
def test_literal_label_group_is_translated_only_when_exact(regex: str, expected: list[str] | None) -> None:
    translation = regex_to_patterns(regex)

    assert (translation[0] if translation else None) == expected


def test_regex_with_subdomain_but_no_host_gives_none() -> None:
    assert regex_to_patterns(r"^https://(\w+\.)?$") is None


def test_unescaped_dot_in_regex_is_read_as_a_dot_and_reported() -> None:
    translation = regex_to_patterns(r"^https://api.example.com$")

    assert translation is not None
    assert translation[0] == ["https://api.example.com"]
    assert "matched any character" in translation[1][0]
