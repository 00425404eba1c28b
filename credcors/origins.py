"""Parse, canonicalize and validate one origin or ``*.`` pattern; classify a request's ``Origin``.

This is the one validator credcors has: system checks, the model, the admin,
the management command and the database loader all call :func:`parse_rule`.
Requests' ``Origin`` values are classified by :func:`classify_origin` and
split by :func:`split_wire_origin`, here and nowhere else.  It never imports
Django.

An *origin* here is the ASCII serialization of a tuple origin as defined by
the HTML standard (§7.1.1, "serialization of an origin"): ``scheme://host`` with
an optional ``:port`` when it is not the scheme's default.  Browsers send the
``Origin`` request header in exactly that form, so once the allow-list is
canonical, matching a request is a byte comparison.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from credcors.hosts import (
    LABEL_CHARS,
    HostProblem,
    ends_in_number,
    is_potentially_trustworthy_host,
    is_public_suffix,
    parse_authority,
)

__all__ = [
    "ANY_PORT",
    "APP_SCHEMES",
    "DEFAULT_PORTS",
    "DEV_ANY_PORT",
    "MAX_ORIGIN_LENGTH",
    "OriginError",
    "OriginShape",
    "Rule",
    "classify_origin",
    "parse_rule",
    "split_wire_origin",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

#: The port of a rule that takes any port (``http://localhost:*``, only while DEBUG).
ANY_PORT = -1
#: The entries that allow a development server on any port, and only while ``settings.DEBUG`` is on.
DEV_ANY_PORT = ("http://localhost:*", "http://127.0.0.1:*")

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_APP_HOST = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: The schemes app shells put in ``Origin``, each with the one host form it sends
#: (checked against what the platforms document and their users report):
#: Capacitor on iOS (``capacitor://localhost``), Ionic's Cordova web view on iOS
#: (``ionic://localhost``), Tauri on macOS and Linux (``tauri://localhost``;
#: on Windows it is ``http(s)://tauri.localhost``, an ordinary origin), and
#: browser extensions' own pages: Chrome's 32-letter id, Firefox's per-install
#: UUID, Safari's per-install UUID, which Safari sends in upper case.
#: Listed exactly, never as patterns: each is one app, not a family of hosts.
APP_SCHEMES: Mapping[str, str] = MappingProxyType(
    {
        "capacitor": _APP_HOST,
        "ionic": _APP_HOST,
        "tauri": _APP_HOST,
        "chrome-extension": "[a-p]{32}",
        "moz-extension": _UUID,
        "safari-web-extension": _UUID.replace("a-f", "A-F"),
    }
)
_APP_RES = {scheme: re.compile(host) for scheme, host in APP_SCHEMES.items()}

#: No serialized origin is longer: "https://" + a 253-octet host + ":65535".
MAX_ORIGIN_LENGTH = 8 + 253 + 6

_PORT = r"(?::([0-9]{1,5}))?"
_HOST_CHARS = LABEL_CHARS + "."
# What the host of an Origin header on a domain name or IPv4 address may be
# made of; and one on an IPv6 address, which only exact rules can match:
_WIRE_IPV6_RE = re.compile(rf"https?://\[[0-9a-f:.]{{2,45}}\]{_PORT}")
# Characters that only a regular expression (never an http(s) origin) has.
# "?", "[", "]" and "*" are left to the query, IPv6 and wildcard checks,
# which explain them better.
_REGEX_RE = re.compile(r"[\^$\\|(){}+]|s\?:")
# An RFC 3986 scheme followed by ":" and no port number, so that
# "javascript:alert(1)" is reported as a scheme but "localhost:3000" is not.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?![0-9])")
# An origin or pattern already written the way parse_rule would write it.
# Rows saved through the model all look like this, so loading 100,000 of
# them takes one regular expression each instead of the long road.
_CANONICAL_RE = re.compile(r"(https?)://(\*\.)?([a-z0-9_.-]+)(?::([1-9][0-9]{0,4}))?")


class OriginError(ValueError):
    """An origin or pattern that credcors refuses, with a reason and a fix."""

    def __init__(self, value: object, problem: str, hint: str) -> None:
        self.value = value
        self.problem = problem
        self.hint = hint
        super().__init__(f"{value!r}: {problem}. {hint}")

    @property
    def message(self) -> str:
        """One sentence for forms and checks: what is wrong and what to write."""
        return f"{self.value!r} is not an allowed origin: {self.problem}. {self.hint}"


class Rule(NamedTuple):
    """A canonical allow-list entry: an exact origin or a ``*.`` pattern.

    For a pattern, ``host`` is the part after ``*.`` and the rule matches any
    host with one or more extra whole labels in front of it, never ``host``
    itself.  A tuple: loading 100,000 rows builds 100,000 of them, at a
    third of a frozen dataclass's cost.
    """

    scheme: str
    host: str
    port: int | None
    wildcard: bool = False

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.scheme, self.port)

    def serialize(self) -> str:
        prefix = "*." if self.wildcard else ""
        port = "" if self.port is None else ":*" if self.port == ANY_PORT else f":{self.port}"
        return f"{self.scheme}://{prefix}{self.host}{port}"

    def covers(self, other: Rule) -> bool:
        """Whether every origin ``other`` allows is allowed by this rule too."""
        if self.key != other.key:
            return False
        if not self.wildcard:
            return self == other
        return (other.wildcard and other.host == self.host) or other.host.endswith(f".{self.host}")

    def __str__(self) -> str:
        return self.serialize()


class OriginShape(enum.Enum):
    """What a request's ``Origin`` value is, before any allow-list is asked."""

    SERIALIZED = "serialized"  # scheme://host[:port], exactly as browsers send it
    NULL = "null"
    MULTIPLE = "multiple"
    TOO_LONG = "too-long"
    MALFORMED = "malformed"


