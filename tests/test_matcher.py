"""The compiled allow-list: exact origins, ``*.`` patterns, sources, and a reference matcher."""

from __future__ import annotations

import dataclasses
import string
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credcors.matcher import Matcher, compile_rules
from credcors.origins import OriginError, Rule, parse_rule


def _compile(*entries: str | tuple[str, str]) -> Matcher:
    """Compile entries given as "origin" (source "settings") or ("origin", "source")."""
    pairs = []
    for entry in entries:
        value, source = (entry, "settings") if isinstance(entry, str) else entry
        pairs.append((parse_rule(value, allow_insecure=True), source))
    return compile_rules(pairs)


# --- exact origins ------------------------------------------------------------


def test_match_exact_origin_returns_origin_and_source() -> None:
    matcher = _compile(("https://app.example.com", "settings"), ("http://localhost:3001", "db:7"))

    assert matcher.match("https://app.example.com") == ("https://app.example.com", "settings")
    assert matcher.match("http://localhost:3001") == ("http://localhost:3001", "db:7")


def test_match_exact_ip_origins_returns_them() -> None:
    matcher = _compile("http://[::1]:8000", "http://127.0.0.1:8000")

    assert matcher.match("http://[::1]:8000") == ("http://[::1]:8000", "settings")
    assert matcher.match("http://127.0.0.1:8000") == ("http://127.0.0.1:8000", "settings")
    assert matcher.match("http://[::1]:8001") is None


def test_match_exact_canonicalized_entry_matches_browser_form() -> None:
    matcher = _compile("HTTPS://Bücher.Example:443/")

    assert matcher.match("https://xn--bcher-kva.example") == ("https://xn--bcher-kva.example", "settings")


@pytest.mark.parametrize(
    "origin",
    [
        "https://App.example.com",
        "HTTPS://app.example.com",
        "https://app.example.com/",
        "https://app.example.com:443",
        "https://app.example.com.",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://a.app.example.com",
        "https://example.com",
        "https://evilapp.example.com",
        "https://app.example.com.evil.com",
        "https://app.example.com https://app.example.com",
        "null",
        "",
    ],
)
def test_match_exact_origin_other_forms_are_refused(origin: str) -> None:
    # Browsers send the serialized form byte for byte; anything else is not it.
    matcher = _compile("https://app.example.com")

    assert matcher.match(origin) is None


# --- patterns -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.com", True),
        ("https://a.b.example.com", True),
        ("https://x-1.y.z.example.com", True),
        ("https://xn--bcher-kva.example.com", True),
        ("https://example.com", False),
        ("https://evilexample.com", False),
        ("https://a.evilexample.com", False),
        ("https://example.com.evil.com", False),
        ("https://a.example.com.evil.com", False),
        ("https://a.example.co", False),
        ("https://a.example.comm", False),
        ("http://a.example.com", False),
        ("https://a.example.com:8443", False),
        ("https://a.example.com:443", False),
        ("https://A.example.com", False),
        ("https://a.Example.com", False),
        ("https://a.example.com.", False),
        ("https://a.example.com/", False),
        ("https://.example.com", False),
        ("https://a..example.com", False),
        ("https://-a.example.com", False),
        ("https://a_b.example.com", False),
        ("https://bücher.example.com", False),
        ("https://user@a.example.com", False),
        ("https://a.example.com,https://b.example.com", False),
        ("https://*.example.com", False),
        ("https://" + "a." * 122 + "example.com", False),  # a 255-octet host
    ],
)
def test_match_pattern_covers_subdomains_only(origin: str, allowed: bool) -> None:
    matcher = _compile("https://*.example.com")

    hit = matcher.match(origin)

    assert (hit is not None) is allowed
    if allowed:
        assert hit == ("https://*.example.com", "settings")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.com:8443", True),
        ("https://a.b.example.com:8443", True),
        ("https://a.example.com", False),
        ("https://a.example.com:8444", False),
        ("https://a.example.com:08443", False),
        ("http://a.example.com:8443", False),
        ("https://example.com:8443", False),
    ],
)
def test_match_pattern_with_port_requires_that_port(origin: str, allowed: bool) -> None:
    matcher = _compile("https://*.example.com:8443")

    assert (matcher.match(origin) is not None) is allowed


