"""Parse, canonicalize and validate one origin or ``*.`` subdomain pattern.

This is the one validator credcors has: system checks, the model, the admin,
the management command and the database loader all call :func:`parse_rule`.
It never imports Django.

An *origin* here is the ASCII serialization of a tuple origin as defined by
the HTML standard (§7.1.1, "serialization of an origin"): ``scheme://host`` with
an optional ``:port`` when it is not the scheme's default.  Browsers send the
``Origin`` request header in exactly that form, so once the allow-list is
canonical, matching a request is a byte comparison.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

import idna

__all__ = [
    "MAX_ORIGIN_LENGTH",
    "OriginError",
    "Rule",
    "is_canonical_exact_origin",
    "is_potentially_trustworthy_host",
    "parse_rule",
    "registrable_domain",
    "split_wire_origin",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

#: No serialized origin is longer: "https://" + a 253-octet host + ":65535".
MAX_ORIGIN_LENGTH = 8 + 253 + 6

# One DNS label in canonical (lowercase, ASCII/punycode) form.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_CANONICAL_HOST_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
# What a browser can put in an Origin header for an http(s) origin.  Used on
# the wire to split a request origin for pattern matching; anything else is
# refused before any further work is done.
_WIRE_RE = re.compile(rf"(https?)://((?:{_LABEL}\.)*{_LABEL})(?::([0-9]{{1,5}}))?")
# Characters that only a regular expression (never an http(s) origin) has.
# "?", "[", "]" and "*" are left to the query, IPv6 and wildcard checks,
# which explain them better.
_REGEX_RE = re.compile(r"[\^$\\|(){}+]|s\?:")
# An RFC 3986 scheme followed by ":" and no port number, so that
# "javascript:alert(1)" is reported as a scheme but "localhost:3000" is not.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?![0-9])")
_IPV4_LIKE_RE = re.compile(r"[0-9.]+")
# URL standard §3.5, "ends in a number checker": a host whose last label is
# decimal digits or 0x-hex goes to the IPv4 parser, so "0x7f.1" is 127.0.0.1
# to a browser and "app.1" is no valid host at all.  Either way no Origin
# header can ever carry it as written.
_ENDS_IN_NUMBER_RE = re.compile(r"(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)\Z")
# An origin or pattern already written the way parse_rule would write it:
# lowercase DNS labels, no default or zero-padded port.  Rows saved through
# the model all look like this, so loading 100,000 of them skips the long road.
_CANONICAL_RE = re.compile(rf"(https?)://(\*\.)?((?:{_LABEL}\.)*{_LABEL})(?::([1-9][0-9]{{0,4}}))?")
_IPV6_LITERAL_RE = re.compile(r"[0-9A-Fa-f:.]+")
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")


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


@dataclass(frozen=True, slots=True)
class Rule:
    """A canonical allow-list entry: an exact origin or a ``*.`` pattern.

    For a pattern, ``host`` is the part after ``*.`` and the rule matches any
    host with one or more extra whole labels in front of it, never ``host``
    itself.
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
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{prefix}{self.host}{port}"

    def __str__(self) -> str:
        return self.serialize()


def is_potentially_trustworthy_host(host: str) -> bool:
    """Whether an ``http:`` origin on this host never leaves the machine.

    Mirrors the "potentially trustworthy origin" rules of the W3C Secure
    Contexts spec for loopback: ``localhost``, ``*.localhost``, 127.0.0.0/8
    and ``[::1]``.
    """
    if host == "localhost" or host.endswith(".localhost"):
        return True
    literal = host[1:-1] if host.startswith("[") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return False
    if address.version == 4:
        return address.is_loopback
    # Exactly ::1/128 (Secure Contexts §3.1): not the IPv4-mapped forms, which
    # newer Pythons' ``is_loopback`` also accepts.
    return address == _IPV6_LOOPBACK


def split_wire_origin(value: str) -> tuple[str, str, int | None] | None:
    """Split a request's ``Origin`` into (scheme, host, port), or ``None``.

    Only what a browser sends for a DNS-named http(s) origin is accepted:
    lowercase, no trailing dot, no default port spelled out.  Callers bound
    the length before calling.
    """
    match = _WIRE_RE.fullmatch(value)
    if match is None:
        return None
    scheme, host, port_text = match.groups()
    if len(host) > 253:
        return None
    if port_text is None:
        return scheme, host, None
    port = int(port_text)
    if port_text[0] == "0" or port > 65535 or port == DEFAULT_PORTS[scheme]:
        return None
    return scheme, host, port