def classify_origin(value: str) -> OriginShape:
    """Classify a request's ``Origin`` header value; bounded work for any input."""
    if len(value) > MAX_ORIGIN_LENGTH:
        return OriginShape.TOO_LONG
    if value == "null":
        return OriginShape.NULL
    if "," in value or " " in value:
        return OriginShape.MULTIPLE
    if split_wire_origin(value) is None and _wire_ipv6_port(value) is None and not _is_app_origin(value):
        return OriginShape.MALFORMED
    return OriginShape.SERIALIZED


def _is_app_origin(value: str) -> bool:
    # Only refusals get here: an allowed app origin is an exact dict hit.
    scheme, separator, host = value.partition("://")
    pattern = _APP_RES.get(scheme)
    return bool(separator) and pattern is not None and pattern.fullmatch(host) is not None


def _wire_ipv6_port(value: str) -> str | None:
    match = _WIRE_IPV6_RE.fullmatch(value)
    if match is None:
        return None
    return _valid_port(value.partition("://")[0], match.group(1))


def _valid_port(scheme: str, port_text: str | None) -> str | None:
    # "" for no port, the text for a port browsers would send, None otherwise.
    if port_text is None:
        return ""
    if (
        not 0 < len(port_text) <= 5
        or not port_text.isdigit()
        or not port_text.isascii()
        or port_text[0] == "0"
        or int(port_text) > 65535
        or int(port_text) == DEFAULT_PORTS[scheme]
    ):
        return None
    return port_text


def split_wire_origin(value: str) -> tuple[str, str, int | None] | None:
    """Split a request's ``Origin`` on a domain name or IPv4 address into (scheme, host, port).

    Only what a browser sends is accepted: lowercase, no trailing dot, no
    default port spelled out; anything else (IPv6 included) is ``None``.
    Callers bound the length before calling.  String methods rather than a
    regex: this runs for every request that a pattern may allow.
    """
    if value.startswith("https://"):
        scheme, rest = "https", value[8:]
    elif value.startswith("http://"):
        scheme, rest = "http", value[7:]
    else:
        return None
    host, colon, port_text = rest.partition(":")
    if (
        not host
        or len(host) > 253
        or host.strip(_HOST_CHARS)  # Empty only when every character is one a host may have.
        or host[0] == "."
        or host[-1] == "."
        or ".." in host
        or (len(host) > 63 and max(map(len, host.split("."))) > 63)
    ):
        return None
    if not colon:
        return scheme, host, None
    if _valid_port(scheme, port_text) is None:
        return None
    return scheme, host, int(port_text)


def parse_rule(value: object, *, allow_insecure: bool = False, credentials: bool = True) -> Rule:
    """Validate ``value`` and return its canonical :class:`Rule`.

    Canonicalizes what is unambiguous (case, default port, one trailing slash,
    internationalized hosts to punycode) and raises :class:`OriginError` for
    everything else, with a hint that says what to write instead.
    """
    if isinstance(value, str):
        rule = _parse_canonical(value, allow_insecure, credentials)
        if rule is not None:
            return rule
    return _parse_rule_full(value, allow_insecure, credentials)


def _parse_canonical(value: str, allow_insecure: bool, credentials: bool) -> Rule | None:
    # The fast path, for a value already in canonical form; None lets the full
    # validator decide.  It answers only where the full validator returns the
    # very same Rule (tests/test_origins.py checks this with hypothesis);
    # anything unusual (punycode, IP addresses, plain http) takes the long
    # road, so it cannot allow more.  Plain string tests after one regex:
    # this runs once per row when 100,000 rows load.
    match = _CANONICAL_RE.fullmatch(value)
    if match is None:
        return None
    scheme, star, host, port_text = match.groups()
    if (
        len(host) > 253
        or "xn--" in host
        or ".." in host
        or host[0] == "."
        or host[-1] == "."
        or ends_in_number(host)
        or (len(host) > 63 and max(map(len, host.split("."))) > 63)
    ):
        return None
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535 or port == DEFAULT_PORTS[scheme]:
            return None
    if scheme == "http" and credentials and not allow_insecure:
        return None
    if star is not None and ("." not in host or is_public_suffix(host)):
        return None
    return Rule(scheme, host, port, star is not None)