def test_match_pattern_on_localhost_covers_its_subdomains() -> None:
    matcher = _compile("http://*.localhost:3000")

    assert matcher.match("http://app.localhost:3000") == ("http://*.localhost:3000", "settings")
    assert matcher.match("http://localhost:3000") is None
    assert matcher.match("http://app.localhost:3001") is None


def test_match_most_specific_pattern_wins() -> None:
    matcher = _compile(("https://*.example.com", "broad"), ("https://*.preview.example.com", "narrow"))

    assert matcher.match("https://pr-1.preview.example.com") == ("https://*.preview.example.com", "narrow")
    assert matcher.match("https://a.pr-1.preview.example.com") == ("https://*.preview.example.com", "narrow")
    assert matcher.match("https://preview.example.com") == ("https://*.example.com", "broad")


def test_match_exact_entry_wins_over_pattern() -> None:
    matcher = _compile(("https://*.example.com", "pattern"), ("https://app.example.com", "exact"))

    assert matcher.match("https://app.example.com") == ("https://app.example.com", "exact")
    assert matcher.match("https://www.example.com") == ("https://*.example.com", "pattern")


def test_compile_rules_first_source_wins_for_duplicates() -> None:
    matcher = _compile(
        ("https://app.example.com", "settings"),
        ("https://*.example.com", "settings"),
        ("HTTPS://APP.example.com:443/", "db:1"),
        ("https://*.Example.com", "db:2"),
    )

    assert matcher.match("https://app.example.com") == ("https://app.example.com", "settings")
    assert matcher.match("https://b.example.com") == ("https://*.example.com", "settings")
    assert len(matcher) == 2


def test_compile_rules_exact_origins_come_after_rules() -> None:
    matcher = compile_rules(
        [(parse_rule("https://app.example.com"), "settings")],
        exact_origins=[("https://app.example.com", "db:1"), ("https://b.example.com", "db:2")],
    )

    assert matcher.match("https://app.example.com") == ("https://app.example.com", "settings")
    assert matcher.match("https://b.example.com") == ("https://b.example.com", "db:2")
    assert len(matcher) == 2


def test_compile_rules_counts_distinct_rules() -> None:
    matcher = _compile(
        "https://a.example.com",
        "https://b.example.com",
        "https://*.example.com",
        "https://*.example.com:8443",
        "http://*.localhost",
    )

    assert len(matcher) == 5


def test_empty_matcher_matches_nothing() -> None:
    for matcher in (Matcher(), compile_rules([])):
        assert len(matcher) == 0
        assert matcher.match("https://app.example.com") is None


def test_match_without_patterns_for_that_scheme_and_port_is_refused() -> None:
    matcher = _compile("https://*.example.com")

    assert matcher.match("http://a.example.com") is None
    assert matcher.match("https://a.example.com:1") is None


def test_compiled_matcher_is_immutable() -> None:
    matcher = _compile("https://app.example.com", "https://*.example.com")

    with pytest.raises(TypeError):
        matcher.exact["https://evil.com"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        matcher.patterns[("https", None)]["evil.com"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        matcher.exact = {}  # type: ignore[misc]


def test_compile_rules_does_not_keep_the_callers_iterable() -> None:
    pairs = [(parse_rule("https://app.example.com"), "settings")]
    matcher = compile_rules(iter(pairs))
    pairs.append((parse_rule("https://evil.example.org"), "settings"))

    assert matcher.match("https://evil.example.org") is None


# --- property: agreement with a deliberately simple reference ----------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")


def _reference_wire_label(label: str) -> bool:
    return 1 <= len(label) <= 63 and set(label) <= _LABEL_CHARS and label[0] != "-" and label[-1] != "-"


def _reference_split(origin: str) -> tuple[str, str, int | None] | None:
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    host, colon, port_text = rest.partition(":")
    port = None
    if colon:
        if not port_text or len(port_text) > 5 or not set(port_text) <= set(string.digits) or port_text[0] == "0":
            return None
        port = int(port_text)
        if port > 65535 or port == _DEFAULT_PORTS[scheme]:
            return None
    if len(host) > 253 or not all(_reference_wire_label(label) for label in host.split(".")):
        return None
    return scheme, host, port


def _reference_match(pairs: list[tuple[Rule, str]], origin: str) -> tuple[str, str] | None:
    """Loop over every rule; exact first, else the longest matching pattern, first source on ties."""
    for rule, source in pairs:
        if not rule.wildcard and rule.serialize() == origin:
            return origin, source
    parts = _reference_split(origin)
    if parts is None:
        return None
    scheme, host, port = parts
    best: tuple[Rule, str] | None = None
    for rule, source in pairs:
        if not rule.wildcard or rule.scheme != scheme or rule.port != port:
            continue
        if host.endswith("." + rule.host) and (best is None or len(rule.host) > len(best[0].host)):
            best = (rule, source)
    return None if best is None else (best[0].serialize(), best[1])


_LABELS = [
    "a",
    "b",
    "app",
    "example",
    "evil",
    "evilexample",
    "examplee",
    "com",
    "org",
    "co",
    "uk",
    "xn--bcher-kva",
    "localhost",
    "x-y",
]
_RULE_PORTS = [None, None, 80, 443, 8443, 8000]
_MUTATIONS = [
    "none",
    "none",
    "none",
    "evil-prefix",
    "glued-prefix",
    "evil-suffix",
    "glued-suffix",
    "extra-label",
    "upper",
    "upper-scheme",
    "default-port",
    "other-port",
    "zero-port",
    "drop-port",
    "trailing-slash",
    "trailing-dot",
    "swap-scheme",
    "unicode",
    "userinfo",
    "path",
    "double-dot",
    "two-origins",
    "apex",
]


@st.composite
def _rule_text(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "https", "http"]))
    wildcard = draw(st.integers(0, 2)) > 0  # patterns are where matching is subtle
    labels = draw(st.lists(st.sampled_from(_LABELS), min_size=2 if wildcard else 1, max_size=3))
    port = draw(st.sampled_from(_RULE_PORTS))
    return f"{scheme}://{'*.' if wildcard else ''}{'.'.join(labels)}{'' if port is None else f':{port}'}"


