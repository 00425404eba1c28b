"""The one origin validator: canonical forms, refusals and their messages, wire splitting."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credcors.origins import (
    MAX_ORIGIN_LENGTH,
    OriginError,
    Rule,
    is_canonical_exact_origin,
    is_potentially_trustworthy_host,
    parse_rule,
    registrable_domain,
    split_wire_origin,
)

# --- canonicalization -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://localhost:80", "http://localhost"),
        ("https://example.com:08443", "https://example.com:8443"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://localhost:3001", "http://localhost:3001"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://BÜCHER.example", "https://xn--bcher-kva.example"),
        ("https://bücher\u3002example", "https://xn--bcher-kva.example"),
        ("https://XN--BCHER-KVA.example", "https://xn--bcher-kva.example"),
        ("https://*.bücher.example", "https://*.xn--bcher-kva.example"),
        ("https://*.Example.com:443/", "https://*.example.com"),
        ("https://*.example.com:8443", "https://*.example.com:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11", "https://127.0.0.1"),
        # Numbers anywhere but the last label keep a host a domain (URL standard).
        ("https://0x7f.1.example", "https://0x7f.1.example"),
        ("https://app.0xg", "https://app.0xg"),
        ("https://*.123.example.com", "https://*.123.example.com"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("https://[2001:db8:0:0:1:0:0:1]", "https://[2001:db8::1:0:0:1]"),
        ("https://[1:0:0:2:0:0:0:3]", "https://[1:0:0:2::3]"),
        ("https://[1:0:2:3:4:5:6:7]", "https://[1:0:2:3:4:5:6:7]"),
        ("https://[0::0]", "https://[::]"),
        ("https://[1::]", "https://[1::]"),
        # The URL standard serializes IPv4-mapped addresses in hex, as browsers send them.
        ("https://[::ffff:127.0.0.1]", "https://[::ffff:7f00:1]"),
    ],
)
def test_parse_rule_accepted_value_is_canonicalized(value: str, canonical: str) -> None:
    rule = parse_rule(value)

    assert rule.serialize() == canonical
    assert str(rule) == canonical


def test_parse_rule_pattern_is_split_into_base_host_and_wildcard() -> None:
    rule = parse_rule("https://*.Preview.Example.com:8443/")

    assert rule == Rule(scheme="https", host="preview.example.com", port=8443, wildcard=True)
    assert rule.key == ("https", 8443)


def test_parse_rule_exact_origin_has_no_wildcard_and_default_port_none() -> None:
    rule = parse_rule("https://app.example.com:443")

    assert rule == Rule(scheme="https", host="app.example.com", port=None, wildcard=False)
    assert rule.key == ("https", None)


def test_rule_is_immutable() -> None:
    rule = parse_rule("https://app.example.com")

    with pytest.raises(AttributeError):
        rule.host = "evil.com"  # type: ignore[misc]


# --- refusals ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("*", "every site on the internet"),
        (" * ", "every site on the internet"),
        ("null", "sandboxed frames"),
        ("NULL", "sandboxed frames"),
        ("", "it is empty"),
        ("file:///etc/passwd", "the 'file' scheme cannot"),
        ("data:text/html,<b>hi</b>", "the 'data' scheme cannot"),
        ("javascript:alert(1)", "the 'javascript' scheme cannot"),
        ("blob:https://example.com/0b7e7f1c", "the 'blob' scheme cannot"),
        ("ftp://example.com", "the 'ftp' scheme cannot"),
        ("wss://example.com", "the 'wss' scheme cannot"),
        ("example.com", "it has no scheme"),
        ("localhost:3000", "it has no scheme"),
        ("//example.com", "it has no scheme"),
        ("[::1]:8000", "it has no scheme"),
        ("https:example.com", "'//' is missing after 'https:'"),
        ("https:/example.com", "'//' is missing after 'https:'"),
        ("https://example.com/path", "it has a path"),
        ("https://example.com//", "it has a path"),
        ("https://example.com/?", "it has a path"),
        ("https://example.com?x=1", "it has a query"),
        ("https://example.com#top", "it has a fragment"),
        ("https://user:secret@example.com", "userinfo"),
        ("https://user@example.com", "userinfo"),
        ("https:// example.com", "whitespace or control characters"),
        (" https://example.com", "whitespace or control characters"),
        ("https://example.com\t", "whitespace or control characters"),
        ("https://example.com\r\nSet-Cookie: a=b", "whitespace or control characters"),
        ("https://exa\x00mple.com", "whitespace or control characters"),
        ("https://exa\u200bmple.com", "whitespace or control characters"),
        ("https://exa\u00a0mple.com", "whitespace or control characters"),
        ("https://a.example.com,https://b.example.com", "contains a comma"),
        ("https://a.example.com,", "contains a comma"),
        ("^https://.*\\.example\\.com$", "looks like a regular expression"),
        ("https://.*\\.example\\.com", "looks like a regular expression"),
        ("https?://example.com", "looks like a regular expression"),
        ("https://(app|www).example.com", "looks like a regular expression"),
        ("https://app.example.com$", "looks like a regular expression"),
        ("https://[a-z]+.example.com", "looks like a regular expression"),
        ("https://a*.example.com", "'*' may only stand as one whole leading label"),
        ("https://*.*.example.com", "'*' may only stand as one whole leading label"),
        ("https://example.*", "'*' may only stand as one whole leading label"),
        ("https://*example.com", "'*' may only stand as one whole leading label"),
        ("https://app.*.example.com", "'*' may only stand as one whole leading label"),
        ("https://*", "'*' may only stand as one whole leading label"),
        ("https://*.com", "would cover a whole top-level domain"),
        ("https://*.co.uk", "public suffix 'co.uk'"),
        ("https://*.github.io", "public suffix 'github.io'"),
        ("https://*.公司.cn", "public suffix 'xn--55qx5d.cn'"),
        ("https://*.xn--55qx5d.cn", "public suffix 'xn--55qx5d.cn'"),
        ("https://example.com:0", "'0' is not a port (1-65535)"),
        ("https://example.com:65536", "'65536' is not a port (1-65535)"),
        ("https://example.com:abc", "'abc' is not a port (1-65535)"),
        ("https://example.com:", "'' is not a port (1-65535)"),
        ("https://example.com:-1", "'-1' is not a port (1-65535)"),
        ("https://example.com:\u0663", "is not a port (1-65535)"),
        ("https://", "it has no host"),
        ("https:///", "it has no host"),
        ("https://:8443", "it has no host"),
        ("https://*.", "it has no host"),
        ("https://example.com.", "the host ends with a dot"),
        ("https://1.2.3", "'1.2.3' is not a dotted-quad IPv4 address"),
        ("https://256.0.0.1", "is not a dotted-quad IPv4 address"),
        # URL standard: a last label that is a number sends the host to the
        # IPv4 parser, so none of these can appear in an Origin as written.
        ("https://0x7f.1", "'0x7f.1' ends in a number, so browsers read it as an IPv4 address"),
        ("https://0x7f000001", "ends in a number"),
        ("https://app.example.0x", "ends in a number"),
        ("https://app.1", "ends in a number"),
        ("https://*.example.123", "ends in a number"),
        ("https://\uff41\uff50\uff50.\uff11", "ends in a number"),
        ("https://*.1.2.3.4", "a wildcard cannot apply to an IP address"),
        ("https://*.[::1]:8443", "a wildcard cannot apply to an IP address"),
        ("https://[::1", "missing its ']'"),
        ("https://[::1]x", "unexpected text after the IPv6 address"),
        ("https://[::g]", "is not an IPv6 address"),
        ("https://[1.2.3.4]", "is not an IPv6 address"),
        ("https://[fe80::1%25eth0]", "is not an IPv6 address"),
        ("https://a_b.example.com", "is not a valid host name"),
        ("https://-app.example.com", "is not a valid host name"),
        ("https://app..example.com", "is not a valid host name"),
        ("https://a;b.example.com", "is not a valid host name"),
        ("https://" + "a" * 64 + ".example.com", "is not a valid host name"),
        ("https://" + ("a" * 63 + ".") * 4 + "com", "is not a valid host name"),
        ("https://xn--zz.example", "is not a valid internationalized host name"),
        ("https://\U0001f4a9.example", "is not a valid internationalized host name"),
        ("https://" + "a" * MAX_ORIGIN_LENGTH, "longer than any origin can be"),
    ],
)
def test_parse_rule_refused_value_raises_origin_error_naming_the_problem(value: str, problem: str) -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule(value)

    error = excinfo.value
    assert problem in error.problem
    assert error.value == value
    assert error.hint
    assert error.message.startswith(f"{value!r} is not an allowed origin: ")
    assert error.hint in error.message


def test_origin_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="every site"):
        parse_rule("*")


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("example.com", '"https://example.com"'),
        ("example.com/", '"https://example.com"'),
        ("https:example.com", '"https://example.com"'),
        ("https://example.com/api/v1", '"https://example.com"'),
        ("https://example.com?next=/", '"https://example.com"'),
        ("https://example.com.", "'example.com'"),
        ("http://app.example.com/", '"https://app.example.com"'),
        ("http://app.example.com", "ALLOW_INSECURE_ORIGINS"),
    ],
)
def test_parse_rule_refusal_hint_says_what_to_write(value: str, hint: str) -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule(value)

    assert hint in excinfo.value.hint


def test_parse_rule_message_never_carries_raw_control_characters() -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule("https://app.example.com\r\nSet-Cookie: a=b")

    text = f"{excinfo.value.message} {excinfo.value}"
    assert "\r" not in text
    assert "\n" not in text


@pytest.mark.parametrize("value", [None, 42, b"https://example.com", ["https://example.com"]])
def test_parse_rule_non_string_raises_origin_error_naming_the_type(value: object) -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule(value)

    assert type(value).__name__ in excinfo.value.problem


# --- plain http and loopback ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://example.com",
        "http://app.example.com:8080",
        "http://*.example.com",
        "http://10.0.0.1",
        "http://0.0.0.0:8000",
        "http://[::2]",
        "http://[::ffff:127.0.0.1]",
        "http://localhost.example.com",
        "http://l\u043ecalhost",  # a Cyrillic o: not localhost
    ],
)
def test_parse_rule_insecure_http_with_credentials_is_refused(value: str) -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule(value)

    assert "plain http:// origins" in excinfo.value.problem


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("http://localhost", "http://localhost"),
        ("HTTP://LOCALHOST:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.1.2.3", "http://127.1.2.3"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://app.localhost:3000", "http://app.localhost:3000"),
        ("http://*.localhost:3000", "http://*.localhost:3000"),
    ],
)
def test_parse_rule_loopback_http_with_credentials_is_allowed(value: str, canonical: str) -> None:
    assert parse_rule(value).serialize() == canonical


@pytest.mark.parametrize(
    "options", [{"allow_insecure": True}, {"credentials": False}, {"allow_insecure": True, "credentials": False}]
)
def test_parse_rule_insecure_http_is_allowed_when_risk_accepted_or_no_credentials(options: dict[str, bool]) -> None:
    assert parse_rule("http://App.Example.com:80/", **options).serialize() == "http://app.example.com"
    assert parse_rule("http://*.example.com", **options) == Rule("http", "example.com", None, wildcard=True)


def test_parse_rule_allow_insecure_does_not_lift_other_refusals() -> None:
    with pytest.raises(OriginError, match="public suffix"):
        parse_rule("http://*.co.uk", allow_insecure=True, credentials=False)


@pytest.mark.parametrize(
    ("host", "trustworthy"),
    [
        ("localhost", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("[::1]", True),
        ("[0:0:0:0:0:0:0:1]", True),
        ("[::ffff:7f00:1]", False),
        ("[::2]", False),
        ("0.0.0.0", False),
        ("128.0.0.1", False),
        ("localhost.example.com", False),
        ("example.com", False),
        ("[not-an-address]", False),
    ],
)
def test_is_potentially_trustworthy_host_only_loopback(host: str, trustworthy: bool) -> None:
    assert is_potentially_trustworthy_host(host) is trustworthy


# --- the wire form ------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "parts"),
    [
        ("https://example.com", ("https", "example.com", None)),
        ("http://a.b.example.com:8000", ("http", "a.b.example.com", 8000)),
        ("https://xn--bcher-kva.example:65535", ("https", "xn--bcher-kva.example", 65535)),
        ("https://example.com:1", ("https", "example.com", 1)),
        ("https://example.com:443", None),
        ("http://example.com:80", None),
        ("https://example.com:0443", None),
        ("https://example.com:0", None),
        ("https://example.com:65536", None),
        ("https://example.com:123456", None),
        ("https://Example.com", None),
        ("HTTPS://example.com", None),
        ("https://example.com/", None),
        ("https://example.com.", None),
        ("https://bücher.example", None),
        ("https://a..example.com", None),
        ("https://-a.example.com", None),
        ("https://user@example.com", None),
        ("http://[::1]:8000", None),
        ("ftp://example.com", None),
        ("null", None),
        ("", None),
        ("https://" + "a." * 126 + "com", None),
    ],
)
def test_split_wire_origin_accepts_only_browser_serialized_origins(
    origin: str, parts: tuple[str, str, int | None] | None
) -> None:
    assert split_wire_origin(origin) == parts


def test_split_wire_origin_longest_host_is_accepted() -> None:
    host = "a." * 125 + "com"  # 253 octets, the DNS maximum
    assert len(host) == 253

    assert split_wire_origin(f"https://{host}") == ("https", host, None)


def test_max_origin_length_fits_longest_serialized_origin() -> None:
    longest = "https://" + "a." * 125 + "com" + ":65535"

    assert len(longest) == MAX_ORIGIN_LENGTH
    assert parse_rule(longest).serialize() == longest


# --- properties ---------------------------------------------------------------

_SCHEMES = ["https", "http", "HTTPS", "Http"]
_LABELS = ["a", "app", "Example", "com", "co", "uk", "bücher", "xn--bcher-kva", "localhost", "127", "0", "1", "b-c"]
_PORTS = ["", ":80", ":443", ":8443", ":08443", ":0", ":65535", ":65536"]


@st.composite
def _origin_like(draw: st.DrawFn) -> str:
    """Strings shaped like allow-list entries, many of them valid, some near misses."""
    scheme = draw(st.sampled_from(_SCHEMES))
    wildcard = draw(st.sampled_from(["", "", "*."]))
    labels = draw(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=4))
    separator = draw(st.sampled_from([".", ".", "\u3002"]))
    port = draw(st.sampled_from(_PORTS))
    tail = draw(st.sampled_from(["", "", "/", "//", "."]))
    return f"{scheme}://{wildcard}{separator.join(labels)}{port}{tail}"


def test_parse_rule_serialization_is_a_fixed_point() -> None:
    accepted: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_origin_like())
    def check(value: str) -> None:
        try:
            rule = parse_rule(value, allow_insecure=True)
        except OriginError:
            return
        accepted.append(value)
        canonical = rule.serialize()
        again = parse_rule(canonical, allow_insecure=True)
        assert again == rule
        assert again.serialize() == canonical
        assert canonical == canonical.lower()
        assert canonical.isascii()
        assert not canonical.endswith(("/", "."))

    check()
    # The property must have been exercised, not vacuously true.
    assert len(accepted) >= 50


@pytest.mark.parametrize(
    "value", ["https://app.example.com", "https://app.example.com:8443", "https://a-1.b.example.org"]
)
def test_is_canonical_exact_origin_plain_canonical_origin_is_recognized(value: str) -> None:
    assert is_canonical_exact_origin(value) is True


@settings(max_examples=300, deadline=None)
@given(st.one_of(_origin_like(), st.text(max_size=30)), st.booleans(), st.booleans())
def test_is_canonical_exact_origin_true_only_where_parse_rule_keeps_the_value(
    value: str, allow_insecure: bool, credentials: bool
) -> None:
    if not is_canonical_exact_origin(value, allow_insecure=allow_insecure, credentials=credentials):
        return
    rule = parse_rule(value, allow_insecure=allow_insecure, credentials=credentials)
    assert rule.wildcard is False
    assert rule.serialize() == value


_NOISE = st.sampled_from(
    [
        *[
            "https://",
            "http://",
            "*.",
            ".",
            ":",
            "/",
            "[",
            "]",
            "::1",
            "@",
            "?",
            "#",
            ",",
            "example",
            "com",
            "xn--",
            "bücher",
            "9",
            "65536",
            "*",
        ],
        " ",
        "\x00",
        "\n",
        "%",
        "\u3002",
        "\uff11",
        "\u200d",
        "\u0345",
        "\ufb00",
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_NOISE, max_size=12).map("".join), _origin_like()))
def test_parse_rule_any_text_returns_rule_or_raises_origin_error(value: str) -> None:
    refusal: OriginError | None = None
    try:
        rule = parse_rule(value)
    except OriginError as error:
        refusal = error
    if refusal is not None:
        assert refusal.problem
        assert refusal.hint
    else:
        assert parse_rule(rule.serialize()) == rule


@settings(max_examples=500, deadline=None)
@given(st.ip_addresses(v=6))
def test_parse_rule_ipv6_matches_rfc5952_compression(address: ipaddress.IPv6Address) -> None:
    # Python's own compression follows the same rules as the URL standard,
    # except for IPv4-mapped addresses, which newer Pythons print dotted.
    rule = parse_rule(f"https://[{address.exploded.upper()}]:8443")

    if address.ipv4_mapped is None:
        assert rule.host == f"[{address.compressed}]"
    assert ipaddress.IPv6Address(rule.host[1:-1]) == address
    assert rule.port == 8443


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("api.example.co.uk", "example.co.uk"),
        ("example.com", "example.com"),
        ("localhost", "localhost"),
        ("app.localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("x.vercel.app", "x.vercel.app"),
        ("vercel.app", "vercel.app"),
    ],
)
def test_registrable_domain_names_the_site(host: str, site: str) -> None:
    assert registrable_domain(host) == site
