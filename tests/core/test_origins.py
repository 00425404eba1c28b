"""The one origin validator: canonical forms, refusals, its private fast path, wire splitting,
and agreement with a WHATWG URL parser (ada-url) on what browsers send."""

from __future__ import annotations

import ipaddress

import ada_url
import idna
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from credcors.core import origins
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Headers
from credcors.core.hosts import is_potentially_trustworthy_host, registrable_domain
from credcors.core.origin_header import MAX_ORIGIN_LENGTH, OriginShape, classify_origin, split_wire_origin
from credcors.core.origins import OriginError, Rule, parse_rule
from credcors.core.snapshot import Snapshot, compile_policy, compile_snapshot
from tests.conftest import examples

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
        # WHATWG URL hosts that browsers send: underscores, labels edged with
        # hyphens, "--" in third and fourth place (issue 11).
        ("https://my_app.example.com", "https://my_app.example.com"),
        ("https://My_App.Example.com", "https://my_app.example.com"),
        ("https://-fc3.example.org", "https://-fc3.example.org"),
        ("https://a-.b-.example", "https://a-.b-.example"),
        ("https://_.example", "https://_.example"),
        ("https://ab--cd.example", "https://ab--cd.example"),
        ("http://k_.localhost:3000", "http://k_.localhost:3000"),
        ("https://*._internal.example.com", "https://*._internal.example.com"),
        ("https://*.-edge-.example.com:8443", "https://*.-edge-.example.com:8443"),
        ("https://" + "a" * 63 + ".example.com", "https://" + "a" * 63 + ".example.com"),
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
        ("https://*.amazonaws.com", "would allow hosts under 's3.amazonaws.com', a public suffix anyone can"),
        ("https://*.AmazonAWS.com:8443", "would allow hosts under 's3.amazonaws.com'"),
        ("http://*.fastly.net", "would allow hosts under 'map.fastly.net'"),
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
        ("https://app..example.com", "is not a valid host name"),
        ("https://.example.com", "is not a valid host name"),
        ("https://a!b.example.com", "is not a valid host name"),
        ("https://a=b.example.com", "is not a valid host name"),
        ("https://a%41.example.com", "is not a valid host name"),
        ("https://*.a!b.example.com", "is not a valid host name"),
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


def test_pattern_over_private_suffixes_is_refused_naming_one_and_suggesting_exact_origins() -> None:
    with pytest.raises(OriginError) as excinfo:
        parse_rule("https://*.amazonaws.com")

    assert excinfo.value.message == (
        "'https://*.amazonaws.com' is not an allowed origin: https://*.amazonaws.com would allow hosts under "
        "'s3.amazonaws.com', a public suffix anyone can register under; wildcards spanning a public suffix are "
        "refused. List exact origins instead, one for each host you use under 'amazonaws.com': "
        "'s3.amazonaws.com' is on the Public Suffix List, so the hosts beneath it belong to different owners."
    )


@pytest.mark.parametrize(
    "value",
    ["https://*.example.com", "https://*.app.amazonaws.com", "https://*.city.kawasaki.jp", "https://*.localhost"],
)
def test_pattern_over_a_domain_of_one_owner_is_accepted(value: str) -> None:
    assert parse_rule(value).serialize() == value


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
        ("https://-a.example.com", ("https", "-a.example.com", None)),
        ("https://a_.b-.example.com", ("https", "a_.b-.example.com", None)),
        ("http://k_.localhost:3000", ("http", "k_.localhost", 3000)),
        ("https://a!b.example.com", None),
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
_LABELS = [
    "a",
    "app",
    "Example",
    "com",
    "co",
    "uk",
    "bücher",
    "xn--bcher-kva",
    "localhost",
    "127",
    "0",
    "1",
    "b-c",
    "a_b",
    "-x",
    "y-",
]
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
    assert len(accepted) >= examples(1 / 6)


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