@functools.lru_cache(maxsize=1)
def _public_suffix_list() -> object:
    # Imported lazily: loading the bundled list costs ~100 ms and only
    # patterns need it.  The list ships inside the package; nothing is
    # downloaded at run time.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The part of a canonical host that decides its *site* (HTML §7.1.1 "same site").

    For a DNS name that is the registrable domain from the Public Suffix List
    (``api.example.co.uk`` -> ``example.co.uk``); ``localhost`` and every
    ``*.localhost`` are one site; an IP address, or a host that is itself a
    public suffix, is its own site.
    """
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost"
    if host.startswith("[") or _ENDS_IN_NUMBER_RE.search(host):
        return host
    psl = _public_suffix_list()
    domain = psl.privatesuffix(host)  # type: ignore[attr-defined]
    return host if domain is None else str(domain)


def _is_public_suffix(host: str) -> bool:
    if host == "localhost":
        # The PSL's implicit "*" rule makes every unknown TLD public;
        # *.localhost only ever resolves to loopback, so it is safe.
        return False
    psl = _public_suffix_list()
    return bool(psl.is_public(host))  # type: ignore[attr-defined]


def parse_rule(
    value: object,
    *,
    allow_insecure: bool = False,
    credentials: bool = True,
) -> Rule:
    """Validate ``value`` and return its canonical :class:`Rule`.

    Canonicalizes what is unambiguous (case, default port, one trailing slash,
    internationalized hosts to punycode) and raises :class:`OriginError` for
    everything else, with a hint that says what to write instead.
    """
    if isinstance(value, str):
        rule = _parse_canonical(value, allow_insecure, credentials)
        if rule is not None:
            return rule
    return _parse_rule_full(value, allow_insecure=allow_insecure, credentials=credentials)


def is_canonical_exact_origin(value: str, *, allow_insecure: bool = False, credentials: bool = True) -> bool:
    """Whether ``value`` is an exact origin that :func:`parse_rule` accepts unchanged.

    A fast check for loading many stored rows: ``True`` guarantees that
    ``parse_rule(value)`` returns an exact rule serializing back to
    ``value``.  ``False`` only means "not sure": ask :func:`parse_rule`.
    """
    parts = _canonical_parts(value, allow_insecure, credentials)
    return parts is not None and parts[1] is None


def _parse_canonical(value: str, allow_insecure: bool, credentials: bool) -> Rule | None:
    parts = _canonical_parts(value, allow_insecure, credentials)
    if parts is None:
        return None
    scheme, star, host, port = parts
    if star and _is_public_suffix(host):
        return None
    return Rule(scheme=scheme, host=host, port=port, wildcard=star is not None)


def _canonical_parts(
    value: str, allow_insecure: bool, credentials: bool
) -> tuple[str, str | None, str, int | None] | None:
    # The fast path: (scheme, "*." or None, host, port) for a value already
    # in canonical form, or None to let the full validator decide.  It only
    # answers where the full validator returns the very same Rule
    # (tests/test_fast_path.py checks this); anything unusual (punycode, IP
    # addresses, plain http) takes the long road, so it cannot allow more.
    match = _CANONICAL_RE.fullmatch(value)
    if match is None:
        return None
    scheme, star, host, port_text = match.groups()
    # The last test is _canonical_host's IPv4 test.
    if len(host) > 253 or "xn--" in host or _ENDS_IN_NUMBER_RE.search(host):
        return None
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535 or port == DEFAULT_PORTS[scheme]:
            return None
    if scheme == "http" and credentials and not allow_insecure:
        return None
    if star and "." not in host:
        return None
    return scheme, star, host, port


def _parse_rule_full(value: object, *, allow_insecure: bool, credentials: bool) -> Rule:
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
    if not text.isprintable() or text != text.strip() or any(c.isspace() for c in text):
        raise OriginError(
            value,
            "it contains whitespace or control characters",
            "Remove them; an origin is scheme://host[:port] with nothing around it.",
        )
    scheme_match = _SCHEME_RE.match(text)
    if scheme_match is not None and scheme_match.group(1).lower() not in DEFAULT_PORTS:
        # Checked first so that "data:text/html,..." is named a data: URL,
        # not a list of origins, and "javascript:f()" not a regex.
        raise OriginError(
            value,
            f"the {scheme_match.group(1).lower()!r} scheme cannot make credentialed CORS requests",
            "Only http:// and https:// origins can be allowed.",
        )
    if _REGEX_RE.search(text):
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
        raise OriginError(
            value,
            "it has no scheme",
            f'Write it with its scheme, e.g. "https://{text.strip("/")}".',
        )
    scheme = scheme_match.group(1).lower()
    after = text[scheme_match.end() :]
    if not after.startswith("//"):
        raise OriginError(
            value,
            f"'//' is missing after {scheme + ':'!r}",
            f'Write "{scheme}://{after.lstrip("/")}".',
        )
    rest = after[2:]
    if rest.endswith("/") and rest.count("/") == 1:
        rest = rest[:-1]  # A single trailing slash is a common, harmless slip.
    for char, part in (("/", "a path"), ("?", "a query"), ("#", "a fragment")):
        if char in rest:
            raise OriginError(
                value,
                f"it has {part}; an origin is only scheme://host[:port]",
                f'Drop everything after the host and port: "{scheme}://{rest.split(char)[0]}".',
            )
    if "@" in rest:
        raise OriginError(
            value,
            "it has userinfo (user:password@)",
            "Browsers never send it in Origin; drop everything up to the '@'.",
        )
    host, port = _split_host_port(value, rest, scheme)
    wildcard = False
    if "*" in host:
        if not host.startswith("*.") or "*" in host[2:]:
            raise OriginError(
                value,
                "a '*' may only stand as one whole leading label, as in https://*.example.com",
                'Use "scheme://*.domain" for "one or more subdomains of domain".',
            )
        wildcard = True
        host = host[2:]
    host = _canonical_host(value, host, wildcard)
    if wildcard and _is_public_suffix(host):
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


def _split_host_port(value: str, rest: str, scheme: str) -> tuple[str, int | None]:
    if rest.startswith("["):
        end = rest.find("]")
        if end == -1:
            raise OriginError(value, "an IPv6 address is missing its ']'", "Write it as http://[::1]:8000.")
        host, after = rest[: end + 1], rest[end + 1 :]
        if after and not after.startswith(":"):
            raise OriginError(value, "unexpected text after the IPv6 address", "Write it as http://[::1]:8000.")
        port_text: str | None = after[1:] if after else None
    else:
        host, colon, port_text_raw = rest.rpartition(":")
        if not colon:
            host, port_text = rest, None
        else:
            port_text = port_text_raw
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise OriginError(
            value,
            f"{port_text!r} is not a port (1-65535)",
            "Write the port as a number, or leave it out for the scheme's default.",
        )
    port = int(port_text)
    return host, None if port == DEFAULT_PORTS[scheme] else port


def _canonical_host(value: str, host: str, wildcard: bool) -> str:
    if not host:
        raise OriginError(value, "it has no host", 'Write an origin such as "https://app.example.com".')
    if host.startswith("["):
        if wildcard:
            raise OriginError(value, "a wildcard cannot apply to an IP address", "List the address exactly.")
        return f"[{_canonical_ipv6(value, host)}]"
    if host.endswith("."):
        raise OriginError(
            value,
            "the host ends with a dot; browsers serialize origins without it",
            f"Write {host.rstrip('.')!r}.",
        )
    if host.isascii():
        ascii_host = host.lower()
        if ascii_host.startswith("xn--") or ".xn--" in ascii_host:
            ascii_host = _idna(value, ascii_host)
    else:
        ascii_host = _idna(value, host)
    # After IDNA mapping, so that full-width digits are read as the IPv4
    # address a browser would make of them.  Such a host is the IPv4
    # parser's; of its forms only the dotted quad is what browsers send back.
    if _ENDS_IN_NUMBER_RE.search(ascii_host):
        try:
            address4 = ipaddress.IPv4Address(ascii_host)
        except ValueError:
            if _IPV4_LIKE_RE.fullmatch(ascii_host):
                raise OriginError(
                    value, f"{host!r} is not a dotted-quad IPv4 address", "Write all four parts, e.g. 127.0.0.1."
                ) from None
            raise OriginError(
                value,
                f"{host!r} ends in a number, so browsers read it as an IPv4 address, not a host name",
                "Write an IPv4 address as four decimal numbers, e.g. 127.0.0.1, or use the host's name.",
            ) from None
        if wildcard:
            raise OriginError(value, "a wildcard cannot apply to an IP address", "List the address exactly.")
        return str(address4)
    if len(ascii_host) > 253 or not _CANONICAL_HOST_RE.fullmatch(ascii_host):
        raise OriginError(
            value,
            f"{host!r} is not a valid host name",
            "Use letters, digits and hyphens in dot-separated labels of at most 63 characters.",
        )
    # *.localhost is allowed: it only ever resolves to loopback.
    if "." not in ascii_host and wildcard and ascii_host != "localhost":
        raise OriginError(
            value,
            f"*.{ascii_host} would cover a whole top-level domain",
            "Allow a domain you control, e.g. https://*.yourcompany.com.",
        )
    return ascii_host


def _canonical_ipv6(value: str, host: str) -> str:
    literal = host[1:-1]
    # The character check refuses zone identifiers ("%eth0"), which Python's
    # ipaddress accepts but URLs cannot carry.
    try:
        if not _IPV6_LITERAL_RE.fullmatch(literal):
            raise ValueError(literal)
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        raise OriginError(value, f"{host!r} is not an IPv6 address", "Write it as http://[::1]:8000.") from None
    # The URL standard's IPv6 serializer (§3.5): eight hex pieces, the first
    # longest run of two or more zero pieces written "::".  Python's
    # ``compressed`` differs for IPv4-mapped addresses on newer versions
    # ("::ffff:127.0.0.1"), which browsers never send.
    pieces = [int.from_bytes(address.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    run_start, run_length = 0, 1
    start = 0
    while start < 8:
        stop = start
        while stop < 8 and pieces[stop] == 0:
            stop += 1
        if stop - start > run_length:
            run_start, run_length = start, stop - start
        start = stop + 1
    texts = [f"{piece:x}" for piece in pieces]
    if run_length == 1:
        return ":".join(texts)
    return ":".join(texts[:run_start]) + "::" + ":".join(texts[run_start + run_length :])


def _idna(value: str, host: str) -> str:
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise OriginError(
            value,
            f"{host!r} is not a valid internationalized host name ({exc})",
            "Check the spelling, or write the punycode (xn--) form.",
        ) from None
