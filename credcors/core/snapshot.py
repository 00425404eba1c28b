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
from credcors.core.scopes import scope_keys

__all__ = [
    "ANY_ORIGIN",
    "Policy",
    "Snapshot",
    "compile_policy",
    "compile_snapshot",
]

#: A database row to compile: its rule, the rule's serialization, its id, its expiry (epoch seconds) or None.
Row = tuple[Rule | None, str, int, float | None]
#: A row a change adds: (its policy's name, the row, trusted for CSRF[, its host scopes; absent or ``()``: every host]).
Added = tuple[str, Row, bool] | tuple[str, Row, bool, tuple[str, ...]]
#: The most (removed row, scoped index) pairs a change looks through before it compiles anew instead.
_SCOPED_CHANGE_BOUND = 200_000
_NO_SCOPES: Mapping[str, Index[Grant]] = MappingProxyType({})
_NO_SHARED: Mapping[int, tuple[str, ...]] = MappingProxyType({})
_NO_SHARED_BY_POLICY: Mapping[str, Mapping[int, tuple[str, ...]]] = MappingProxyType({})

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
    #: Host scope entry (``api.customer-a.com``, ``.customer-a.com``) to the
    #: index of the grants that apply on the hosts it covers; ``index`` holds
    #: those that apply on every host.  Each entry is stored once, however
    #: many rows name it.
    scoped: Mapping[str, Index[Grant]] = field(default_factory=lambda: _NO_SCOPES)
    #: The scoped rows that name more than one entry: row id to its entries
    #: (so that ``rows`` counts such a row once).
    shared: Mapping[int, tuple[str, ...]] = field(default_factory=lambda: _NO_SHARED)
    #: Whether some entry of ``scoped`` is a leading-dot domain: only then
    #: does a lookup try the request host's parent domains.
    dotted: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dotted", any(entry.startswith(".") for entry in self.scoped))

    def scoped_grant(self, host: str | None, origin: str) -> Grant | None:
        """The grant that allows ``origin`` on request host ``host`` through a scoped entry, else ``None``.

        ``host`` is the one Django validated, without its port; ``None`` (no
        valid host) finds nothing.  One lookup for the host itself, and one
        per label suffix when some entry is a leading-dot domain.
        """
        scoped = self.scoped
        if host is None:
            return None
        # The host itself first, written out: most scopes name one API host.
        index = scoped.get(host)
        if index is not None:
            grant = index.hot.get(origin)
            if grant is None:
                grant = index.find(origin)[0]
            if grant is not None:
                return grant
        if not self.dotted:
            return None
        keys = scope_keys(host)
        next(keys)  # The host itself, tried above.
        for entry in keys:
            index = scoped.get(entry)
            if index is not None:
                grant = index.hot.get(origin)
                if grant is None:
                    grant = index.find(origin)[0]
                if grant is not None:
                    return grant
        return None

    def scopes_of(self, origin: str) -> list[str]:
        """The scope entries under which ``origin`` is allowed (for explanations: costs one lookup per entry)."""
        return [entry for entry, index in self.scoped.items() if index.lookup(origin) is not None]

    def exact_grant(self, origin: str, host: str | None = None) -> Grant | None:
        """The grant of the exact ``origin`` on every host, else on ``host`` through a scoped entry, else ``None``."""
        grant = self.index.exact_grant(origin)
        if grant is not None or host is None or not self.scoped:
            return grant
        for entry in scope_keys(host, self.dotted):
            index = self.scoped.get(entry)
            grant = None if index is None else index.exact_grant(origin)
            if grant is not None:
                return grant
        return None


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

    def exact_grant(self, origin: str, policy: str, host: str | None = None) -> Grant | None:
        """The grant of the exact ``origin`` in ``policy`` (a settings entry first, then a row), else ``None``.

        Grants scoped to hosts count only on ``host`` (a request host Django
        validated, without its port).  ``None`` too for a policy this
        snapshot does not hold, and for an ``ALLOW_ALL_ORIGINS`` one, whose
        index is empty.
        """
        compiled = self.policies.get(policy)
        return None if compiled is None else compiled.exact_grant(origin, host)

    def trusts_for_csrf(self, origin: str, policy: str, host: str | None = None) -> bool:
        """Whether Django's CSRF origin check may accept ``origin`` on a view of ``policy``.

        Only the policy of the view being written to counts: an origin
        trusted by a partner policy earns nothing on the default policy's
        views, which refuse it for CORS too.  Exact origins only: a pattern
        covers hosts nobody has reviewed (any subdomain, including one taken
        over or user-controlled); nor does a policy that allows every origin,
        or sends no credentials, trust any.  Which exact origins are trusted
        was decided per grant when the snapshot was compiled.  A grant
        scoped to hosts trusts only on a request to one of them (``host``).
        """
        grant = self.exact_grant(origin, policy, host)
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
        return self._rebuilt(lambda index, name, scope: _unexpired(index, now))

    def changed(self, removed: Collection[int], added: Iterable[Added]) -> Snapshot | None:
        """This snapshot without the rows ``removed`` (ids), then with ``added``; ``None`` to compile anew.

        Each added row is already validated, unexpired and of a policy that
        takes rows.  Only exact origins change this way, at a cost that
        follows the change, not the list; a change that involves a pattern
        or any-port row answers ``None`` (patterns are few: compile them
        all again).
        """
        removed = frozenset(removed)
        by_scope: dict[tuple[str, str], list[Entry]] = {}
        shared: dict[str, dict[int, tuple[str, ...]]] = {}
        for name, (rule, origin, pk, at), csrf, *rest in added:
            scopes: tuple[str, ...] = rest[0] if rest else ()
            if rule is not None and (rule.wildcard or rule.port == ANY_PORT):
                return None
            # The same rule as _index: no CSRF trust without credentials.
            entry = (origin, pk, csrf and self.headers_of(name).credentials, at)
            for scope in scopes or ("",):
                by_scope.setdefault((name, scope), []).append(entry)
            if len(scopes) > 1:
                shared.setdefault(name, {})[pk] = scopes
        indexes = [index for policy in self.policies.values() for index in (policy.index, *policy.scoped.values())]
        if removed and len(removed) * len(indexes) > _SCOPED_CHANGE_BOUND:
            return None
        if any(not _pattern_sources(index).isdisjoint(removed) for index in indexes):
            return None
        # A scope no index holds yet: never one of the policy's HOSTS (compile_policy
        # made an index for each), so it starts with no settings grant.
        fresh_scopes: dict[str, set[str]] = {}
        for name, scope in by_scope:
            if scope and scope not in self.policies[name].scoped:
                fresh_scopes.setdefault(name, set()).add(scope)

        def change(index: Index[Grant], name: str, scope: str) -> Index[Grant]:
            entries = by_scope.get((name, scope), ())
            rows = index.rows
            if not entries and not (isinstance(rows, RowMap) and any(rows.origin_of(pk) for pk in removed)):
                return index  # Untouched: it keeps its cache too.
            fresh = (entry for entry in entries if entry[0] not in index.exact)
            return index.with_rows(_row_map(index, self.headers_of(name)).changed(removed, fresh) or None)

        return self._rebuilt(change, shared, removed, fresh_scopes)

    def _rebuilt(
        self,
        rebuild: Callable[[Index[Grant], str, str], Index[Grant]],
        shared: Mapping[str, Mapping[int, tuple[str, ...]]] = _NO_SHARED_BY_POLICY,
        removed: Collection[int] = (),
        fresh_scopes: Mapping[str, Collection[str]] = _NO_SHARED_BY_POLICY,  # type: ignore[assignment]
    ) -> Snapshot:
        # A snapshot whose every policy's index, and every scoped one, is
        # ``rebuild(index, name, scope)`` (scope "" for the policy's own);
        # ALLOW_ALL_ORIGINS policies have no index to rebuild.
        policies: list[Policy] = []
        for name, policy in self.policies.items():
            if policy.any_origin is not None:
                policies.append(policy)
                continue
            index = rebuild(policy.index, name, "")
            scoped = {scope: rebuild(each, name, scope) for scope, each in policy.scoped.items()}
            for scope in fresh_scopes.get(name, ()):
                scoped[scope] = rebuild(compile_index((), resolve=Grant.for_origin), name, scope)
            together = {pk: scopes for pk, scopes in policy.shared.items() if pk not in removed}
            together.update(shared.get(name, {}))
            policies.append(_policy(name, index, policy.headers, scoped, together))
        return compile_snapshot(policies)


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


