"""Canonicalize and judge one host, the way the URL standard's host parser does.

Used by :mod:`credcors.core.origins` (the one validator); never imports Django.
A host comes out as browsers serialize it in an ``Origin`` header: lowercase
ASCII (internationalized labels as punycode), a dotted-quad IPv4 address, or
a bracketed, compressed IPv6 address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping

import idna

__all__ = [
    "LABEL",
    "LABEL_CHARS",
    "MAX_PORT",
    "HostProblem",
    "canonical_host",
    "ends_in_number",
    "is_potentially_trustworthy_host",
    "is_public_suffix",
    "parse_authority",
    "public_suffix_beneath",
    "registrable_domain",
    "spans_sites",
]

# One label as the URL standard's "domain to ASCII" leaves an ASCII host, with
# CheckHyphens and UseSTD3ASCIIRules off (URL §3.3): letters, digits, hyphens
# anywhere and underscores.  Browsers send such hosts ("http://k_.localhost",
# "https://-fc3.example.org"), and internal hosts with underscores are common.
# The URL standard allows a few more ASCII punctuation characters, but no DNS
# name carries them and several ("*", ",") mean something else in an allow
# list, so they stay refused.
LABEL = r"[a-z0-9_-]{1,63}"
#: The highest port (URL §4.4: a 16-bit unsigned integer).
MAX_PORT = 65535
#: The characters of :data:`LABEL`, for string tests where a regex is too slow.
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
_HOST_RE = re.compile(rf"{LABEL}(?:\.{LABEL})*")
# URL standard §3.5, "ends in a number checker": a host whose last label is
# decimal digits or 0x-hex goes to the IPv4 parser, so "0x7f.1" is 127.0.0.1
# to a browser and "app.1" is no valid host at all.  Either way no Origin
# header can ever carry it as written.
_HEX_DIGITS = frozenset("0123456789abcdef")


def ends_in_number(host: str) -> bool:
    """Whether a lowercase host's last label is decimal digits or ``0x`` hex (URL §3.5).

    Plain string tests, not a regex search, which would try every position
    of the host: this runs once per row when 100,000 rows load.
    """
    last = host[host.rfind(".") + 1 :]
    if last.isdigit():
        return last.isascii()
    return last.startswith("0x") and _HEX_DIGITS.issuperset(last[2:])


_IPV4_LIKE_RE = re.compile(r"[0-9.]+")
_IPV6_LITERAL_RE = re.compile(r"[0-9A-Fa-f:.]+")
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")
_IPV6_HINT = "Write it as http://[::1]:8000."
_IP_WILDCARD = ("a wildcard cannot apply to an IP address", "List the address exactly.")


class HostProblem(ValueError):
    """Why a host is refused, and what to write instead."""

    def __init__(self, problem: str, hint: str) -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem}. {hint}")


def parse_authority(rest: str, scheme: str, default_port: int) -> tuple[str, int | None, bool]:
    """Canonicalize what follows ``scheme://``: (host, port or ``None``, whether a ``*.`` pattern).

    A single trailing slash is forgiven; a path, query, fragment, userinfo or
    misplaced ``*`` is a :class:`HostProblem`.
    """
    if rest.endswith("/") and rest.count("/") == 1:
        rest = rest[:-1]  # A common, harmless slip.
    for char, part in (("/", "a path"), ("?", "a query"), ("#", "a fragment")):
        if char in rest:
            raise HostProblem(
                f"it has {part}; an origin is only scheme://host[:port]",
                f'Drop everything after the host and port: "{scheme}://{rest.split(char)[0]}".',
            )
    if "@" in rest:
        raise HostProblem(
            "it has userinfo (user:password@)", "Browsers never send it in Origin; drop everything up to the '@'."
        )
    host, port = _split_host_port(rest, default_port)
    wildcard = host.startswith("*.")
    if "*" in host[2 if wildcard else 0 :]:
        raise HostProblem(
            "a '*' may only stand as one whole leading label, as in https://*.example.com",
            'Use "scheme://*.domain" for "one or more subdomains of domain".',
        )
    return canonical_host(host[2:] if wildcard else host, wildcard), port, wildcard


def _split_host_port(rest: str, default_port: int) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 hosts in brackets); a default port becomes ``None``."""
    if rest.startswith("["):
        end = rest.find("]")
        if end == -1:
            raise HostProblem("an IPv6 address is missing its ']'", _IPV6_HINT)
        host, after = rest[: end + 1], rest[end + 1 :]
        if after and not after.startswith(":"):
            raise HostProblem("unexpected text after the IPv6 address", _IPV6_HINT)
        port_text = after[1:] if after else None
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon:
            return rest, None
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) <= MAX_PORT:
        raise HostProblem(
            f"{port_text!r} is not a port (1-65535)",
            "Write the port as a number, or leave it out for the scheme's default.",
        )
    port = int(port_text)
    return host, None if port == default_port else port


