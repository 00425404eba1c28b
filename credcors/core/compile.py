"""Turn settings and ``AllowedOrigin`` rows into a snapshot: all of them, or only the rows that changed.

:func:`compile_rows` compiles everything (a cold load, or a change the
change log cannot name); :func:`apply_changes` makes the next snapshot from
the current one and the few rows a change touched, at a cost that follows
the change, not the list (:meth:`~credcors.core.snapshot.Snapshot.changed`).
Both take every row through the same steps (:func:`_prepare`): expired rows
left out, rows of a policy that takes none ignored, every origin through
the one validator.  Never runs per request.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Collection
from datetime import datetime, timezone
from typing import NamedTuple

from credcors.core.config import Config
from credcors.core.config.policies import PolicyConfig
from credcors.core.decision import Headers
from credcors.core.origins import HTTPS_HOST_RE, OriginError, Rule, parse_rule
from credcors.core.quoting import safe, scrub
from credcors.core.rowmap import RowMap
from credcors.core.scopes import ScopeError, join_scopes, parse_scopes
from credcors.core.snapshot import Added, Row, Snapshot, compile_policy, compile_snapshot

__all__ = [
    "Compiled",
    "RowColumns",
    "RowIn",
    "RowRecord",
    "apply_changes",
    "compile_columns",
    "compile_rows",
    "compile_settings",
    "count_rows",
    "row_policies",
    "served_rows",
]

logger = logging.getLogger("credcors")


class RowRecord(NamedTuple):
    """One enabled row as read, from the database read to the compile and the change-log delta.

    Its ``_fields`` are the columns read (``values_list(*RowRecord._fields)``),
    so the reader, the delta and the compiler cannot disagree on their order.
    """

    origin: str
    pk: int
    policy: str
    trust_for_csrf: bool
    expires_at: datetime | None
    #: The request hosts it applies on, as stored (:func:`~credcors.core.scopes.join_scopes`); ``""``: every host.
    hosts: str = ""


#: The shape of a :class:`RowRecord`, for callers that build rows as plain tuples (tests, the change log);
#: without its last field (hosts), a row applies on every host.
RowIn = tuple[str, int, str, bool, "datetime | None", str] | tuple[str, int, str, bool, "datetime | None"]


class RowColumns(NamedTuple):
    """The enabled rows as a full load reads them: columns per policy, so no tuple is built per row.

    ``by_policy`` maps a policy that takes rows to its rows' (origins, ids,
    trust_for_csrf flags), in id order (the flags may be empty: none
    trusted); ``expiries`` maps the id of each
    enabled row that expires to its expiry (seconds since the epoch);
    ``others`` are the ids of enabled rows of any other policy.  ``scoped``
    maps a policy to its rows scoped to hosts (origins, ids, stored hosts,
    trust_for_csrf flags), in id order, which ``by_policy`` leaves out.
    """

    by_policy: dict[str, tuple[list[str], list[int], list[int]]]
    expiries: dict[int, float]
    others: list[int]
    scoped: dict[str, tuple[list[str], list[int], list[str], list[int]]] = {}  # noqa: RUF012 - never mutated

    def digest(self) -> int:
        """A hash of everything read, to tell whether a read without a revision changed anything."""
        columns = tuple((name, tuple(o), tuple(i), tuple(t)) for name, (o, i, t) in sorted(self.by_policy.items()))
        scoped = tuple(
            (name, tuple(o), tuple(i), tuple(h), tuple(t)) for name, (o, i, h, t) in sorted(self.scoped.items())
        )
        return hash((columns, scoped, tuple(sorted(self.expiries.items())), tuple(self.others)))


#: A snapshot, and the ids of the enabled rows it leaves out as invalid (what the admin's status counts).
Compiled = tuple[Snapshot, frozenset[int]]


def count_rows(compiled: Compiled) -> int:
    """The rows a compiled allow-list serves (every policy's), and those it leaves out as invalid."""
    snapshot, invalid = compiled
    return served_rows(snapshot) + len(invalid)


def served_rows(snapshot: Snapshot) -> int:
    """The database rows ``snapshot`` serves, in every policy (the default one and each named one)."""
    return snapshot.rows


def _headers(policy: PolicyConfig) -> Headers:
    return Headers.build(
        allow_methods=policy.allow_methods,
        allow_headers=policy.allow_headers,
        expose_headers=policy.expose_headers,
        credentials=policy.credentials,
        max_age=policy.max_age,
    )


def row_policies(config: Config) -> frozenset[str]:
    """The names of the policies whose rows are compiled (what a full load reads)."""
    return frozenset(_taking_rows(config))


def _taking_rows(config: Config) -> dict[str, PolicyConfig]:
    # The policies whose rows are compiled: USE_DATABASE on, not ALLOW_ALL_ORIGINS.
    return {name: policy for name, policy in config.policies.items() if policy.takes_rows}


#: Rows by policy, then by host scope entry (``""``: every host).
ByScope = dict[str, dict[str, list[Row]]]


class _Scopes:
    """The stored ``hosts`` values of rows, each validated once however many rows share it."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[str, ...] | None] = {"": ()}

    def of(self, stored: object) -> tuple[str, ...] | None:
        """The entries of a stored value, or ``None`` when it is not canonical (the row is then left out)."""
        if not isinstance(stored, str):
            return None
        scopes = self.known.get(stored, ())
        if scopes == () and stored:
            try:
                parsed: tuple[str, ...] | None = parse_scopes(stored)
            except ScopeError as exc:
                logger.warning(
                    "credcors: ignoring AllowedOrigin rows with hosts %s: %s", safe(stored), scrub(str(exc), 300)
                )
                parsed = None
            if parsed is not None and join_scopes(parsed) != stored:
                logger.warning(
                    "credcors: ignoring AllowedOrigin rows with hosts %s: not in canonical form (%s); save them again.",
                    safe(stored),
                    join_scopes(parsed),
                )
                parsed = None
            self.known[stored] = scopes = parsed
        return scopes


def _prepare(
    config: Config, rows: Collection[RowIn], now: float
) -> tuple[ByScope, set[int], set[int], dict[str, dict[int, tuple[str, ...]]]]:
    """Rows by policy and scope, the ids trusted for CSRF, the ids left out as invalid, the rows of several scopes.

    An expired row is left out before it is parsed: nothing to warn about.
    A row of a policy that is not configured, or takes no rows, is invalid
    (fail closed), as is one the validator refuses under current settings,
    and one whose stored hosts are not canonical.
    """
    policies = _taking_rows(config)
    by_policy: ByScope = {name: {"": []} for name in policies}
    shared: dict[str, dict[int, tuple[str, ...]]] = {}
    trusted: set[int] = set()
    invalid: set[int] = set()
    insecure = config.allow_insecure
    hosts_of = _Scopes().of
    # is_canonical_https, written out: it runs once a row.
    canonical_https = HTTPS_HOST_RE.fullmatch
    for origin, pk, name, trust, expires, *rest in rows:
        at = None if expires is None else expires.timestamp()
        if at is not None and at <= now:
            continue
        policy = policies.get(name)
        scopes = hosts_of(rest[0]) if rest else ()
        if policy is None or scopes is None:
            invalid.add(pk)
            continue
        # Nearly every row: an exact https origin in canonical form, packed
        # without a rule (one regex match; 1.6 µs a row less than parsing it).
        if type(origin) is str and canonical_https(origin) is not None and len(origin) <= 261 and "xn--" not in origin:
            rule = None
        else:
            rule = _parse_row(origin, insecure, policy.credentials)
            if rule is None:
                invalid.add(pk)
                continue
        row = (rule, origin, pk, at)
        for scope in scopes or ("",):
            by_policy[name].setdefault(scope, []).append(row)
        if len(scopes) > 1:
            shared.setdefault(name, {})[pk] = scopes
        if trust:
            trusted.add(pk)
    return by_policy, trusted, invalid, shared


def compile_rows(config: Config, rows: Collection[RowIn], now: float | None = None) -> Compiled:
    """Compile ``config`` and the enabled rows into a snapshot, with the invalid rows' ids.

    Invalid rows and rows expired at ``now`` (seconds since the epoch, the
    current time by default) are left out.  A row belongs to the policy it
    names; rows of a policy that is not configured, or whose ``USE_DATABASE``
    is off, are left out (fail closed).
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    by_policy, trusted, invalid, shared = _prepare(config, rows, now)
    snapshot = _compile(config, by_policy, trusted, shared)
    logger.info(
        "credcors: allow-list loaded: %d rules (%d from settings) in %.1f ms.",
        sum(len(policy.index) for policy in snapshot.policies.values()),
        sum(len(policy.rules) for policy in config.policies.values()),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot, frozenset(invalid)


# A line of the joined origins that is a canonical exact https origin, packed
# as it is (see origins.is_canonical_https; the host pattern's \\Z, the end
# of the value, becomes the end of a line).  Deleting every such line in one
# re.sub pass at C speed leaves only the few rows that need the validator.
_LINE_HTTPS_HOST = HTTPS_HOST_RE.pattern.replace(r"\Z", "$")
_CANONICAL_LINE_RE = re.compile(rf"^{_LINE_HTTPS_HOST}$", re.MULTILINE)


def _needs_validator(origins: list[str]) -> list[int]:
    """The positions of the origins that are not canonical exact https origins."""
    if not origins:
        return []
    blob = "\n".join(origins)
    if blob.count("\n") != len(origins) - 1:
        return list(range(len(origins)))  # A value with a newline of its own: line numbers would lie.
    rest = _CANONICAL_LINE_RE.sub("", blob)
    positions: set[int] = set()
    if len(rest) != len(origins) - 1:
        positions.update(n for n, line in enumerate(rest.split("\n")) if line)
    if "" in origins:
        positions.update(n for n, origin in enumerate(origins) if not origin)
    # The two limits of is_canonical_https that the line pattern leaves out.
    if "xn--" in blob:
        positions.update(n for n, origin in enumerate(origins) if "xn--" in origin)
    if max(map(len, origins)) > 261:
        positions.update(n for n, origin in enumerate(origins) if len(origin) > 261)
    return sorted(positions)


def compile_columns(config: Config, columns: RowColumns, now: float | None = None) -> Compiled:
    """:func:`compile_rows` for rows read as columns (:class:`RowColumns`): the same snapshot, built faster.

    Nearly every row is an exact https origin in canonical form: those are
    packed straight from the columns, without a tuple or a rule per row; the
    rest (patterns, ports, plain http, punycode, anything a raw write put
    there), and every row that expires, take the steps of :func:`compile_rows`.
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    policies = _taking_rows(config)
    expiries = columns.expiries
    # As in _prepare: an expired row is left out before anything else, so never counted invalid.
    invalid = {ident for ident in columns.others if expiries.get(ident, math.inf) > now}
    slow: list[RowIn] = []
    packed: dict[str, dict[str, RowMap]] = {}
    shared: dict[str, dict[int, tuple[str, ...]]] = {}
    for name, (origins, ids, trust) in columns.by_policy.items():
        policy = policies[name]  # The reader reads the policies that take rows, and those alone.
        aside = set(_needs_validator(origins))
        if expiries:
            aside.update(n for n, ident in enumerate(ids) if ident in expiries)
        if aside:
            flags = trust or [0] * len(ids)
            slow.extend(_row_in(origins[n], ids[n], name, flags[n], expiries.get(ids[n])) for n in sorted(aside))
            kept = [n for n in range(len(origins)) if n not in aside]
            origins, ids, trust = [origins[n] for n in kept], [ids[n] for n in kept], [flags[n] for n in kept]
        if not policy.credentials:
            csrf = bytes(len(ids))
        elif policy.trust_rows:
            csrf = b"\x01" * len(ids)
        else:
            csrf = bytes(1 if flag else 0 for flag in trust) if any(trust) else bytes(len(ids))
        packed[name] = {"": RowMap.from_columns(_headers(policy), origins, ids, csrf)}
    for name, scoped in columns.scoped.items():
        _pack_scoped(policies[name], scoped, expiries, packed[name], shared, slow, invalid)
    by_policy, trusted, slow_invalid, slow_shared = _prepare(config, slow, now)
    for name, rows in slow_shared.items():
        shared.setdefault(name, {}).update(rows)
    snapshot = _compile(config, by_policy, trusted, shared, packed)
    logger.info(
        "credcors: allow-list loaded: %d rules (%d from settings) in %.1f ms.",
        sum(len(policy.index) for policy in snapshot.policies.values()),
        sum(len(policy.rules) for policy in config.policies.values()),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot, frozenset(invalid | slow_invalid)


def _pack_scoped(
    policy: PolicyConfig,
    columns: tuple[list[str], list[int], list[str], list[int]],
    expiries: dict[int, float],
    packed: dict[str, RowMap],
    shared: dict[str, dict[int, tuple[str, ...]]],
    slow: list[RowIn],
    invalid: set[int],
) -> None:
    """Pack one policy's rows scoped to hosts into one map per scope entry, from columns.

    Each distinct stored ``hosts`` value is validated once; its rows are
    invalid when it is not canonical.  Rows that need the validator or
    expire join ``slow``, with their hosts, as in :func:`compile_columns`.
    """
    origins, ids, stored, flags = columns
    hosts_of = _Scopes().of
    aside = set(_needs_validator(origins))
    per_scope: dict[str, list[int]] = {}
    for n, hosts in enumerate(stored):
        # A row that expires takes the slow steps first: expired, it is never counted invalid.
        if n in aside or ids[n] in expiries:
            slow.append(_row_in(origins[n], ids[n], policy.name, flags[n], expiries.get(ids[n]), hosts))
            continue
        scopes = hosts_of(hosts)
        if scopes is None:
            invalid.add(ids[n])
            continue
        for scope in scopes:
            per_scope.setdefault(scope, []).append(n)
        if len(scopes) > 1:
            shared.setdefault(policy.name, {})[ids[n]] = scopes
    headers = _headers(policy)
    for scope, positions in per_scope.items():
        # Ids ascend within each scope, as the rows were read in id order.
        kept_ids = [ids[n] for n in positions]
        if not policy.credentials:
            csrf = bytes(len(kept_ids))
        elif policy.trust_rows:
            csrf = b"\x01" * len(kept_ids)
        else:
            csrf = bytes(flags[n] for n in positions)
        packed[scope] = RowMap.from_columns(headers, [origins[n] for n in positions], kept_ids, csrf)


def _row_in(origin: str, ident: int, policy: str, trust: object, expires: float | None, hosts: str = "") -> RowIn:
    return RowRecord(
        origin,
        ident,
        policy,
        bool(trust),
        None if expires is None else datetime.fromtimestamp(expires, tz=timezone.utc),
        hosts,
    )


def compile_settings(config: Config) -> Snapshot:
    """The settings half of the allow-list alone, no row: what a settings entry decides, e.g. its CSRF trust."""
    return _compile(config, {}, set(), {})


def _compile(
    config: Config,
    by_policy: ByScope,
    trusted: set[int],
    shared: dict[str, dict[int, tuple[str, ...]]],
    packed: dict[str, dict[str, RowMap]] | None = None,
) -> Snapshot:
    # Every policy the same way, the default one included.
    policies = []
    for policy in config.policies.values():
        rows = dict(by_policy.get(policy.name, {}))
        maps = dict((packed or {}).get(policy.name, {}))
        policies.append(
            compile_policy(
                policy.name,
                _headers(policy),
                policy.rules,
                rows.pop("", ()),
                allow_all=policy.allow_all,
                csrf_origins=policy.csrf_origins,
                trust_rows=policy.trust_rows,
                trusted_rows=trusted,
                packed=maps.pop("", None),
                hosts=policy.hosts,
                scoped_rows=rows,
                scoped_packed=maps,
                shared=shared.get(policy.name, {}),
            )
        )
    return compile_snapshot(policies)


def apply_changes(
    config: Config, compiled: Compiled, ids: Collection[int], rows: Collection[RowIn], now: float | None = None
) -> Compiled | None:
    """``compiled`` after the rows ``ids`` changed; ``rows`` are those of them now enabled.

    ``None`` means "compile everything instead" (a pattern row is involved).
    The rows go through the same steps as in :func:`compile_rows`.
    """
    started = time.perf_counter()
    snapshot, invalid = compiled
    by_policy, trusted, now_invalid, shared = _prepare(config, rows, time.time() if now is None else now)
    added: list[Added] = []
    for name, by_scope in by_policy.items():
        taken: set[int] = set()
        for scope, scope_rows in by_scope.items():
            for row in scope_rows:
                pk = row[2]
                if pk in taken:
                    continue  # A row of several scopes: added once, with all of them.
                taken.add(pk)
                scopes = shared.get(name, {}).get(pk, (scope,) if scope else ())
                added.append((name, row, pk in trusted or config.policies[name].trust_rows, scopes))
    changed = snapshot.changed(ids, added)
    if changed is None:
        return None
    logger.info(
        "credcors: allow-list changed: rows changed: %d, applied in %.1f ms.",
        len(ids),
        (time.perf_counter() - started) * 1000,
    )
    return changed, (invalid - frozenset(ids)) | now_invalid


def _parse_row(origin: object, allow_insecure: bool, credentials: bool) -> Rule | None:
    # Rows written by the ORM are already canonical, but QuerySet.update(),
    # bulk_create() and raw SQL skip validation.  A row that is not exactly
    # canonical and valid under the current settings is left out (fail closed).
    try:
        rule = parse_rule(origin, allow_insecure=allow_insecure, credentials=credentials)
    except OriginError as exc:
        # Raw SQL can store anything: quote it safely and bound the line.
        logger.warning(
            "credcors: ignoring invalid AllowedOrigin row %s: %s. %s",
            safe(origin),
            scrub(exc.problem, 300),
            scrub(exc.hint, 300),
        )
        return None
    if rule.serialize() != origin:
        logger.warning(
            "credcors: ignoring AllowedOrigin row %s: it is not in canonical form (%s); save it again.",
            safe(origin),
            rule.serialize(),
        )
        return None
    return rule