@st.composite
def _rule_pairs(draw: st.DrawFn) -> list[tuple[Rule, str]]:
    texts = draw(
        st.lists(st.one_of(_rule_text(), st.sampled_from(["http://[::1]:8000", "http://127.0.0.1"])), max_size=8)
    )
    pairs = []
    for index, text in enumerate(texts):
        try:
            rule = parse_rule(text, allow_insecure=True)
        except OriginError:
            continue  # e.g. "*.co.uk"; the validator's refusals are tested elsewhere
        pairs.append((rule, f"source-{index}"))
    return pairs


class _OriginSpec(NamedTuple):
    from_rule: bool
    rule_index: int
    extra_labels: list[str]
    scheme: str
    labels: list[str]
    port: int | None
    mutations: list[str]


# Everything is drawn up front and turned into an origin by plain code: far
# cheaper than drawing inside the test, so more cases fit in the same time.
_origin_specs = st.builds(
    _OriginSpec,
    from_rule=st.integers(0, 3).map(bool),
    rule_index=st.integers(0, 7),
    extra_labels=st.lists(st.sampled_from(_LABELS), min_size=1, max_size=2),
    scheme=st.sampled_from(["http", "https"]),
    labels=st.lists(st.sampled_from(_LABELS), min_size=1, max_size=4),
    port=st.sampled_from(_RULE_PORTS),
    mutations=st.lists(st.sampled_from(_MUTATIONS), max_size=2),
)


def _build_origin(pairs: list[tuple[Rule, str]], spec: _OriginSpec) -> str:
    if spec.from_rule and pairs:
        rule = pairs[spec.rule_index % len(pairs)][0]
        scheme, host, port = rule.scheme, rule.host, rule.port
        base = host
        if rule.wildcard:
            host = ".".join([*spec.extra_labels, host])
    else:
        scheme, host, port = spec.scheme, ".".join(spec.labels), spec.port
        base = host.partition(".")[2]
        if port == _DEFAULT_PORTS[scheme]:
            port = None
    port_text = "" if port is None else f":{port}"
    tail = ""
    for mutation in spec.mutations:
        if mutation == "evil-prefix":
            host = "evil" + host
        elif mutation == "glued-prefix":
            host = "evil" + base  # "evilexample.com" against "*.example.com"
        elif mutation == "evil-suffix":
            host += ".evil.com"
        elif mutation == "glued-suffix":
            host += "evil"
        elif mutation == "extra-label":
            host = "x." + host
        elif mutation == "upper":
            host = host.upper()
        elif mutation == "upper-scheme":
            scheme = scheme.upper()
        elif mutation == "default-port":
            port_text = ":443" if scheme == "https" else ":80"
        elif mutation == "other-port":
            port_text = ":8444"
        elif mutation == "zero-port":
            port_text = ":0" + (port_text[1:] or "443")
        elif mutation == "drop-port":
            port_text = ""
        elif mutation == "trailing-slash":
            tail = "/"
        elif mutation == "trailing-dot":
            host += "."
        elif mutation == "swap-scheme":
            scheme = "http" if scheme == "https" else "https"
        elif mutation == "unicode":
            host = host.replace("xn--bcher-kva", "bücher")
        elif mutation == "userinfo":
            host = "user@" + host
        elif mutation == "path":
            tail = "/api"
        elif mutation == "double-dot":
            host = host.replace(".", "..", 1)
        elif mutation == "apex":
            host = base  # "example.com" against "*.example.com"
        elif mutation == "two-origins":
            tail = f", {scheme}://{host}{port_text}"
    return f"{scheme}://{host}{port_text}{tail}"