def _policy(
    name: str,
    index: Index[Grant],
    headers: Headers,
    scoped: Mapping[str, Index[Grant]],
    shared: Mapping[int, tuple[str, ...]],
) -> Policy:
    # A policy's rows: its own index's, each scoped index's, and a row that
    # several entries name counted once.
    scoped = {scope: each for scope, each in sorted(scoped.items()) if len(each)}  # A scope left empty goes.
    rows = _count_rows(index) + sum(_count_rows(each) for each in scoped.values())
    for pk, scopes in shared.items():
        held = sum(1 for scope in scopes if scope in scoped and _holds_row(scoped[scope], pk))
        rows -= max(held - 1, 0)
    return Policy(
        name,
        index,
        headers,
        None,
        rows,
        MappingProxyType(dict(scoped)) if scoped else _NO_SCOPES,
        MappingProxyType(dict(shared)) if shared else _NO_SHARED,
    )


def _holds_row(index: Index[Grant], pk: int) -> bool:
    rows = index.rows
    if isinstance(rows, RowMap) and rows.origin_of(pk) is not None:
        return True
    return pk in _pattern_sources(index)


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
    soonest = _next_expiry_of(index)
    if soonest is None or soonest > now:
        return index  # Nothing of it expired: it keeps its cache.
    kept = (grant for grant in _small_grants(index) if grant.expires is None or grant.expires > now)
    if isinstance(rows, RowMap):
        return compile_index(kept, rows.changed(rows.expired(now)) or None, Grant.for_origin)
    return compile_index(kept, resolve=Grant.for_origin)