# --- classifying a request's Origin ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("https://app.example.com", OriginShape.SERIALIZED),
        ("http://k_.localhost:3000", OriginShape.SERIALIZED),
        ("https://-fc3.example.org", OriginShape.SERIALIZED),
        ("http://127.0.0.1:8000", OriginShape.SERIALIZED),
        ("http://[::1]:8000", OriginShape.SERIALIZED),
        ("https://[2001:db8::1]", OriginShape.SERIALIZED),
        ("https://" + "a." * 125 + "com:65535", OriginShape.SERIALIZED),
        ("https://" + "a." * 125 + "com:65535/", OriginShape.TOO_LONG),
        ("null", OriginShape.NULL),
        ("NULL", OriginShape.MALFORMED),
        ("https://a.example,https://b.example", OriginShape.MULTIPLE),
        ("https://a.example https://b.example", OriginShape.MULTIPLE),
        ("https://a.example ", OriginShape.MULTIPLE),
        ("", OriginShape.MALFORMED),
        ("HTTPS://app.example.com", OriginShape.MALFORMED),
        ("https://app.example.com:443", OriginShape.MALFORMED),
        ("https://app.example.com.", OriginShape.MALFORMED),
        ("https://a!b.example.com", OriginShape.MALFORMED),
        ("http://[::1]:80", OriginShape.MALFORMED),
        ("http://[::1]:08000", OriginShape.MALFORMED),
        ("http://[::1]:65536", OriginShape.MALFORMED),
        ("http://[::G]", OriginShape.MALFORMED),
        ("http://[::1]/", OriginShape.MALFORMED),
    ],
)
def test_classify_origin_names_the_shape_of_the_value(value: str, shape: OriginShape) -> None:
    assert classify_origin(value) is shape


def test_classify_origin_bounds_the_work_on_a_huge_value() -> None:
    # Only a length test may touch it: no regex, no split of a megabyte.
    assert classify_origin("https://" + "a," * 500_000) is OriginShape.TOO_LONG


# --- the private fast path agrees with the full validator -----------------------

_FLAGS = st.sampled_from([(False, True), (True, True), (False, False), (True, False)])
# Near-canonical values: the inputs where a wrong fast path would hide.
_CLEAN_LABEL = st.one_of(
    st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True),
    st.sampled_from(
        [
            *["example", "com", "co", "uk", "vercel", "app", "github", "io", "localhost"],
            *["_", "-", "a-", "-a", "a_b", "0x", "0x7f", "1", "42", "xn--zz", "xn--bcher-kva", "xn--", "x" * 63],
        ]
    ),
)
# Hosts at and just over the DNS limit of 253 octets.
_LONG_HOSTS = ["a." * 125 + "com", "a." * 126 + "com", "b" * 63 + ("." + "c" * 63) * 3, "d" * 63 + ("." + "e" * 63) * 2]
_NEAR_LABEL = st.one_of(
    st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True),
    st.sampled_from(
        [
            "xn--bcher-kva",
            "xn--zz",
            "xn--",
            "XN--bcher-kva",
            "localhost",
            "com",
            "co",
            "uk",
            "vercel",
            "app",
            "github",
            "io",
            "_",
            "-",
            "-a",
            "a-",
            "__",
            "a_b",
            "0x",
            "0x7f",
            "0xg",
            "1",
            "09",
            "255",
            "256",
            "x" * 63,
            "y" * 64,
            "",
            "A",
            "ü",
        ]
    ),
)
_NEAR_HOST = st.one_of(
    st.lists(_NEAR_LABEL, min_size=1, max_size=5).map(".".join),
    st.sampled_from(["co.uk", "vercel.app", "github.io", "localhost", "app.localhost", "com", "a." * 126 + "com"]),
)
_NEAR_PORT = st.one_of(
    st.none(),
    st.sampled_from(["80", "443", "0", "00443", "0443", "08443", "8443", "65535", "65536", "99999", "1", "", "٣"]),
)


@st.composite
def _canonical_looking(draw: st.DrawFn) -> str:
    """Mostly values the fast path answers: lowercase, no default port, nothing around."""
    scheme = draw(st.sampled_from(["https", "https", "http"]))
    star = draw(st.sampled_from(["", "*."]))
    host = draw(st.one_of(st.lists(_CLEAN_LABEL, min_size=1, max_size=4).map(".".join), st.sampled_from(_LONG_HOSTS)))
    port = draw(st.sampled_from([None, None, "1", "3000", "8443", "65535", "65536", "99999", "443", "80"]))
    return f"{scheme}://{star}{host}{'' if port is None else ':' + port}"


@st.composite
def _near_canonical(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "https", "http", "HTTPS", "ftp"]))
    star = draw(st.sampled_from(["", "", "*.", "*"]))
    port = draw(_NEAR_PORT)
    tail = draw(st.sampled_from(["", "", "", "/", "?", " ", "."]))
    return f"{scheme}://{star}{draw(_NEAR_HOST)}{'' if port is None else ':' + port}{tail}"


