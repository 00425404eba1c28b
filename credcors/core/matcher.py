"""Compile grants into one immutable lookup whose cost ignores the list's size.

Exact origins go into a dict keyed by their serialization, so matching a
request's ``Origin`` is one hash lookup.  Patterns (``https://*.example.com``)
go into a dict keyed by (scheme, port) and then by the host after ``*.``;
matching walks the request host's label suffixes, so its cost is bounded by
the number of labels in the *request* (at most 127), never by the number of
patterns.  The matcher hands back the grant itself, so callers work on its
:class:`~credcors.core.origins.Rule`, never on strings they would have to re-parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar

from credcors.core.hosts import spans_sites
from credcors.core.origin_header import split_wire_origin
from credcors.core.origins import ANY_PORT, Rule

__all__ = ["HasRule", "Index", "compile_index"]

#: Most answers past ``exact`` an index's cache keeps in each of its dicts (see ``Index.hot``).
_ANSWERS_BOUND = 1024


class HasRule(Protocol):
    """Anything the index can hold: the rule it stands for, and that rule's serialization."""

    @property
    def rule(self) -> Rule: ...

    @property
    def origin(self) -> str: ...


G = TypeVar("G", bound=HasRule)


@dataclass(frozen=True, slots=True)
class Index(Generic[G]):
    """Answers "which grant allows this origin?" in time independent of size.

    ``exact`` maps a canonical origin to its grant; ``patterns`` maps
    (scheme, port) to {host after ``*.``: grant}.
    """

    exact: Mapping[str, G]
    patterns: Mapping[tuple[str, int | None], Mapping[str, G]]
    #: ``http://localhost:*``-style grants (only while DEBUG), keyed by ``scheme://host``.
    any_port: Mapping[str, G] = field(default_factory=dict)
    #: The exact origins of database rows, packed (a :class:`~credcors.core.rowmap.RowMap`);
    #: ``exact`` holds the settings' ones, which win when both hold an origin.
    rows: Mapping[str, G] = field(default_factory=dict)
    #: Turns a grant found past ``exact`` into the one cached for the origin that
    #: matched it (a snapshot passes ``Grant.for_origin``, which prebuilds its
    #: answers for that origin); ``None`` caches the grant as found.
    resolve: Callable[[G, str], G] | None = field(default=None, compare=False)
    # The one cache credcors keeps, in two dicts: ``hot`` starts as a copy
    # of ``exact`` and gains, for every wire origin a lookup past ``exact``
    # allowed (a packed row, an any-port entry, the pattern walk), its grant
    # resolved for that origin; ``_refused`` remembers the well-formed
    # origins nothing allows.  Those lookups are pure over this immutable
    # index, so a hit returns exactly what looking again would, and a new
    # snapshot starts new dicts.  An allowed request is one ``hot.get()``
    # whether its origin came from settings or from a database row, and its
    # decision is prebuilt either way: measured with `python3 dev.py bench
    # --hot-path`, decide() for a row origin took 2.7 times a settings
    # origin's when it built the row's grant and decision per request, and
    # without any cache the patterns cells cost 0.145-0.186 of
    # django-cors-headers' overhead against the 0.125 target.
    # Bounded (clients choose the origins they send): each dict is replaced
    # by a fresh one when it holds ``_ANSWERS_BOUND`` answers past ``exact``.
    # Safe under concurrent use: each dict operation is atomic under the GIL,
    # a replacement rebinds one attribute, and two threads that miss at once
    # store the same answer.
    hot: dict[str, G] = field(init=False, repr=False, compare=False)
    _refused: dict[str, None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hot", dict(self.exact))

    def __len__(self) -> int:
        patterns = sum(len(hosts) for hosts in self.patterns.values())
        return len(self.exact) + len(self.rows) + patterns + len(self.any_port)

    def __iter__(self) -> Iterator[G]:
        """Every grant: exact origins first (settings, then rows), then patterns, then any-port ones."""
        yield from self.exact.values()
        yield from self.rows.values()
        for hosts in self.patterns.values():
            yield from hosts.values()
        yield from self.any_port.values()

    def with_rows(self, rows: Mapping[str, G] | None) -> Index[G]:
        """This index with other packed rows: its other mappings shared, its cache new and empty."""
        return replace(self, rows=MappingProxyType({}) if rows is None else rows)

    def exact_grant(self, origin: str) -> G | None:
        """The grant of an exact origin (settings first, then rows), else ``None``."""
        grant = self.exact.get(origin)
        return self.rows.get(origin) if grant is None else grant

    def lookup_any_port(self, origin: str) -> G | None:
        """The any-port grant for a wire origin on its host (any port a browser sends, or none), else ``None``."""
        base, _, port = origin.rpartition(":")
        grant = self.any_port.get(base)
        if grant is not None and port.isdigit() and port.isascii() and port[0] != "0" and 80 != int(port) <= 65535:
            return grant
        return self.any_port.get(origin)

    def lookup(self, origin: str) -> G | None:
        """The grant that allows a wire origin, else ``None``.

        ``origin`` is the request header as received; callers must already
        have refused values longer than ``wire.MAX_ORIGIN_LENGTH``.
        """
        grant = self.exact.get(origin)
        return self.find(origin)[0] if grant is None else grant

    def find(self, origin: str) -> tuple[G | None, bool]:
        """The grant of an origin that ``hot`` lacks, cached, and whether the origin was wire-valid.

        ``(grant, True)`` or ``(None, True)`` for an origin as browsers send
        it (or a database row holds); ``(None, False)`` for anything else,
        which is never cached.
        """
        if origin in self._refused:
            return None, True
        # ``exact`` first: ``hot`` may have just been replaced by another thread.
        grant = self.exact.get(origin)
        if grant is None:
            grant = self.rows.get(origin)
        if grant is None and self.any_port:
            grant = self.lookup_any_port(origin)
        if grant is None:
            parts = split_wire_origin(origin)
            if parts is None:
                return None, False
            grant = self.lookup_pattern(*parts)
        if grant is None:
            refused = self._refused
            if len(refused) >= _ANSWERS_BOUND:
                refused = {}
                object.__setattr__(self, "_refused", refused)
            refused[origin] = None
            return None, True
        if self.resolve is not None:
            grant = self.resolve(grant, origin)
        hot = self.hot
        if len(hot) >= len(self.exact) + _ANSWERS_BOUND:
            hot = dict(self.exact)
            object.__setattr__(self, "hot", hot)
        hot[origin] = grant
        return grant, True

    def lookup_pattern(self, scheme: str, host: str, port: int | None) -> G | None:
        """The pattern grant covering a host that a pattern may cover, else ``None``."""
        bases = self.patterns.get((scheme, port))
        if bases is None:
            return None
        # Try each proper suffix of the host, longest first: for
        # "a.b.example.com" that is "b.example.com", then "example.com", ...
        # A pattern never matches its own base host (the apex).
        dot = host.find(".")
        while dot != -1:
            grant = bases.get(host[dot + 1 :])
            if grant is not None:
                return grant
            dot = host.find(".", dot + 1)
        return None


def compile_index(
    grants: Iterable[G], rows: Mapping[str, G] | None = None, resolve: Callable[[G, str], G] | None = None
) -> Index[G]:
    """Build an :class:`Index`; when two grants share a rule, the first one wins.

    A pattern that could cover hosts of another site (:func:`~credcors.core.hosts.spans_sites`)
    is left out, whoever made it.

    Callers pass settings before database rows, so explanations name the
    settings entry; ``rows`` holds the database rows' exact origins, packed,
    and must leave out those that ``grants`` has.
    """
    exact: dict[str, G] = {}
    patterns: dict[tuple[str, int | None], dict[str, G]] = {}
    any_port: dict[str, G] = {}
    for grant in grants:
        rule = grant.rule
        if rule.wildcard:
            # The second line of defence (issue 21, finding 2): the validator
            # refuses a pattern over a public suffix or one with suffixes
            # beneath it, and a row of one is left out as invalid before it
            # gets here; a Rule made any other way is dropped too.  So every
            # host a pattern grants has its base's registrable domain, at no
            # cost per request (two Public Suffix List lookups per pattern, per compile).
            if not spans_sites(rule.host):
                patterns.setdefault(rule.key, {}).setdefault(rule.host, grant)
        elif rule.port == ANY_PORT:
            any_port.setdefault(f"{rule.scheme}://{rule.host}", grant)
        else:
            exact.setdefault(grant.origin, grant)
    return Index(
        exact=MappingProxyType(exact),
        patterns=MappingProxyType({key: MappingProxyType(hosts) for key, hosts in patterns.items()}),
        any_port=MappingProxyType(any_port),
        rows=MappingProxyType({}) if rows is None else rows,
        resolve=resolve,
    )
