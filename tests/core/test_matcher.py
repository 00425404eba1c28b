"""The compiled index: exact origins, ``*.`` patterns, first grant wins, and a reference matcher."""

from __future__ import annotations

import dataclasses
import string
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credcors.core.matcher import Index, compile_index
from credcors.core.origins import OriginError, Rule, parse_rule


class _Grant(NamedTuple):
    """The least an index holds: a rule, its serialization, and where it came from."""

    rule: Rule
    origin: str
    source: str


def _grant(value: str, source: str = "settings") -> _Grant:
    rule = parse_rule(value, allow_insecure=True)
    return _Grant(rule, rule.serialize(), source)


def _compile(*entries: str | tuple[str, str]) -> Index[_Grant]:
    """Compile entries given as "origin" (source "settings") or ("origin", "source")."""
    return compile_index(_grant(*((entry,) if isinstance(entry, str) else entry)) for entry in entries)


def _hit(index: Index[_Grant], origin: str) -> tuple[str, str] | None:
    """The matched grant as (its serialization, its source), for short assertions."""
    grant = index.lookup(origin)
    return None if grant is None else (grant.origin, grant.source)


# --- exact origins ------------------------------------------------------------


def test_lookup_exact_origin_returns_its_grant() -> None:
    index = _compile(("https://app.example.com", "settings"), ("http://localhost:3001", "db:7"))

    grant = index.lookup("https://app.example.com")

    assert grant is not None
    assert grant.rule == parse_rule("https://app.example.com")
    assert grant.source == "settings"
    assert _hit(index, "http://localhost:3001") == ("http://localhost:3001", "db:7")


def test_lookup_exact_ip_origins_returns_them() -> None:
    index = _compile("http://[::1]:8000", "http://127.0.0.1:8000")

    assert _hit(index, "http://[::1]:8000") == ("http://[::1]:8000", "settings")
    assert _hit(index, "http://127.0.0.1:8000") == ("http://127.0.0.1:8000", "settings")
    assert index.lookup("http://[::1]:8001") is None


def test_lookup_exact_canonicalized_entry_matches_browser_form() -> None:
    index = _compile("HTTPS://Bücher.Example:443/")

    assert _hit(index, "https://xn--bcher-kva.example") == ("https://xn--bcher-kva.example", "settings")


@pytest.mark.parametrize("origin", ["https://my_app.example.com", "https://-fc3.example.org", "https://a-.b_.example"])
def test_lookup_exact_origin_with_underscore_or_edge_hyphen_is_found(origin: str) -> None:
    # Browsers send such hosts (WHATWG URL parsing keeps them), so listing one must work.
    index = _compile(origin)

    assert _hit(index, origin) == (origin, "settings")


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
def test_lookup_exact_origin_other_forms_are_refused(origin: str) -> None:
    # Browsers send the serialized form byte for byte; anything else is not it.
    index = _compile("https://app.example.com")

    assert index.lookup(origin) is None


# --- patterns -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.com", True),
        ("https://a.b.example.com", True),
        ("https://x-1.y.z.example.com", True),
        ("https://xn--bcher-kva.example.com", True),
        # WHATWG hosts browsers send: underscores, labels edged with hyphens.
        ("https://a_b.example.com", True),
        ("https://-a.example.com", True),
        ("https://a-.example.com", True),
        ("https://_.example.com", True),
        ("https://1.example.com", True),
        ("https://0x7f.example.com", True),
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
        ("https://a!b.example.com", False),
        ("https://bücher.example.com", False),
        ("https://user@a.example.com", False),
        ("https://a.example.com,https://b.example.com", False),
        ("https://*.example.com", False),
        ("https://" + "a" * 64 + ".example.com", False),  # a 64-octet label
        ("https://" + "a." * 122 + "example.com", False),  # a 255-octet host
    ],
)
def test_lookup_pattern_covers_subdomains_only(origin: str, allowed: bool) -> None:
    index = _compile("https://*.example.com")

    hit = _hit(index, origin)

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
def test_lookup_pattern_with_port_requires_that_port(origin: str, allowed: bool) -> None:
    index = _compile("https://*.example.com:8443")

    assert (index.lookup(origin) is not None) is allowed


def test_lookup_pattern_on_localhost_covers_its_subdomains() -> None:
    index = _compile("http://*.localhost:3000")

    assert _hit(index, "http://app.localhost:3000") == ("http://*.localhost:3000", "settings")
    assert _hit(index, "http://k_.localhost:3000") == ("http://*.localhost:3000", "settings")
    assert index.lookup("http://localhost:3000") is None
    assert index.lookup("http://app.localhost:3001") is None


def test_lookup_pattern_under_a_base_with_underscores_and_edge_hyphens() -> None:
    index = _compile("https://*.my_corp-.example.com")

    assert _hit(index, "https://-x.my_corp-.example.com") == ("https://*.my_corp-.example.com", "settings")
    assert index.lookup("https://my_corp-.example.com") is None