# Forms next to the canonical one that only the long road may judge: app
# shells' schemes, IP addresses and hosts that end in a number, uppercase,
# punycode (valid and not), trailing slashes and default ports.
_OTHER_HOST = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.sampled_from(["1.2.3", "0x7f.1", "app.0x", "127.1", "[::1]", "[::ffff:127.0.0.1]", "[fe80::1%25eth0]"]),
    st.sampled_from(["xn--bcher-kva.example", "xn--zz.example", "app.xn--p1ai", "bücher.example", "ÄPP.example"]),
)
_APP_ORIGIN = st.one_of(
    st.sampled_from(["capacitor", "ionic", "tauri", "chrome-extension", "moz-extension", "safari-web-extension"]).map(
        lambda scheme: f"{scheme}://"
    ),
    st.just("capacitor:"),
).flatmap(
    lambda prefix: st.one_of(
        st.sampled_from(["localhost", "Localhost", "*.localhost", "abcdefghijklmnopabcdefghijklmnop", "", "app/"]),
        st.uuids().map(str),
        st.uuids().map(lambda uuid: str(uuid).upper()),
    ).map(lambda host: prefix + host)
)


@st.composite
def _other_forms(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "http", "HTTPS", "Https"]))
    host = draw(st.one_of(_OTHER_HOST, _canonical_looking().map(lambda value: value.partition("://")[2])))
    if draw(st.booleans()):
        host = "".join(char.upper() if draw(st.booleans()) else char for char in host)
    port = draw(st.sampled_from(["", "", ":443", ":80", ":8443", ":0"]))
    return f"{scheme}://{host}{port}{draw(st.sampled_from(['', '', '/', '//', '.']))}"


_ANY_NEAR = st.one_of(_canonical_looking(), _near_canonical(), _other_forms(), _APP_ORIGIN)


def _full(value: str, allow_insecure: bool, credentials: bool) -> Rule | None:
    try:
        return origins._parse_rule_full(value, allow_insecure, credentials)
    except OriginError:
        return None


def test_fast_path_answers_only_with_the_full_validators_rule() -> None:
    answered: list[str] = []

    # Canonical-looking values twice as often: they are where the fast path
    # answers.  Two explicit examples make sure it answers in every run, for an
    # exact origin and for a pattern, whatever the draw (a count of answers
    # over random draws made the test fail about one run in ten).
    @given(
        value=st.one_of(_canonical_looking(), _canonical_looking(), _ANY_NEAR, st.text(max_size=40)),
        flags=_FLAGS,
    )
    @example(value="https://app.example.com", flags=(False, True))
    @example(value="https://*.example.com:8443", flags=(False, True))
    def check(value: str, flags: tuple[bool, bool]) -> None:
        allow_insecure, credentials = flags
        fast = origins._parse_canonical(value, allow_insecure, credentials)
        if fast is None:
            return
        answered.append(value)
        # Never a Rule where the full validator refuses, and never a different
        # one: a plain tuple with the same fields would compare equal, so the
        # type is checked too.
        assert fast == _full(value, allow_insecure, credentials)
        assert type(fast) is Rule
        assert fast.serialize() == value

    check()
    # The fast path must actually have answered, patterns among them.
    assert "https://app.example.com" in answered
    assert any("*." in value for value in answered)


@given(value=_ANY_NEAR, flags=_FLAGS)
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
        "https://app.example.com",
        "https://app.example.com:8443",
        "https://my_app.example.com",
        "https://-fc3.example.org",
        "https://*.example.com",
        "https://*._x-.example.com:8443",
        "https://*.app.localhost",
        "https://a-.b_.c",
        "https://app.example.xn",
        "https://*.app1.example.com:1",
        "https://" + "x" * 63 + ".example.com:65535",
    ],
)
def test_fast_path_answers_for_canonical_values(value: str) -> None:
    rule = origins._parse_canonical(value, False, True)

    assert type(rule) is Rule
    assert rule == origins._parse_rule_full(value, False, True)