def canonical_host(host: str, wildcard: bool = False) -> str:
    """The host as a browser serializes it, or :class:`HostProblem`.

    ``wildcard`` says ``host`` is the part after ``*.`` of a pattern, which
    must be a domain name of two labels or more (or ``localhost``).
    """
    if not host:
        raise HostProblem("it has no host", 'Write an origin such as "https://app.example.com".')
    if host.startswith("["):
        if wildcard:
            raise HostProblem(*_IP_WILDCARD)
        return f"[{_canonical_ipv6(host)}]"
    if host.endswith("."):
        raise HostProblem(
            "the host ends with a dot; browsers serialize origins without it", f"Write {host.rstrip('.')!r}."
        )
    ascii_host = _to_ascii(host)
    # After IDNA mapping, so that full-width digits are read as the IPv4
    # address a browser would make of them.  Such a host is the IPv4
    # parser's; of its forms only the dotted quad is what browsers send back.
    if ends_in_number(ascii_host):
        try:
            address = ipaddress.IPv4Address(ascii_host)
        except ValueError:
            if _IPV4_LIKE_RE.fullmatch(ascii_host):
                raise HostProblem(
                    f"{host!r} is not a dotted-quad IPv4 address", "Write all four parts, e.g. 127.0.0.1."
                ) from None
            raise HostProblem(
                f"{host!r} ends in a number, so browsers read it as an IPv4 address, not a host name",
                "Write an IPv4 address as four decimal numbers, e.g. 127.0.0.1, or use the host's name.",
            ) from None
        if wildcard:
            raise HostProblem(*_IP_WILDCARD)
        return str(address)
    if len(ascii_host) > 253 or not _HOST_RE.fullmatch(ascii_host):
        raise HostProblem(
            f"{host!r} is not a valid host name",
            "Use letters, digits, hyphens and underscores in dot-separated labels of at most 63 characters.",
        )
    # *.localhost is allowed: it only ever resolves to loopback.
    if wildcard and "." not in ascii_host and ascii_host != "localhost":
        raise HostProblem(
            f"*.{ascii_host} would cover a whole top-level domain",
            "Allow a domain you control, e.g. https://*.yourcompany.com.",
        )
    return ascii_host


def _to_ascii(host: str) -> str:
    # URL §3.3 "domain to ASCII": UTS #46 mapping, then each label to its
    # ASCII form.  ASCII labels pass as they are (lowercased); an "xn--"
    # label must decode and re-encode to itself, or no browser would send it.
    try:
        mapped = host.lower() if host.isascii() else idna.uts46_remap(host, std3_rules=False, transitional=False)
        labels = []
        for label in mapped.split("."):
            if not label.isascii():
                label = idna.alabel(label).decode("ascii")
            elif label.startswith("xn--") and idna.alabel(idna.ulabel(label)).decode("ascii") != label:
                raise idna.IDNAError(f"{label!r} is not in its canonical punycode form")
            labels.append(label)
    except (idna.IDNAError, UnicodeError) as exc:
        raise HostProblem(
            f"{host!r} is not a valid internationalized host name ({exc})",
            "Check the spelling, or write the punycode (xn--) form.",
        ) from None
    return ".".join(labels)


def _canonical_ipv6(host: str) -> str:
    literal = host[1:-1]
    # The character check refuses zone identifiers ("%eth0"), which Python's
    # ipaddress accepts but URLs cannot carry.
    try:
        if not _IPV6_LITERAL_RE.fullmatch(literal):
            raise ValueError(literal)
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        raise HostProblem(f"{host!r} is not an IPv6 address", _IPV6_HINT) from None
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