def _parse_rule_full(value: object, allow_insecure: bool, credentials: bool) -> Rule:
    if not isinstance(value, str):
        raise OriginError(
            value,
            f"expected a string, got {type(value).__name__}",
            'Write the origin as a string such as "https://app.example.com".',
        )
    text = value
    if text.strip() == "*":
        raise OriginError(
            value,
            "'*' would allow every site on the internet",
            "With credentials that is never safe; list each origin, or a "
            'subdomain pattern such as "https://*.example.com".',
        )
    if text.strip().lower() == "null":
        raise OriginError(
            value,
            "'null' is the origin of sandboxed frames, file: pages and redirects, which any site can produce",
            "Serve the front end from a real https:// origin and list that.",
        )
    if not text:
        raise OriginError(value, "it is empty", 'Write an origin such as "https://app.example.com".')
    if len(text) > MAX_ORIGIN_LENGTH + 3:
        raise OriginError(
            value,
            f"it is longer than any origin can be ({MAX_ORIGIN_LENGTH} characters)",
            "Write only scheme://host[:port].",
        )
    if not text.isprintable() or any(char.isspace() for char in text):
        raise OriginError(
            value,
            "it contains whitespace or control characters",
            "Remove them; an origin is scheme://host[:port] with nothing around it.",
        )
    scheme_match = _SCHEME_RE.match(text)
    if scheme_match is not None and scheme_match.group(1).lower() in APP_SCHEMES:
        return _parse_app_origin(value, scheme_match.group(1).lower(), text[scheme_match.end() :])
    if scheme_match is not None and scheme_match.group(1).lower() not in DEFAULT_PORTS:
        # Before the shape checks, so that "data:text/html,..." is named a
        # data: URL, not a list of origins.
        raise OriginError(
            value,
            f"the {scheme_match.group(1).lower()!r} scheme cannot make credentialed CORS requests",
            "Only http:// and https:// origins can be allowed.",
        )
    if _REGEX_RE.search(text):
        # After the scheme, so that "javascript:f()" is named a scheme, not a regex.
        raise OriginError(
            value,
            "it looks like a regular expression or contains characters an origin cannot have",
            'credcors does not take regexes; write "https://*.example.com" for subdomains.',
        )
    if "," in text:
        raise OriginError(
            value,
            "it contains a comma, so it looks like several origins in one",
            "Put each origin in its own list entry.",
        )
    if scheme_match is None:
        # A development server on this machine is plain http; anything else should be https.
        bare = text.strip("/")
        local = is_potentially_trustworthy_host(bare if bare.endswith("]") else bare.rsplit(":", 1)[0])
        raise OriginError(
            value, "it has no scheme", f'Write it with its scheme: "{"http" if local else "https"}://{bare}".'
        )
    scheme = scheme_match.group(1).lower()
    after = text[scheme_match.end() :]
    if not after.startswith("//"):
        raise OriginError(
            value,
            f"'//' is missing after {scheme + ':'!r}",
            f'Write "{scheme}://{after.lstrip("/")}".',
        )
    try:
        host, port, wildcard = parse_authority(after[2:], scheme, DEFAULT_PORTS[scheme])
    except HostProblem as exc:
        raise OriginError(value, exc.problem, exc.hint) from None
    if wildcard and is_public_suffix(host):
        raise OriginError(
            value,
            f"{scheme}://*.{host} would allow every site under the public suffix "
            f"{host!r}; wildcards over a public suffix are refused",
            "Allow a domain you control, e.g. https://*.yourcompany.com.",
        )
    if scheme == "http" and credentials and not allow_insecure and not is_potentially_trustworthy_host(host):
        raise OriginError(
            value,
            "plain http:// origins (other than localhost and loopback addresses) "
            "can be impersonated by anyone on the network, who could then read "
            "your users' credentialed responses",
            f'Use "https://{text.partition("://")[2].rstrip("/")}", or set '
            'CREDCORS["ALLOW_INSECURE_ORIGINS"] = True if you accept that risk.',
        )
    return Rule(scheme=scheme, host=host, port=port, wildcard=wildcard)


def _parse_app_origin(value: object, scheme: str, after: str) -> Rule:
    # An app shell's origin: scheme://host, exactly as the shell sends it.
    host = after.removeprefix("//")
    host = host[:-1] if host.endswith("/") else host
    if "*" in host:
        raise OriginError(
            value,
            f"a {scheme}:// origin is one app, so it is listed exactly, never as a pattern",
            f'List each app\'s origin, e.g. "{_app_example(scheme)}".',
        )
    canonical = host.upper() if scheme == "safari-web-extension" else host.lower()
    if not after.startswith("//") or _APP_RES[scheme].fullmatch(canonical) is None:
        raise OriginError(
            value,
            f"it is not a {scheme}:// origin as the app sends it",
            f'Write it as the app\'s Origin header shows it, e.g. "{_app_example(scheme)}".',
        )
    return Rule(scheme, canonical, None)


def _app_example(scheme: str) -> str:
    host = {
        "chrome-extension": "abcdefghijklmnopabcdefghijklmnop",
        "moz-extension": "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "safari-web-extension": "0A1B2C3D-4E5F-6789-ABCD-EF0123456789",
    }.get(scheme, "localhost")
    return f"{scheme}://{host}"