@pytest.mark.parametrize(
    "value",
    [
        "https://*.com",  # a top-level domain
        "https://*.localhost",  # no dot: the long road decides
        "https://*.co.uk",  # public suffixes
        "https://*.github.io",
        "https://*.vercel.app",
        "https://*.amazonaws.com",  # public suffixes beneath it
        "http://app.example.com",  # plain http with credentials
        "http://localhost:3000",
        "https://127.0.0.1",  # IP: the long road
        "https://1.2.3",
        "https://app.1",  # ends in a number: the IPv4 parser's, not a domain
        "https://app.0x7f",
        "https://app.0x",
        "https://xn--zz.example",  # punycode: the long road
        "https://xn--bcher-kva.example",
        "https://example.com:443",  # default port spelled out
        "https://example.com:0443",
        "https://example.com:99999",
        "https://" + "a." * 126 + "com",  # a 255-octet host
        "HTTPS://example.com",
        "https://example.com/",
        "https://[::1]",
        "https://[::1]:8443",
        "https://1.2.3.4",
        "https://app.example.com.",  # a trailing dot
        "https://App.example.com",
        "https://app.example.com:08443",
        "https://app..example.com",
        "https://.example.com",
        "https://" + "x" * 64 + ".example.com",  # a label over 63 octets
        "https://bücher.example",
        "capacitor://localhost",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
    ],
)
def test_fast_path_leaves_unusual_values_to_the_full_validator(value: str) -> None:
    assert origins._parse_canonical(value, False, True) is None


def test_fast_path_lets_plain_http_through_when_insecure_is_allowed_or_no_credentials() -> None:
    expected = Rule("http", "app.example.com", 8080)

    assert origins._parse_canonical("http://app.example.com:8080", True, True) == expected
    assert origins._parse_canonical("http://app.example.com:8080", False, False) == expected


# --- agreement with a WHATWG URL parser (ada-url): what browsers send ---------------
#
# ada-url implements the WHATWG URL standard that browsers follow, so
# ``ada_url.URL(text).origin`` is the Origin header a page at ``text`` sends.
# Two directions (issue 11, item 9): nothing unlisted is ever allowed, and
# every browser-serialized form of a listed origin is.


def _browser_origin(url: str) -> str | None:
    """The Origin a browser at ``url`` sends, or None where no browser can be."""
    try:
        return str(ada_url.URL(url).origin)
    except ValueError:
        return None


def _reference_covers(rules: list[Rule], origin: str) -> bool:
    """A deliberately plain reading of the allow-list: byte-equal, or a whole-label subdomain."""
    for rule in rules:
        if not rule.wildcard and rule.serialize() == origin:
            return True
    scheme, sep, rest = origin.partition("://")
    host, colon, port_text = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if colon and not (port_text.isascii() and port_text.isdigit()):
        return False
    port = int(port_text) if colon else None
    for rule in rules:
        if rule.wildcard and sep and (rule.scheme, rule.port) == (scheme, port):
            sub, dot, base = host.partition(".")
            while dot and sub:
                if base == rule.host:
                    return True
                sub, dot, base = base.partition(".")
    return False


# Labels a user lists or a browser has.  Each one is a DNS label some
# browser can reach.  Deliberately absent, because credcors refuses them on
# purpose while ada-url (like the URL standard) accepts them: labels with
# ASCII punctuation other than "-" and "_" ("a!b", "a$b", "a*b": no DNS name
# has them, and "*" or "," mean something else in an allow list), empty
# labels ("a..b": no resolver accepts them), labels over 63 octets and hosts
# over 253 (DNS limits, RFC 1035 §2.3.4).  A trailing dot is no spelling of a
# listed origin: "https://a.example." is a different origin to browsers.
_DNS_LABELS = [
    "app",
    "example",
    "com",
    "org",
    "corp",
    "my_app",
    "_internal",
    "-fc3",
    "edge-",
    "_",
    "a--b",
    "x1",
    "42",
    "0x7f",
    "bücher",
    "Bücher",
    "xn--bcher-kva",
    "straße",
    "日本",
    "пример",
    "\uff46\uff55\uff4c\uff4c",  # "full" in full-width letters
    "localhost",
    "co",
    "uk",
    "vercel",
    "app",
]
_SUB_LABELS = ["a", "pr-7", "k_", "-x", "y-", "_", "1", "0x", "bücher", "xn--bcher-kva", "ÄPFEL", "日本"]
_LISTED_PORTS = [None, None, None, 3000, 8443]


