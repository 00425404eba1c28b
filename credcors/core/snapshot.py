"""The compiled allow-list: one grant per allowed origin or pattern, answers prebuilt.

A :class:`Snapshot` is built once per change of settings or rows, never per
request, and never changes afterwards.  Each :class:`~credcors.core.grants.Grant`
carries its rule, its source and, for an exact origin from settings, the very
decisions the middleware returns for an allowed actual request and an allowed
preflight, headers included; so deciding an allowed request is a dict lookup
and a few comparisons, with nothing built (the way whitenoise prepares each
file once at start-up).  A pattern's grant cannot know the origin it will
echo, so its decisions share the prebuilt header tails and add the one
``Access-Control-Allow-Origin`` pair per request.  Database rows' exact
origins, which may number a million, are packed into a
:class:`~credcors.core.rowmap.RowMap` that builds a grant when a request asks for
it; a change of a few rows makes a new snapshot that shares everything else
(:meth:`Snapshot.changed`).  The answers' vocabulary lives in
:mod:`credcors.core.decision`.  Pure: never imports Django.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decision import Decision, Headers, Kind, Reason
from credcors.core.fetch import ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN
from credcors.core.grants import Grant, grant_of
from credcors.core.matcher import Index, compile_index
from credcors.core.origins import ANY_PORT, Rule
from credcors.core.rowmap import Entry, RowMap

__all__ = [
    "ANY_ORIGIN",
    "Policy",
    "Snapshot",
    "compile_policy",
    "compile_snapshot",
]

#: A database row to compile: its rule, the rule's serialization, its id, its expiry (epoch seconds) or None.
Row = tuple[Rule | None, str, int, float | None]
#: A row a change adds: (its policy's name, the row, trusted for CSRF).
Added = tuple[str, Row, bool]

#: The rule of an ``ALLOW_ALL_ORIGINS`` policy's one grant; it is in no index.
ANY_ORIGIN = Rule("*", "*", None)


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy, compiled: its own grants and headers.

    ``any_origin`` is set for an ``ALLOW_ALL_ORIGINS`` policy: the one grant
    that answers ``Access-Control-Allow-Origin: *`` (never with credentials)
    to every origin; its ``index`` is then empty.
    """

    name: str
    index: Index[Grant]
    headers: Headers
    any_origin: Grant | None = None
    rows: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision needs, compiled once per change and never mutated.

    ``policies`` holds every policy, the default one first; ``default`` is
    the same object as ``policies["default"]``, read without a dict lookup
    by the views that name no policy, which are most of them.
    """

    policies: Mapping[str, Policy]
    #: The earliest expiry of a grant it holds (seconds since the epoch), or
    #: ``None``: the store swaps in :meth:`without_expired` when it passes.
    next_expiry: float | None = None
    default: Policy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "default", self.policies[DEFAULT_POLICY])

    @property
    def rows(self) -> int:
        """The database rows it serves, in every policy."""
        return sum(policy.rows for policy in self.policies.values())

    def headers_of(self, policy: str) -> Headers:
        """The response headers of ``policy``; the default's for an unknown name."""
        return self.policies.get(policy, self.default).headers

    def exact_grant(self, origin: str, policy: str) -> Grant | None:
        """The grant of the exact ``origin`` in ``policy`` (a settings entry first, then a row), else ``None``.

        ``None`` too for a policy this snapshot does not hold, and for an
        ``ALLOW_ALL_ORIGINS`` one, whose index is empty.
        """
        compiled = self.policies.get(policy)
        return None if compiled is None else compiled.index.exact_grant(origin)

    def trusts_for_csrf(self, origin: str, policy: str) -> bool:
        """Whether Django's CSRF origin check may accept ``origin`` on a view of ``policy``.

        Only the policy of the view being written to counts: an origin
        trusted by a partner policy earns nothing on the default policy's
        views, which refuse it for CORS too.  Exact origins only: a pattern
        covers hosts nobody has reviewed (any subdomain, including one taken
        over or user-controlled); nor does a policy that allows every origin,
        or sends no credentials, trust any.  Which exact origins are trusted
        was decided per grant when the snapshot was compiled.
        """
        grant = self.exact_grant(origin, policy)
        return grant is not None and grant.csrf

    def without_expired(self, now: float) -> Snapshot:
        """This snapshot without the grants expired at ``now`` (itself when none has).

        Built from the grants already compiled: nothing is parsed or read
        again, so a store can swap it in the moment an expiry passes.
        Settings grants never expire, and a row shadowed by a settings entry
        was never in the index, so this is what compiling the rows again
        at ``now`` would give.
        """
        if self.next_expiry is None or now < self.next_expiry:
            return self
        return self._rebuilt(lambda index, name: _unexpired(index, now))

    def changed(self, removed: Collection[int], added: Iterable[Added]) -> Snapshot | None:
        """This snapshot without the rows ``removed`` (ids), then with ``added``; ``None`` to compile anew.

        Each added row is already validated, unexpired and of a policy that
        takes rows.  Only exact origins change this way, at a cost that
        follows the change, not the list; a change that involves a pattern
        or any-port row answers ``None`` (patterns are few: compile them
        all again).
        """
        by_policy: dict[str, list[Entry]] = {}
        for name, (rule, origin, pk, at), csrf in added:
            if rule is not None and (rule.wildcard or rule.port == ANY_PORT):
                return None
            # The same rule as _index: no CSRF trust without credentials.
            by_policy.setdefault(name, []).append((origin, pk, csrf and self.headers_of(name).credentials, at))
        if any(not _pattern_sources(policy.index).isdisjoint(removed) for policy in self.policies.values()):
            return None

        def change(index: Index[Grant], name: str) -> Index[Grant]:
            added = (entry for entry in by_policy.get(name, ()) if entry[0] not in index.exact)
            return index.with_rows(_row_map(index, self.headers_of(name)).changed(removed, added) or None)

        return self._rebuilt(change)

    def _rebuilt(self, rebuild: Callable[[Index[Grant], str], Index[Grant]]) -> Snapshot:
        # A snapshot whose every policy's index is ``rebuild(index, name)``;
        # ALLOW_ALL_ORIGINS policies have no index to rebuild.
        return compile_snapshot(
            policy
            if policy.any_origin is not None
            else Policy(name, kept := rebuild(policy.index, name), policy.headers, None, _count_rows(kept))
            for name, policy in self.policies.items()
        )