def _next_expiry_of(index: Index[Grant]) -> float | None:
    expiries = [index.rows.next_expiry] if isinstance(index.rows, RowMap) else []
    expiries += [grant.expires for grant in _small_grants(index)]
    return min((at for at in expiries if at is not None), default=None)


def _next_expiry(policies: Iterable[Policy]) -> float | None:
    # The earliest expiry among the rows of every policy, scoped ones too: settings never expire.
    indexes = [
        index for policy in policies if policy.any_origin is None for index in (policy.index, *policy.scoped.values())
    ]
    return min((at for each in indexes if (at := _next_expiry_of(each)) is not None), default=None)


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
    hosts: tuple[str, ...] | None = None,
    scoped_rows: Mapping[str, Iterable[Row]] = _NO_SCOPES,  # type: ignore[assignment]
    scoped_packed: Mapping[str, RowMap] = _NO_SCOPES,  # type: ignore[assignment]
    shared: Mapping[int, tuple[str, ...]] = _NO_SHARED,
) -> Policy:
    """Compile one policy: its settings rules, then its database rows (see :data:`Row`).

    A row is (rule, its serialization, row id, expiry in seconds since the
    epoch or ``None``); rows expired at ``now`` are left out.  When a rule
    appears in both, the settings entry wins, so explanations name it.
    ``csrf_origins`` are the exact settings origins trusted for CSRF on the
    policy's views; an exact row is trusted when ``trust_rows`` is set or
    its id is in ``trusted_rows``.  A policy without credentials trusts none.

    ``hosts`` scopes the settings rules to those host entries (``None``:
    every host); ``scoped_rows`` (and ``scoped_packed``, rows packed from
    columns) are the rows scoped to each entry, a row naming several
    entries under each (``shared`` names those rows' entries).
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
    settings_rules = tuple(settings_rules)
    trusted = csrf_origins.__contains__
    everywhere = settings_rules if hosts is None else ()
    index = _index(headers, everywhere, rows, trusted, trusted_rows, trust_rows, now, packed)
    scoped = {
        scope: _index(
            headers,
            settings_rules if hosts is not None and scope in hosts else (),
            scoped_rows.get(scope, ()),
            trusted,
            trusted_rows,
            trust_rows,
            now,
            scoped_packed.get(scope),
        )
        for scope in sorted({*(hosts or ()), *scoped_rows, *scoped_packed})
    }
    return _policy(name, index, headers, scoped, shared)


def compile_snapshot(policies: Iterable[Policy]) -> Snapshot:
    """A :class:`Snapshot` of compiled policies; one of them must be the default."""
    named = {policy.name: policy for policy in policies}
    # The default first, so that every listing of a snapshot's policies starts with it.
    ordered = {DEFAULT_POLICY: named.pop(DEFAULT_POLICY), **named}
    return Snapshot(MappingProxyType(ordered), _next_expiry(ordered.values()))