@st.composite
def _allow_list(draw: st.DrawFn) -> list[Rule]:
    """Rules as an admin types them, kept where parse_rule accepts them."""
    texts = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["https", "https", "http", "HTTPS"]),
                st.booleans(),
                st.lists(st.sampled_from(_DNS_LABELS), min_size=1, max_size=3),
                st.sampled_from(_LISTED_PORTS),
            ).map(
                lambda parts: (
                    f"{parts[0]}://{'*.' if parts[1] else ''}{'.'.join(parts[2])}"
                    f"{'' if parts[3] is None else f':{parts[3]}'}"
                )
            ),
            min_size=1,
            max_size=5,
        )
    )
    rules = []
    for text in [*texts, "http://127.0.0.1:8000", "http://[::1]:8000"]:
        try:
            rules.append(parse_rule(text, allow_insecure=True))
        except OriginError:
            continue  # "*.co.uk", "app.42", ...: refusals are tested above
    return rules


def _unicode_host(host: str) -> str:
    return ".".join(idna.ulabel(label) if label.startswith("xn--") else label for label in host.split("."))


def _fullwidth(text: str) -> str:
    # U+FF01..U+FF5E mirror ASCII "!".."~"; the URL standard maps them back.
    return "".join(chr(ord(char) + 0xFEE0) if char.isascii() and char.isalnum() else char for char in text)


def _upper(text: str) -> str:
    # Only case changes: "ß".upper() is "SS", another host, not another spelling.
    return "".join(char.upper() if len(char.upper()) == 1 else char for char in text)


def _percent_first_letter(host: str) -> str:
    for position, char in enumerate(host):
        if char.isascii() and char.isalpha():
            return f"{host[:position]}%{ord(char):02X}{host[position + 1 :]}"
    return host


_SPELLINGS = [
    "as-is",
    "unicode",
    "upper",
    "title",
    "upper-scheme",
    "fullwidth",
    "ideographic-dot",
    "percent",
    "default-port",
    "port-zeros",
    "slash",
    "backslash",
    "path",
    "query",
    "fragment",
    "userinfo",
]


def _spell(scheme: str, host: str, port: int | None, spellings: list[str]) -> str:
    """One way a user might type a URL on this (scheme, host, port) into a browser."""
    port_text = "" if port is None else f":{port}"
    tail = ""
    userinfo = ""
    # In the order of _SPELLINGS, so that each one still applies: a full-width
    # "%61" escape must not turn full-width, a Unicode label is found between ASCII dots.
    for spelling in sorted(set(spellings), key=_SPELLINGS.index):
        if spelling == "upper":
            host = _upper(host)
        elif spelling == "title":
            host = ".".join(_upper(label[:1]) + label[1:] for label in host.split("."))
        elif spelling == "upper-scheme":
            scheme = scheme.upper()
        elif spelling == "unicode":
            host = _unicode_host(host.lower())
        elif spelling == "fullwidth":
            first, dot, rest = host.partition(".")
            host = _fullwidth(first) + dot + rest
        elif spelling == "ideographic-dot":
            host = host.replace(".", "\u3002")
        elif spelling == "percent":
            host = _percent_first_letter(host)
        elif spelling == "default-port" and port is None:
            port_text = ":443" if scheme.lower() == "https" else ":80"
        elif spelling == "port-zeros":
            port_text = ":00" + (port_text[1:] or ("443" if scheme.lower() == "https" else "80"))
        elif spelling == "slash":
            tail = "/"
        elif spelling == "backslash":
            tail = "\\api"
        elif spelling == "path":
            tail = "/api/v1/items"
        elif spelling == "query":
            tail = "/?next=https://evil.example"
        elif spelling == "fragment":
            tail = "#https://evil.example"
        elif spelling == "userinfo":
            userinfo = "user:secret@"
    return f"{scheme}://{userinfo}{host}{port_text}{tail}"


def _snapshot_of(rules: list[Rule]) -> Snapshot:
    headers = Headers.build(allow_methods=["GET", "PUT"], allow_headers=["content-type"])
    return compile_snapshot([compile_policy(DEFAULT_POLICY, headers, rules)])