def _index(
    headers: Headers,
    settings_rules: Iterable[Rule],
    rows: Iterable[Row],
    trusted: Callable[[str], bool],
    trusted_rows: Container[int],
    rows_trusted: bool,
    now: float,
    packed: RowMap | None = None,
) -> Index[Grant]:
    # A policy without credentials trusts nobody for CSRF: its pages cannot
    # read a token that belongs to the user's CSRF cookie (the browser sends
    # no cookie and keeps no Set-Cookie), so trust would only serve forged
    # form posts.
    credentials = headers.credentials
    grants = [Grant.build(rule, None, headers, credentials and trusted(rule.serialize())) for rule in settings_rules]
    packed_rows: list[Entry] = []
    for rule, origin, pk, at in rows:
        if at is not None and at <= now:
            continue
        csrf = credentials and (rows_trusted or pk in trusted_rows)
        if rule is not None and (rule.wildcard or rule.port == ANY_PORT):
            grants.append(grant_of(rule, origin, pk, headers, False, at))
        else:
            packed_rows.append((origin, pk, csrf, at))
    index = compile_index(grants)
    exact = index.exact
    # No rows: no RowMap, so that a lookup's miss stays one C-level dict get.
    entries = (entry for entry in packed_rows if entry[0] not in exact)
    if packed is None:
        rows_map = RowMap(headers, entries) or None
    else:
        # Rows packed from columns (a cold load): a settings entry wins over a
        # row of the same origin, and the rows that took the validator join.
        shadowed = [
            row.source for origin in exact if (row := packed.get(origin)) is not None and row.source is not None
        ]
        rows_map = packed.changed(shadowed, entries) or None
    return compile_index(grants, rows_map, Grant.for_origin)