def _near_misses(rule: Rule) -> list[str]:
    """The origins each rule is most likely to get wrong, checked for every rule drawn."""
    scheme, base = rule.scheme, rule.host
    port = "" if rule.port is None else f":{rule.port}"
    other_scheme = "http" if scheme == "https" else "https"
    default = f":{_DEFAULT_PORTS[scheme]}"
    return [
        f"{scheme}://{base}{port}",
        f"{scheme}://x.{base}{port}",
        f"{scheme}://x.y.{base}{port}",
        f"{scheme}://evil{base}{port}",
        f"{scheme}://x.evil{base}{port}",
        f"{scheme}://x.{base}.evil.com{port}",
        f"{scheme}://x.{base}evil{port}",
        f"{scheme}://X.{base.upper()}{port}",
        f"{scheme.upper()}://x.{base}{port}",
        f"{other_scheme}://x.{base}{port}",
        f"{scheme}://x.{base}{default}",
        f"{scheme}://x.{base}:8444",
        f"{scheme}://x.{base}",
        f"{scheme}://x.{base}{port}/",
        f"{scheme}://x.{base}.{port}",
        f"{scheme}://x..{base}{port}",
    ]


def test_compiled_matcher_agrees_with_reference_matcher() -> None:
    outcomes = {"hit": 0, "miss": 0, "pattern-hit": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_rule_pairs(), st.lists(_origin_specs, min_size=1, max_size=8))
    def check(pairs: list[tuple[Rule, str]], specs: list[_OriginSpec]) -> None:
        matcher = compile_rules(pairs)
        origins = [_build_origin(pairs, spec) for spec in specs]
        origins += [origin for rule, _ in pairs for origin in _near_misses(rule)]
        for origin in origins:
            expected = _reference_match(pairs, origin)
            assert matcher.match(origin) == expected, origin
            outcomes["miss" if expected is None else "hit"] += 1
            if expected is not None and "*." in expected[0]:
                outcomes["pattern-hit"] += 1

    check()
    # Both answers, and pattern hits in particular, must have been exercised.
    assert outcomes["hit"] >= 100
    assert outcomes["pattern-hit"] >= 50
    assert outcomes["miss"] >= 100


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://a.example.com", ("https://*.example.com", "s")),
        ("https://example.com", None),
        ("https://evilexample.com", None),
        ("https://a.example.com:443", None),
        ("https://a.example.com:8443", None),
        ("https://A.example.com", None),
        ("https://a.example.com.", None),
    ],
)
def test_reference_matcher_itself_gets_the_obvious_cases_right(origin: str, expected: tuple[str, str] | None) -> None:
    # Guards the oracle: a reference that accepted everything would make the
    # property above meaningless.
    assert _reference_match([(parse_rule("https://*.example.com"), "s")], origin) == expected


def test_pattern_answers_stay_right_and_bounded_past_the_memo_size() -> None:
    from credcors.matcher import _PATTERN_MEMO_SIZE

    matcher = compile_rules([(parse_rule("https://*.example.com"), "settings")])
    origins = [f"https://h{index}.example.com" for index in range(_PATTERN_MEMO_SIZE + 10)]
    origins += [f"https://h{index}.example.net" for index in range(10)]

    first = [matcher.match(origin) for origin in origins]
    again = [matcher.match(origin) for origin in origins]

    assert first == again
    assert first[0] == ("https://*.example.com", "settings")
    assert first[-1] is None
    assert len(matcher._pattern_memo) <= _PATTERN_MEMO_SIZE