def test_lookup_most_specific_pattern_wins() -> None:
    index = _compile(("https://*.example.com", "broad"), ("https://*.preview.example.com", "narrow"))

    assert _hit(index, "https://pr-1.preview.example.com") == ("https://*.preview.example.com", "narrow")
    assert _hit(index, "https://a.pr-1.preview.example.com") == ("https://*.preview.example.com", "narrow")
    assert _hit(index, "https://preview.example.com") == ("https://*.example.com", "broad")


def test_lookup_exact_entry_wins_over_pattern() -> None:
    index = _compile(("https://*.example.com", "pattern"), ("https://app.example.com", "exact"))

    assert _hit(index, "https://app.example.com") == ("https://app.example.com", "exact")
    assert _hit(index, "https://www.example.com") == ("https://*.example.com", "pattern")


def test_lookup_pattern_is_the_suffix_walk_on_parts() -> None:
    index = _compile(("https://*.example.com:8443", "p"))

    assert index.lookup_pattern("https", "a.b.example.com", 8443) == index.lookup("https://a.b.example.com:8443")
    assert index.lookup_pattern("https", "example.com", 8443) is None
    assert index.lookup_pattern("https", "a.example.com", None) is None
    assert index.lookup_pattern("https", "nodots", 8443) is None


@pytest.mark.parametrize(
    ("base", "origin"),
    [
        ("amazonaws.com", "https://attacker-bucket.s3.amazonaws.com"),  # s3.amazonaws.com beneath
        ("amazonaws.com", "https://app.amazonaws.com"),  # not another owner, but the pattern is gone
        ("fastly.net", "https://x.map.fastly.net"),
        ("github.io", "https://attacker.github.io"),  # a public suffix itself
        ("co.uk", "https://attacker.co.uk"),
        ("com", "https://attacker.com"),
        ("kawasaki.jp", "https://x.city.kawasaki.jp"),  # *.kawasaki.jp with !city.kawasaki.jp
    ],
)
def test_compile_index_leaves_out_a_pattern_that_spans_sites_however_it_was_made(base: str, origin: str) -> None:
    # A Rule built by hand skips parse_rule: the index's own guard decides (issue 21, finding 2).
    rule = Rule("https", base, None, wildcard=True)
    index = compile_index([_Grant(rule, rule.serialize(), "settings"), _grant("https://*.example.com")])

    assert index.lookup(origin) is None
    assert list(index.patterns[("https", None)]) == ["example.com"]
    assert _hit(index, "https://a.b.example.com") == ("https://*.example.com", "settings")


def test_compile_index_first_grant_wins_for_duplicates() -> None:
    index = _compile(
        ("https://app.example.com", "settings"),
        ("https://*.example.com", "settings"),
        ("HTTPS://APP.example.com:443/", "db:1"),
        ("https://*.Example.com", "db:2"),
    )

    assert _hit(index, "https://app.example.com") == ("https://app.example.com", "settings")
    assert _hit(index, "https://b.example.com") == ("https://*.example.com", "settings")
    assert len(index) == 2


def test_compile_index_keys_exact_grants_by_their_origin_string() -> None:
    # Rows arrive with their serialization already made; the index trusts it,
    # so the loader never serializes 100,000 rules again.
    rule = parse_rule("https://app.example.com")
    index = compile_index([_Grant(rule, "https://app.example.com", "db:1")])

    assert index.exact.keys() == {"https://app.example.com"}


def test_compile_index_counts_distinct_rules() -> None:
    index = _compile(
        "https://a.example.com",
        "https://b.example.com",
        "https://*.example.com",
        "https://*.example.com:8443",
        "http://*.localhost",
    )

    assert len(index) == 5


def test_index_iterates_exact_grants_then_patterns() -> None:
    index = _compile("https://*.example.com", "https://a.example.com", "https://*.example.org:8443", "http://localhost")

    assert [grant.origin for grant in index] == [
        "https://a.example.com",
        "http://localhost",
        "https://*.example.com",
        "https://*.example.org:8443",
    ]


def test_empty_index_matches_nothing() -> None:
    empty: Index[_Grant] = Index(exact={}, patterns={})
    for index in (empty, compile_index([])):
        assert len(index) == 0
        assert list(index) == []
        assert index.lookup("https://app.example.com") is None


def test_lookup_without_patterns_for_that_scheme_and_port_is_refused() -> None:
    index = _compile("https://*.example.com")

    assert index.lookup("http://a.example.com") is None
    assert index.lookup("https://a.example.com:1") is None


def test_compiled_index_is_immutable() -> None:
    index = _compile("https://app.example.com", "https://*.example.com")
    grant = _grant("https://evil.com")

    with pytest.raises(TypeError):
        index.exact["https://evil.com"] = grant  # type: ignore[index]
    with pytest.raises(TypeError):
        index.patterns[("https", None)]["evil.com"] = grant  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.exact = {}  # type: ignore[misc]