def test_every_browser_serialized_form_of_a_listed_origin_is_allowed() -> None:
    seen = {"exact": 0, "pattern": 0, "non-ascii": 0}

    @given(
        rules=_allow_list(),
        pick=st.integers(0, 20),
        sub=st.lists(st.sampled_from(_SUB_LABELS), min_size=1, max_size=2),
        spellings=st.lists(st.sampled_from(_SPELLINGS), max_size=4),
    )
    def check(rules: list[Rule], pick: int, sub: list[str], spellings: list[str]) -> None:
        rule = rules[pick % len(rules)]
        host = f"{'.'.join(sub)}.{rule.host}" if rule.wildcard else rule.host
        if host.startswith("[") and spellings:
            return  # IPv6 spellings have their own test below
        url = _spell(rule.scheme, host, rule.port, spellings)
        origin = _browser_origin(url)
        assert origin is not None, url  # every such URL is one a browser can open

        decision = decide(_snapshot_of(rules), "GET", origin)

        assert decision.allowed, (url, origin)
        assert decision.rule is not None
        assert decision.rule.covers(parse_rule(origin, allow_insecure=True))
        seen["pattern" if rule.wildcard else "exact"] += 1
        if not url.isascii():
            seen["non-ascii"] += 1

    check()
    assert min(seen.values()) >= examples(1 / 20), seen


