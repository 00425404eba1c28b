"""Parse, canonicalize and validate one origin or ``*.`` pattern: the one validator.

System checks, the model, the admin, the management command and the
database loader all call :func:`parse_rule`.  A request's ``Origin`` value is
classified and split by :mod:`credcors.core.origin_header`, whose facts (default ports, the
longest origin, app shells' schemes) this module builds on.  It never imports
Django.

An *origin* here is the ASCII serialization of a tuple origin as defined by
the HTML standard (§7.1.1, "serialization of an origin"): ``scheme://host`` with
an optional ``:port`` when it is not the scheme's default.  Browsers send the
``Origin`` request header in exactly that form, so once the allow-list is
canonical, matching a request is a byte comparison.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from credcors.core.hosts import (
    LABEL,
    HostProblem,
    is_potentially_trustworthy_host,
    is_public_suffix,
    parse_authority,
    public_suffix_beneath,
    spans_sites,
)
from credcors.core.origin_header import APP_SCHEMES, DEFAULT_PORTS, MAX_ORIGIN_LENGTH, is_app_host, valid_port

__all__ = [
    "ANY_PORT",
    "DEV_ANY_PORT",
    "OriginError",
    "Rule",
    "parse_rule",
]

#: The port of a rule that takes any port (``http://localhost:*``, only while DEBUG).
ANY_PORT = -1
#: The entries that allow a development server on any port, and only while ``settings.DEBUG`` is on.
DEV_ANY_PORT = ("http://localhost:*", "http://127.0.0.1:*")

# Characters that only a regular expression (never an http(s) origin) has.
# "?", "[", "]" and "*" are left to the query, IPv6 and wildcard checks,
# which explain them better.
_REGEX_RE = re.compile(r"[\^$\\|(){}+]|s\?:")
# An RFC 3986 scheme followed by ":" and no port number, so that
# "javascript:alert(1)" is reported as a scheme but "localhost:3000" is not.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?![0-9])")
# An origin or pattern already written the way parse_rule would write it:
# lowercase labels of 1 to 63 characters, the last of which is no number
# (URL §3.5, see hosts.ends_in_number), and a port that is not written with
# a leading zero.  Rows saved through the model all look like this; nearly
# all of them are https://host, which the second pattern answers without
# groups.  Loading 1,000,000 rows costs one match each.
_HOST = rf"(?:{LABEL}\.)*(?!(?:[0-9]+|0x[0-9a-f]*)(?::|\Z)){LABEL}"
_CANONICAL_RE = re.compile(rf"https?://(\*\.)?({_HOST})(?::([1-9][0-9]{{0,4}}))?")
HTTPS_HOST_RE = re.compile(rf"https://{_HOST}")


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


# Builds a Rule without NamedTuple's generated __new__, a Python-level call.
_new_rule = tuple.__new__


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


def is_canonical_https(value: str) -> bool:
    """Is ``value`` an exact ``https://host`` origin already in canonical form, valid under every setting?

    What nearly every database row holds: :func:`parse_rule` would return a
    rule that serializes back to ``value`` (the fast path below), so a cold
    load can pack the row without building that rule.
    """
    # credcors.core.compile writes this test out in its per-row loop.
    return HTTPS_HOST_RE.fullmatch(value) is not None and len(value) <= 261 and "xn--" not in value


def _parse_canonical(value: str, allow_insecure: bool, credentials: bool) -> Rule | None:
    # The fast path, for a value already in canonical form; None lets the full
    # validator decide.  It answers only where the full validator returns the
    # very same Rule (tests/core/test_origins.py checks this with hypothesis);
    # anything unusual (punycode, IP addresses, uppercase, default ports,
    # plain http with credentials) takes the long road, so it cannot allow
    # more.  tuple.__new__ skips Rule's Python-level __new__, half the cost
    # of building one; the scheme is a shared constant, not a copy per row.
    if HTTPS_HOST_RE.fullmatch(value) is not None:
        # Too long, or punycode, whose round trip is the long road's.
        return _new_rule(Rule, ("https", value[8:], None, False)) if is_canonical_https(value) else None
    match = _CANONICAL_RE.fullmatch(value)
    if match is None:
        return None
    star, host, port_text = match.groups()
    if len(host) > 253 or "xn--" in host:
        return None
    scheme = "https" if value[4] == "s" else "http"
    if valid_port(scheme, port_text) is None:
        return None  # A default port or one past the range: the long road says why.
    port = None if port_text is None else int(port_text)
    if scheme == "http" and credentials and not allow_insecure:
        return None
    if star is not None and ("." not in host or spans_sites(host)):
        return None
    return _new_rule(Rule, (scheme, host, port, star is not None))


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
    beneath = public_suffix_beneath(host) if wildcard else None
    if beneath is not None:
        # amazonaws.com is no public suffix, but s3.amazonaws.com is: anyone
        # can create attacker-bucket.s3.amazonaws.com (issue 21, finding 2).
        raise OriginError(
            value,
            f"{scheme}://*.{host} would allow hosts under {beneath!r}, a public suffix anyone can register "
            "under; wildcards spanning a public suffix are refused",
            f"List exact origins instead, one for each host you use under {host!r}: {beneath!r} is on the "
            "Public Suffix List, so the hosts beneath it belong to different owners.",
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
    if not after.startswith("//") or not is_app_host(scheme, canonical):
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
