"""Host scopes: the request hosts an origin applies to, spelled as ``ALLOWED_HOSTS`` spells them.

One deployment often answers for many customers' API hosts; a scope says on
which of them an allowed origin is allowed.  An entry is a host
(``api.customer-a.com``: that host alone) or a leading-dot domain
(``.customer-a.com``: the domain and every subdomain), compared with the host
Django validated (``request.get_host()`` without its port, lowercase), as
Django's own ``is_same_domain`` compares it with ``ALLOWED_HOSTS``.  No scope
(the empty tuple) means every host, as in 0.1.

A compiled policy keeps its scoped grants in one index per distinct entry,
so a request costs a lookup for its own host and, only when the policy has
leading-dot entries, one for each of its host's label suffixes: bounded by
the labels of the request, never by the number of entries.  Pure: never
imports Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from credcors.core.hosts import HostProblem, canonical_host

__all__ = [
    "MAX_SCOPE_ENTRIES",
    "ScopeError",
    "canonical_scope",
    "covers",
    "join_scopes",
    "parse_scopes",
    "scope_keys",
    "split_scopes",
]

#: Most host entries one row or one policy may name.
MAX_SCOPE_ENTRIES = 100


class ScopeError(ValueError):
    """Why a host entry is refused, and what to write instead."""

    def __init__(self, problem: str, hint: str) -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem}. {hint}")

    @property
    def message(self) -> str:
        return f"{self.problem}. {self.hint}"


def canonical_scope(value: object) -> str:
    """One host entry in canonical form (lowercase ASCII, punycode, no port), or :class:`ScopeError`."""
    if not isinstance(value, str):
        raise ScopeError(f"a host must be a string, not {type(value).__name__}", 'Write e.g. "api.example.com".')
    text = value.strip()
    shown = repr(value[:80])
    if not text:
        raise ScopeError("a host is empty", 'Write a host such as "api.example.com", or ".example.com".')
    if "://" in text or "/" in text:
        raise ScopeError(
            f"{shown} is a URL or an origin, not a host",
            'Write the API\'s host alone, as in ALLOWED_HOSTS: e.g. "api.example.com".',
        )
    if text == "*" or text.startswith("*"):
        raise ScopeError(
            f"{shown} is a wildcard; a scope names the hosts it applies to",
            'Write ".example.com" for example.com and its subdomains, or leave the hosts empty for every host.',
        )
    dotted = text.startswith(".")
    body = text[1:] if dotted else text
    if not body.startswith("[") and ":" in body:
        raise ScopeError(
            f"{shown} has a port; scopes compare the host without its port, as ALLOWED_HOSTS does",
            f"Write {body.rsplit(':', 1)[0]!r}.",
        )
    if body.startswith("[") and not body.endswith("]"):
        raise ScopeError(f"{shown} has a port or is not a bracketed IPv6 address", 'Write e.g. "[::1]".')
    if dotted and (body.startswith("[") or not body):
        raise ScopeError(f"{shown} is not a domain", 'A leading dot goes before a domain name: ".example.com".')
    try:
        host = canonical_host(body)
    except HostProblem as exc:
        raise ScopeError(exc.problem, exc.hint) from None
    if dotted and host[-1].isdigit() and host.replace(".", "").isdigit():
        raise ScopeError(f"{shown} is an IP address, not a domain", f"Write {host!r} without the leading dot.")
    return f".{host}" if dotted else host


def parse_scopes(value: str | Iterable[object]) -> tuple[str, ...]:
    """Host entries (one string of entries separated by spaces, commas or lines, or a list), canonical and sorted.

    The empty tuple means every host.  Raises :class:`ScopeError` for the
    first entry refused, and for more than :data:`MAX_SCOPE_ENTRIES`.
    """
    entries: Iterable[object] = value.replace(",", " ").split() if isinstance(value, str) else value
    scopes = sorted({canonical_scope(entry) for entry in entries})
    if len(scopes) > MAX_SCOPE_ENTRIES:
        raise ScopeError(
            f"{len(scopes)} hosts is more than {MAX_SCOPE_ENTRIES}",
            'Cover a customer\'s hosts with one leading-dot domain (".customer.com"), or add one row per host.',
        )
    return tuple(scopes)


def join_scopes(scopes: Iterable[str]) -> str:
    """Scopes as the ``hosts`` column stores them: space-separated, sorted; ``""`` for every host."""
    return " ".join(sorted(set(scopes)))


def split_scopes(stored: str) -> tuple[str, ...]:
    """The scopes of a stored ``hosts`` value (written by :func:`join_scopes`), not validated again."""
    return tuple(stored.split()) if stored else ()


def scope_keys(host: str, dotted: bool = True) -> Iterator[str]:
    """The entries that cover ``host``: the host itself, then (``dotted``) each leading-dot domain above it.

    For ``a.b.example.com``: ``a.b.example.com``, ``.a.b.example.com``,
    ``.b.example.com``, ``.example.com``, ``.com``; as many as the host has
    labels, plus one.
    """
    yield host
    if not dotted or host.startswith("["):
        return
    yield f".{host}"
    dot = host.find(".")
    while dot != -1:
        yield host[dot:]
        dot = host.find(".", dot + 1)


def covers(scope: str, host: str) -> bool:
    """Whether one entry covers ``host`` (Django's ``is_same_domain``, on canonical values)."""
    if scope.startswith("."):
        return host == scope[1:] or host.endswith(scope)
    return host == scope