@pytest.mark.parametrize(
    ("listed", "url"),
    [
        ("http://127.0.0.1:8000", "http://0x7f.0.0.1:8000/"),
        ("http://127.0.0.1:8000", "http://2130706433:8000"),
        ("http://127.0.0.1:8000", "http://127.1:08000"),
        ("http://127.0.0.1:8000", "http://\uff10x7f.0.0.1:8000"),
        ("http://[::1]:8000", "http://[0:0:0:0:0:0:0:1]:8000"),
        ("http://[::1]:8000", "http://[::0001]:8000/x"),
        ("https://[2001:db8::1]", "https://[2001:DB8:0:0:0:0:0:1]:443"),
        ("https://[::ffff:7f00:1]", "https://[::ffff:127.0.0.1]"),
        ("https://my_app.example.com", "HTTPS://My_App.Example.COM:443/"),
        ("http://*.localhost:3000", "http://K_.localhost:3000/"),
        ("https://*.example.org", "https://-FC3.example.org"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://xn--bcher-kva.example", "https://BÜCHER.example"),
        ("https://*.xn--bcher-kva.example", "https://a.bücher。example"),
    ],
)
def test_browser_spellings_of_a_listed_ip_or_host_are_allowed(listed: str, url: str) -> None:
    origin = _browser_origin(url)
    assert origin is not None

    decision = decide(_snapshot_of([parse_rule(listed)]), "GET", origin)

    assert decision.allowed, origin
    assert dict(decision.headers)["access-control-allow-origin"] == origin


_HOSTILE_MUTATIONS = [
    "none",
    "none",
    "upper",
    "upper-scheme",
    "trailing-dot",
    "default-port",
    "port-zeros",
    "percent",
    "unicode",
    "fullwidth",
    "userinfo",
    "path",
    "slash",
    "apex",
    "glued",
    "double-dot",
    "bang",
    "space",
    "other-port",
    "swap-scheme",
    "browser",
    "browser",
]


def _hostile(rule: Rule, sub: list[str], mutations: list[str]) -> str:
    """A request Origin near a listed rule: as sent, mangled, or as a browser would serialize it."""
    scheme, port = rule.scheme, rule.port
    host = f"{'.'.join(sub)}.{rule.host}" if rule.wildcard else rule.host
    port_text = "" if port is None else f":{port}"
    tail = ""
    browser = False
    for mutation in mutations:
        if mutation == "upper":
            host = host.upper()
        elif mutation == "upper-scheme":
            scheme = scheme.upper()
        elif mutation == "trailing-dot":
            host += "."
        elif mutation == "default-port":
            port_text = ":443" if scheme == "https" else ":80"
        elif mutation == "port-zeros":
            port_text = ":0" + (port_text[1:] or "443")
        elif mutation == "percent":
            host = _percent_first_letter(host)
        elif mutation == "unicode" and not host.startswith("["):
            host = _unicode_host(host)
        elif mutation == "fullwidth":
            host = _fullwidth(host)
        elif mutation == "userinfo":
            host = "user@" + host
        elif mutation == "path":
            tail = "/api"
        elif mutation == "slash":
            tail = "/"
        elif mutation == "apex":
            host = rule.host
        elif mutation == "glued":
            host = "evil" + rule.host
        elif mutation == "double-dot":
            host = host.replace(".", "..", 1)
        elif mutation == "bang":
            host = "a!" + host
        elif mutation == "space":
            tail = " "
        elif mutation == "other-port":
            port_text = ":8444"
        elif mutation == "swap-scheme":
            scheme = "http" if scheme == "https" else "https"
        elif mutation == "browser":
            browser = True
    text = f"{scheme}://{host}{port_text}{tail}"
    return (_browser_origin(text) or text) if browser else text


_RANDOM_ORIGIN = st.one_of(
    st.text(max_size=30),
    st.lists(
        st.sampled_from(["https://", "http://", "a", "_", "-", ".", "example", "com", "localhost", ":", "8443", "/"]),
        max_size=8,
    ).map("".join),
)


def test_nothing_unlisted_is_ever_allowed() -> None:
    seen = {"allowed": 0, "refused": 0}

    @given(
        rules=_allow_list(),
        pick=st.integers(0, 20),
        sub=st.lists(st.sampled_from([*_SUB_LABELS, "A", "a!b", ""]), min_size=1, max_size=2),
        mutations=st.lists(st.sampled_from(_HOSTILE_MUTATIONS), max_size=3),
        noise=_RANDOM_ORIGIN,
    )
    def check(rules: list[Rule], pick: int, sub: list[str], mutations: list[str], noise: str) -> None:
        snapshot = _snapshot_of(rules)
        for origin in (_hostile(rules[pick % len(rules)], sub, mutations), noise):
            allowed = [
                decide(snapshot, "GET", origin).allowed,
                decide(snapshot, "OPTIONS", origin, "GET").allowed,
            ]
            assert allowed[0] == allowed[1], origin
            if not allowed[0]:
                seen["refused"] += 1
                continue
            seen["allowed"] += 1
            # Only a value a browser sends byte for byte, and only one the list covers.
            assert _browser_origin(origin) == origin
            assert _reference_covers(rules, origin), origin

    check()
    assert seen["allowed"] >= examples(1 / 5), seen
    assert seen["refused"] >= examples(1 / 5), seen


@pytest.mark.parametrize(
    ("rules", "origin", "covered"),
    [
        (["https://app.example.com"], "https://app.example.com", True),
        (["https://app.example.com"], "https://app.example.com:443", False),
        (["https://*.example.com"], "https://a.example.com", True),
        (["https://*.example.com"], "https://a_b.c.example.com", True),
        (["https://*.example.com"], "https://example.com", False),
        (["https://*.example.com"], "https://evilexample.com", False),
        (["https://*.example.com"], "https://.example.com", False),
        (["https://*.example.com:8443"], "https://a.example.com", False),
        (["https://*.example.com:8443"], "https://a.example.com:8443", True),
        (["http://[::1]:8000"], "http://[::1]:8000", True),
        (["https://*.example.com"], "https://a.example.com:x", False),
    ],
)
def test_reference_cover_check_itself_gets_the_obvious_cases_right(
    rules: list[str], origin: str, covered: bool
) -> None:
    # Guards the oracle of the property above.
    assert _reference_covers([parse_rule(rule) for rule in rules], origin) is covered


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://k_.localhost:3000", "http://k_.localhost:3000"),
        ("https://-fc3.example.org", "https://-fc3.example.org"),
        ("HTTPS://U:p@%61pp.Ex%41mple.com:0443/x?y#z", "https://app.example.com"),
        ("https://a.example.", "https://a.example."),
        ("https://a!b.example", "https://a!b.example"),
        ("https://app.1", None),
    ],
)
def test_reference_browser_origin_is_what_the_url_standard_says(url: str, origin: str | None) -> None:
    # Guards the other oracle: ada-url must serialize the way browsers do.
    assert _browser_origin(url) == origin


@pytest.mark.parametrize(
    ("rule", "other", "covered"),
    [
        ("https://app.example.com", "https://app.example.com", True),
        ("https://app.example.com", "https://b.example.com", False),
        ("https://*.example.com", "https://a.example.com", True),
        ("https://*.example.com", "https://*.a.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://evilexample.com", False),
        ("https://*.example.com", "https://a.example.com:8443", False),
        ("https://*.example.com", "http://a.example.com", False),
        ("https://app.example.com", "https://*.app.example.com", False),
    ],
)
def test_rule_covers_only_what_it_allows(rule: str, other: str, covered: bool) -> None:
    assert parse_rule(rule, allow_insecure=True).covers(parse_rule(other, allow_insecure=True)) is covered
