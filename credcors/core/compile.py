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
import time
from collections.abc import Collection
from datetime import datetime

from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY, PolicyConfig
from credcors.core.decision import Headers
from credcors.core.origins import OriginError, Rule, parse_rule
from credcors.core.quoting import safe, scrub
from credcors.core.snapshot import Added, Row, Snapshot, compile_policy, compile_snapshot

__all__ = ["Compiled", "apply_changes", "compile_rows", "compile_settings", "count_rows", "served_rows"]

logger = logging.getLogger("credcors")

#: (origin, row id, policy, trust_for_csrf, expiry or ``None``): one enabled row as read.
RowIn = tuple[str, int, str, bool, "datetime | None"]
#: A snapshot, and the ids of the enabled rows it leaves out as invalid (what the admin's status counts).
Compiled = tuple[Snapshot, frozenset[int]]


def count_rows(compiled: Compiled) -> int:
    """The rows a compiled allow-list serves (every policy's), and those it leaves out as invalid."""
    snapshot, invalid = compiled
    return served_rows(snapshot) + len(invalid)


def served_rows(snapshot: Snapshot) -> int:
    """The database rows ``snapshot`` serves, in every policy (the default one and each named one)."""
    return snapshot.rows + sum(policy.rows for policy in snapshot.policies.values())


def _headers(policy: PolicyConfig) -> Headers:
    return Headers.build(
        allow_methods=policy.allow_methods,
        allow_headers=policy.allow_headers,
        expose_headers=policy.expose_headers,
        credentials=policy.credentials,
        max_age=policy.max_age,
    )


def _taking_rows(config: Config) -> dict[str, PolicyConfig]:
    # The policies whose rows are compiled: USE_DATABASE on, not ALLOW_ALL_ORIGINS.
    policies = {DEFAULT_POLICY: config.default_policy} if config.default_policy.use_database else {}
    policies.update((p.name, p) for p in config.policies.values() if p.use_database and not p.allow_all)
    return policies


def _prepare(config: Config, rows: Collection[RowIn], now: float) -> tuple[dict[str, list[Row]], set[int], set[int]]:
    """Rows by policy, the ids trusted for CSRF, and the ids left out as invalid.

    An expired row is left out before it is parsed: nothing to warn about.
    A row of a policy that is not configured, or takes no rows, is invalid
    (fail closed), as is one the validator refuses under current settings.
    """
    policies = _taking_rows(config)
    by_policy: dict[str, list[Row]] = {name: [] for name in policies}
    trusted: set[int] = set()
    invalid: set[int] = set()
    insecure = config.allow_insecure
    for origin, pk, name, trust, expires in rows:
        at = None if expires is None else expires.timestamp()
        if at is not None and at <= now:
            continue
        policy = policies.get(name)
        rule = None if policy is None else _parse_row(origin, insecure, policy.credentials)
        if rule is None:
            invalid.add(pk)
            continue
        by_policy[name].append((rule, origin, pk, at))
        if trust:
            trusted.add(pk)
    return by_policy, trusted, invalid


def compile_rows(config: Config, rows: Collection[RowIn], now: float | None = None) -> Compiled:
    """Compile ``config`` and the enabled rows into a snapshot, with the invalid rows' ids.

    Invalid rows and rows expired at ``now`` (seconds since the epoch, the
    current time by default) are left out.  A row belongs to the policy it
    names; rows of a policy that is not configured, or whose ``USE_DATABASE``
    is off, are left out (fail closed).
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    by_policy, trusted, invalid = _prepare(config, rows, now)
    snapshot = _compile(config, by_policy, trusted)
    logger.info(
        "credcors: allow-list loaded: %d rules (%d from settings) in %.1f ms.",
        len(snapshot.index) + sum(len(policy.index) for policy in snapshot.policies.values()),
        len(config.rules) + sum(len(policy.rules) for policy in config.policies.values()),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot, frozenset(invalid)


def compile_settings(config: Config) -> Snapshot:
    """The settings half of the allow-list alone, no row: what a settings entry decides, e.g. its CSRF trust."""
    return _compile(config, {}, set())


def _compile(config: Config, by_policy: dict[str, list[Row]], trusted: set[int]) -> Snapshot:
    # A TRUST_FOR_CSRF list names settings origins of any policy; each is
    # trusted on the views of the policies that list it (True: the default's).
    listed = config.csrf_origins if config.trust_for_csrf and config.csrf_origins is not None else frozenset()
    named = [
        compile_policy(
            policy.name,
            _headers(policy),
            policy.rules,
            by_policy.get(policy.name, ()),
            allow_all=policy.allow_all,
            csrf_origins=listed,
            trusted_rows=trusted,
        )
        for policy in config.policies.values()
    ]
    return compile_snapshot(
        _headers(config.default_policy),
        config.rules,
        by_policy.get(DEFAULT_POLICY, ()),
        trust_for_csrf=config.trust_for_csrf,
        csrf_origins=config.csrf_origins,
        trusted_rows=trusted,
        policies=named,
    )


def apply_changes(
    config: Config, compiled: Compiled, ids: Collection[int], rows: Collection[RowIn], now: float | None = None
) -> Compiled | None:
    """``compiled`` after the rows ``ids`` changed; ``rows`` are those of them now enabled.

    ``None`` means "compile everything instead" (a pattern row is involved).
    The rows go through the same steps as in :func:`compile_rows`.
    """
    started = time.perf_counter()
    snapshot, invalid = compiled
    by_policy, trusted, now_invalid = _prepare(config, rows, time.time() if now is None else now)
    every_row_trusted = config.trust_for_csrf and config.csrf_origins is None
    added: list[Added] = [
        (name, row, row[2] in trusted or (name == DEFAULT_POLICY and every_row_trusted))
        for name, policy_rows in by_policy.items()
        for row in policy_rows
    ]
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