def test_compile_index_does_not_keep_the_callers_iterable() -> None:
    grants = [_grant("https://app.example.com"), _grant("https://*.example.net")]
    index = compile_index(iter(grants))
    grants.append(_grant("https://evil.example.org"))
    grants.append(_grant("https://*.evil.example.org"))

    assert index.lookup("https://evil.example.org") is None
    assert index.lookup("https://a.evil.example.org") is None


# --- property: agreement with a deliberately simple reference ----------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a label of a browser-serialized host may hold (WHATWG URL, as credcors reads it).
_LABEL_CHARS = frozenset(string.ascii_lowercase + string.digits + "-_")


def _reference_wire_label(label: str) -> bool:
    return 1 <= len(label) <= 63 and set(label) <= _LABEL_CHARS


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


def _reference_match(grants: list[_Grant], origin: str) -> tuple[str, str] | None:
    """Loop over every grant; exact first, else the longest matching pattern, first source on ties."""
    for grant in grants:
        if not grant.rule.wildcard and grant.rule.serialize() == origin:
            return origin, grant.source
    parts = _reference_split(origin)
    if parts is None:
        return None
    scheme, host, port = parts
    best: _Grant | None = None
    for grant in grants:
        rule = grant.rule
        if not rule.wildcard or rule.scheme != scheme or rule.port != port:
            continue
        if host.endswith("." + rule.host) and (best is None or len(rule.host) > len(best.rule.host)):
            best = grant
    return None if best is None else (best.rule.serialize(), best.source)


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
    "a_b",
    "-x",
    "y-",
    "_",
    "0x7f",
    "42",
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
    "edge-hyphen",
    "underscore",
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
    "bang",
]


@st.composite
def _rule_text(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "https", "http"]))
    wildcard = draw(st.integers(0, 2)) > 0  # patterns are where matching is subtle
    labels = draw(st.lists(st.sampled_from(_LABELS), min_size=2 if wildcard else 1, max_size=3))
    port = draw(st.sampled_from(_RULE_PORTS))
    return f"{scheme}://{'*.' if wildcard else ''}{'.'.join(labels)}{'' if port is None else f':{port}'}"


@st.composite
def _grants(draw: st.DrawFn) -> list[_Grant]:
    texts = draw(
        st.lists(st.one_of(_rule_text(), st.sampled_from(["http://[::1]:8000", "http://127.0.0.1"])), max_size=8)
    )
    grants = []
    for index, text in enumerate(texts):
        try:
            grants.append(_grant(text, f"source-{index}"))
        except OriginError:
            continue  # e.g. "*.co.uk" or "app.42"; the validator's refusals are tested elsewhere
    return grants


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


def _build_origin(grants: list[_Grant], spec: _OriginSpec) -> str:
    if spec.from_rule and grants:
        rule = grants[spec.rule_index % len(grants)].rule
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
        elif mutation == "edge-hyphen":
            host = "-" + host
        elif mutation == "underscore":
            host = "_" + host
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
        elif mutation == "bang":
            host = "a!" + host
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
        f"{scheme}://_.{base}{port}",
        f"{scheme}://-x-.{base}{port}",
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
        f"{scheme}://.{base}{port}",
    ]


def test_compiled_index_agrees_with_reference_matcher() -> None:
    outcomes = {"hit": 0, "miss": 0, "pattern-hit": 0}

    @given(_grants(), st.lists(_origin_specs, min_size=1, max_size=8))
    def check(grants: list[_Grant], specs: list[_OriginSpec]) -> None:
        index = compile_index(grants)
        origins = [_build_origin(grants, spec) for spec in specs]
        origins += [origin for grant in grants for origin in _near_misses(grant.rule)]
        for origin in origins:
            expected = _reference_match(grants, origin)
            assert _hit(index, origin) == expected, origin
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
        ("https://a_b.example.com", ("https://*.example.com", "s")),
        ("https://-.example.com", ("https://*.example.com", "s")),
        ("https://example.com", None),
        ("https://evilexample.com", None),
        ("https://a.example.com:443", None),
        ("https://a.example.com:8443", None),
        ("https://A.example.com", None),
        ("https://a.example.com.", None),
        ("https://a!b.example.com", None),
        ("https://a..example.com", None),
    ],
)
def test_reference_matcher_itself_gets_the_obvious_cases_right(origin: str, expected: tuple[str, str] | None) -> None:
    # Guards the oracle: a reference that accepted everything would make the
    # property above meaningless.
    assert _reference_match([_grant("https://*.example.com", "s")], origin) == expected


def test_lookup_stays_right_for_thousands_of_distinct_pattern_origins() -> None:
    # Once a memo lived here; whatever the index keeps, every distinct origin
    # must still get its own answer, on the first and the second asking.
    index = _compile("https://*.example.com")
    origins = [f"https://h{number}.example.com" for number in range(3000)]
    origins += [f"https://h{number}.example.net" for number in range(10)]

    first = [_hit(index, origin) for origin in origins]
    again = [_hit(index, origin) for origin in origins]

    assert first == again
    assert first[:3000] == [("https://*.example.com", "settings")] * 3000
    assert first[3000:] == [None] * 10