@functools.lru_cache(maxsize=1)
def _public_suffix_list() -> object:
    # Imported lazily: loading the bundled list costs ~100 ms and only
    # patterns and site checks need it.  The list ships inside the package;
    # nothing is downloaded at run time.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(host: str) -> bool:
    """Whether a canonical DNS host is itself a public suffix (``com``, ``co.uk``, ``vercel.app``)."""
    if host == "localhost":
        # The PSL's implicit "*" rule makes every unknown TLD public;
        # *.localhost only ever resolves to loopback, so it is safe.
        return False
    return bool(_public_suffix_list().is_public(host))  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def _suffixes_beneath() -> Mapping[str, str]:
    # Every domain with public suffixes strictly beneath it, mapped to the
    # one a refusal names: the shortest, then the first in alphabetical
    # order ("amazonaws.com" -> "s3.amazonaws.com").  publicsuffixlist has
    # no API for "is any rule beneath this domain", so this walks its parsed
    # rules once per process, on first use: 20-25 ms on a loaded 2-core
    # machine (the list's own load took 160-210 ms there), 113 KiB kept
    # and 0.75 MB at peak, for the ~10,400 ASCII rules of the bundled list,
    # which have 1,305 parent domains.  Its rule set is a private attribute;
    # tests/core/test_hosts.py pins its shape, so an upgrade that renames it
    # fails the suite, not a user.  The library also holds each
    # internationalized rule in punycode, the form canonical hosts have.
    rules: frozenset[str] = _public_suffix_list()._publicsuffix  # type: ignore[attr-defined]
    ascii_rules = [rule for rule in rules if rule.isascii()]
    # A wildcard rule is a name too, so that "kobe.jp" has "*.kobe.jp" beneath it.
    names = sorted({*map(_suffix_name, ascii_rules), *(rule for rule in ascii_rules if rule[0] == "*")})
    names.sort(key=len)
    beneath: dict[str, str] = {}
    for name in names:
        dot = name.find(".")
        while dot != -1:
            beneath.setdefault(name[dot + 1 :], name)
            dot = name.find(".", dot + 1)
    return beneath


def _suffix_name(rule: str) -> str:
    # The public suffix a PSL rule makes: "x.y" itself; "*.x.y" makes every
    # "label.x.y" public and, as the list's linter and publicsuffixlist read
    # it, "x.y" too; "!www.x.y" is the exception to a wildcard whose
    # root "x.y" is public.
    if rule.startswith("!"):
        return rule[1:].partition(".")[2]
    return rule.removeprefix("*.")


def public_suffix_beneath(host: str) -> str | None:
    """A public suffix strictly beneath a canonical DNS host, or ``None``.

    ``amazonaws.com`` is no public suffix itself, but ``s3.amazonaws.com``
    beneath it is (the PSL's private section counts, as do wildcard and
    exception rules), so a pattern over it would cover hosts that anyone
    can register.  Under a wildcard's root the answer is the rule itself
    (``kobe.jp`` -> ``*.kobe.jp``).
    """
    return _suffixes_beneath().get(host)


def spans_sites(host: str) -> bool:
    """Whether hosts beneath ``host`` may have a registrable domain other than ``host``'s.

    False exactly when every host under a ``*.`` pattern over ``host`` is
    of one site with ``host`` (:func:`registrable_domain`): ``host`` is not
    a public suffix and has none beneath it.
    """
    return is_public_suffix(host) or host in _suffixes_beneath()


def registrable_domain(host: str) -> str:
    """The part of a canonical host that decides its *site* (HTML §7.1.1 "same site").

    For a DNS name that is the registrable domain from the Public Suffix List
    (``api.example.co.uk`` -> ``example.co.uk``); ``localhost`` and every
    ``*.localhost`` are one site; an IP address, or a host that is itself a
    public suffix, is its own site.
    """
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost"
    if host.startswith("[") or ends_in_number(host):
        return host
    domain = _public_suffix_list().privatesuffix(host)  # type: ignore[attr-defined]
    return host if domain is None else str(domain)