def _row_map(index: Index[Grant], headers: Headers) -> RowMap:
    rows = index.rows
    return rows if isinstance(rows, RowMap) else RowMap(headers)


def _small_grants(index: Index[Grant]) -> Iterator[Grant]:
    # Everything but the packed rows: settings entries, then patterns and any-port grants.
    yield from index.exact.values()
    for hosts in index.patterns.values():
        yield from hosts.values()
    yield from index.any_port.values()


def _pattern_sources(index: Index[Grant]) -> set[int]:
    return {grant.source for grant in _small_grants(index) if grant.source is not None}


def _count_rows(index: Index[Grant]) -> int:
    return len(index.rows) + len(_pattern_sources(index))


def _unexpired(index: Index[Grant], now: float) -> Index[Grant]:
    rows = index.rows
    kept = (grant for grant in _small_grants(index) if grant.expires is None or grant.expires > now)
    if isinstance(rows, RowMap):
        return compile_index(kept, rows.changed(rows.expired(now)) or None, Grant.for_origin)
    return compile_index(kept, resolve=Grant.for_origin)


def _next_expiry(policies: Iterable[Policy]) -> float | None:
    # The earliest expiry among the rows of every policy: settings never expire.
    indexes = [policy.index for policy in policies if policy.any_origin is None]
    expiries = [each.rows.next_expiry for each in indexes if isinstance(each.rows, RowMap)]
    expiries += [grant.expires for each in indexes for grant in _small_grants(each)]
    return min((at for at in expiries if at is not None), default=None)


def compile_policy(
    name: str,
    headers: Headers,
    settings_rules: Iterable[Rule] = (),
    rows: Iterable[Row] = (),
    *,
    allow_all: bool = False,
    csrf_origins: Container[str] = frozenset(),
    trust_rows: bool = False,
    trusted_rows: Container[int] = frozenset(),
    now: float = -math.inf,
    packed: RowMap | None = None,
) -> Policy:
    """Compile one policy: its settings rules, then its database rows (see :data:`Row`).

    A row is (rule, its serialization, row id, expiry in seconds since the
    epoch or ``None``); rows expired at ``now`` are left out.  When a rule
    appears in both, the settings entry wins, so explanations name it.
    ``csrf_origins`` are the exact settings origins trusted for CSRF on the
    policy's views; an exact row is trusted when ``trust_rows`` is set or
    its id is in ``trusted_rows``.  A policy without credentials trusts none.
    """
    if allow_all:
        # Fetch §3.2.5: "*" is the one answer that needs no echo, and the
        # browser refuses it on a credentialed request: never send
        # Access-Control-Allow-Credentials with it.
        star = (ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        actual = tuple(pair for pair in headers.actual if pair[0] != ACCESS_CONTROL_ALLOW_CREDENTIALS)
        preflight = tuple(pair for pair in headers.preflight if pair[0] != ACCESS_CONTROL_ALLOW_CREDENTIALS)
        any_origin = Grant(
            ANY_ORIGIN,
            "*",
            None,
            headers,
            False,
            Decision(Kind.ACTUAL, True, Reason.ALLOWED, (star, *actual), ANY_ORIGIN),
            Decision(Kind.PREFLIGHT, True, Reason.ALLOWED, (star, *preflight), ANY_ORIGIN),
        )
        return Policy(name, compile_index((), resolve=Grant.for_origin), headers, any_origin)
    index = _index(headers, settings_rules, rows, csrf_origins.__contains__, trusted_rows, trust_rows, now, packed)
    return Policy(name, index, headers, rows=_count_rows(index))


def compile_snapshot(policies: Iterable[Policy]) -> Snapshot:
    """A :class:`Snapshot` of compiled policies; one of them must be the default."""
    named = {policy.name: policy for policy in policies}
    # The default first, so that every listing of a snapshot's policies starts with it.
    ordered = {DEFAULT_POLICY: named.pop(DEFAULT_POLICY), **named}
    return Snapshot(MappingProxyType(ordered), _next_expiry(ordered.values()))
