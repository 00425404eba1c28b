"""The fast paths added for speed agree with the slow, obviously-right code they skip.

- ``origins._parse_canonical`` / ``is_canonical_exact_origin`` (loading many
  canonical rows) against the full validator ``origins._parse_rule_full``;
- the C-speed ``Access-Control-Request-Headers`` parser against the plain
  per-name loop it replaced;
- the per-policy memo of allowed decisions against deciding afresh.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from credcors.matcher import compile_rules
from credcors.origins import (
    OriginError,
    Rule,
    _parse_canonical,
    _parse_rule_full,
    is_canonical_exact_origin,
    parse_rule,
)
from credcors.policy import Policy, decide, parse_request_headers

SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLAGS = st.sampled_from([(False, True), (True, True), (False, False), (True, False)])

# Near-canonical origins: the inputs where a wrong fast path would hide.
_label = st.one_of(
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True),
    st.sampled_from(
        [
            "xn--bcher-kva",
            "xn--zz",
            "localhost",
            "com",
            "co",
            "uk",
            "github",
            "io",
            "-a",
            "a-",
            "A",
            "ü",
            "1",
            "255",
            "256",
            "0",
            "0x",
            "0x7f",
            "0xg",
            "x" * 63,
            "y" * 64,
            "",
        ]
    ),
)
_host = st.lists(_label, min_size=1, max_size=5).map(".".join)
_port = st.one_of(st.none(), st.sampled_from(["80", "443", "0", "08443", "8443", "65535", "65536", "99999", "1", ""]))


@st.composite
def near_canonical(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "http", "HTTPS", "ftp", "ws"]))
    star = draw(st.sampled_from(["", "", "*.", "*"]))
    port = draw(_port)
    tail = draw(st.sampled_from(["", "", "/", "?", " ", "."]))
    return f"{scheme}://{star}{draw(_host)}{'' if port is None else ':' + port}{tail}"


def _full(value: str, allow_insecure: bool, credentials: bool) -> Rule | None:
    try:
        return _parse_rule_full(value, allow_insecure=allow_insecure, credentials=credentials)
    except OriginError:
        return None


@SLOW
@given(value=st.one_of(near_canonical(), st.text(max_size=40)), flags=FLAGS)
def test_fast_path_answers_only_with_the_full_validators_rule(value: str, flags: tuple[bool, bool]) -> None:
    allow_insecure, credentials = flags
    fast = _parse_canonical(value, allow_insecure, credentials)
    if fast is not None:
        assert fast == _full(value, allow_insecure, credentials)
        assert fast.serialize() == value


@SLOW
@given(value=st.one_of(near_canonical(), st.text(max_size=40)), flags=FLAGS)
def test_is_canonical_exact_origin_true_only_for_unchanged_exact_origins(value: str, flags: tuple[bool, bool]) -> None:
    allow_insecure, credentials = flags
    if is_canonical_exact_origin(value, allow_insecure=allow_insecure, credentials=credentials):
        rule = _full(value, allow_insecure, credentials)
        assert rule is not None
        assert not rule.wildcard
        assert rule.serialize() == value


@SLOW
@given(value=near_canonical(), flags=FLAGS)
def test_parse_rule_refuses_exactly_what_the_full_validator_refuses(value: str, flags: tuple[bool, bool]) -> None:
    allow_insecure, credentials = flags
    expected = _full(value, allow_insecure, credentials)
    if expected is None:
        with pytest.raises(OriginError):
            parse_rule(value, allow_insecure=allow_insecure, credentials=credentials)
    else:
        assert parse_rule(value, allow_insecure=allow_insecure, credentials=credentials) == expected


@pytest.mark.parametrize(
    "value",
    [
        "https://*.com",  # public suffix
        "https://*.github.io",
        "http://app.example.com",  # plain http with credentials
        "https://127.0.0.1",  # IP: the long road
        "https://1.2.3",
        "https://app.1",  # ends in a number: the IPv4 parser's, not a domain
        "https://app.0x7f",
        "https://xn--zz.example",  # punycode: the long road
        "https://example.com:443",  # default port spelled out
        "https://example.com:0443",
        "https://*.localhost",
    ],
)
def test_fast_path_leaves_unusual_values_to_the_full_validator(value: str) -> None:
    assert _parse_canonical(value, False, True) is None
    assert not is_canonical_exact_origin(value)


def test_compile_rules_exact_origins_come_after_rules() -> None:
    rule = parse_rule("https://app.example.com")
    matcher = compile_rules(
        [(rule, "settings")], [("https://app.example.com", "row 1"), ("https://b.example", "row 2")]
    )
    assert matcher.match("https://app.example.com") == ("https://app.example.com", "settings")
    assert matcher.match("https://b.example") == ("https://b.example", "row 2")
    assert len(matcher) == 2


# --- Access-Control-Request-Headers ----------------------------------------

_REFERENCE_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def reference_parse_request_headers(value: str) -> list[str] | None:
    names = []
    for part in value.split(","):
        name = part.strip(" \t")
        if not name:
            continue
        if _REFERENCE_TOKEN_RE.fullmatch(name) is None:
            return None
        names.append(name.lower())
    return names


_header_text = st.text(alphabet=st.sampled_from(list('aB-x_!,, \t\r\n;:"ü0')), max_size=30)
_header_list = st.lists(
    st.sampled_from(["accept", "Content-Type", "x-csrftoken", "x-custom", " a ", "\tb", "", "c d", "é", "x:y"]),
    max_size=12,
).map(",".join)


@SLOW
@given(value=st.one_of(_header_text, _header_list))
def test_parse_request_headers_matches_the_reference(value: str) -> None:
    assert parse_request_headers(value) == reference_parse_request_headers(value)


POLICY_ARGS = {"allow_methods": ["GET", "PUT"], "allow_headers": ["accept", "content-type", "x-csrftoken"]}


def _policy() -> Policy:
    rules = [(parse_rule("https://app.example.com"), "settings"), (parse_rule("https://*.example.org"), "settings")]
    return Policy.build(compile_rules(rules), **POLICY_ARGS)  # type: ignore[arg-type]


def reference_header_verdict(value: str, allowed: frozenset[str]) -> tuple[str, str | None]:
    names = reference_parse_request_headers(value)
    if names is None:
        return ("malformed-request-headers", None)
    for name in names:
        if name not in allowed:
            return ("header-not-allowed", name)
    return ("allowed", ", ".join(dict.fromkeys(names)) or None)


@SLOW
@given(
    value=st.one_of(
        _header_text, _header_list, st.lists(st.sampled_from(["accept", "x", "a b"]), max_size=30).map(",".join)
    )
)
def test_preflight_header_verdict_matches_the_reference(value: str) -> None:
    assume(value)
    policy = _policy()
    decision = decide(policy, "OPTIONS", "https://app.example.com", "PUT", value)
    reason, detail = reference_header_verdict(value, policy.allow_headers)
    assert decision.reason.value == reason
    if reason == "header-not-allowed":
        assert decision.detail == detail
    if reason == "allowed":
        assert dict(decision.headers).get("access-control-allow-headers") == detail


@SLOW
@given(
    method=st.sampled_from(["GET", "OPTIONS", "POST"]),
    origin=st.one_of(
        st.none(),
        st.sampled_from(["https://app.example.com", "https://a.example.org", "https://evil.example", "null", "x"]),
    ),
    request_method=st.one_of(st.none(), st.sampled_from(["PUT", "DELETE", "put", "X" * 70])),
    request_headers=st.one_of(st.none(), _header_list, st.just("a," * 3000)),
)
def test_memoized_decisions_equal_fresh_ones(
    method: str, origin: str | None, request_method: str | None, request_headers: str | None
) -> None:
    policy = _policy()
    first = decide(policy, method, origin, request_method, request_headers)
    again = decide(policy, method, origin, request_method, request_headers)
    fresh = decide(_policy(), method, origin, request_method, request_headers)
    assert first == again == fresh


def test_memo_stays_bounded_under_endless_distinct_origins() -> None:
    policy = _policy()
    for index in range(3000):
        assert decide(policy, "GET", f"https://a{index}.example.org").allowed
    assert 0 < len(policy._memo) <= 1024
