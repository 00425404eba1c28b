"""Read what a snapshot is built from: settings, ``AllowedOrigin`` rows, the shared version.

The one guarded read of the table, used by the store and by diagnostics
alike, is :func:`credcors.table.read_rows`.  :class:`Loader` adds what the
store needs around it: each outage logged once (and its end), rows validated
by the one validator, and the snapshot compiled.  Nothing here runs per
request.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from django.core.cache import caches
from django.db import DatabaseError, router

from credcors.answers import Headers
from credcors.conf import Config
from credcors.origins import OriginError, Rule, parse_rule
from credcors.policy_conf import DEFAULT_POLICY, PolicyConfig
from credcors.quoting import safe, scrub
from credcors.revision import is_supported, read_revision
from credcors.snapshot import Snapshot, compile_policy, compile_snapshot
from credcors.table import is_missing_table, read_rows

__all__ = [
    "FAILED",
    "UNREADABLE",
    "VERIFY_SECONDS",
    "VERSION_KEY",
    "Loader",
    "Rows",
    "compile_config",
    "load_rows",
]

logger = logging.getLogger("credcors")

#: The shared-cache key a local commit rewrites; its value is an opaque token.
VERSION_KEY = "credcors:rows-version"

#: What :meth:`Loader.shared_version` returns when the cache did not answer.
UNREADABLE: Any = object()

#: What :meth:`Loader.revision` returns when the database did not answer.
FAILED: Any = object()

#: How often a poll also checks that the revision's triggers are in place
#: (free on PostgreSQL and SQLite, milliseconds on MariaDB).
VERIFY_SECONDS = 60.0

#: (origin, row id, policy, trust_for_csrf, expiry or ``None``) per enabled row, in primary-key order.
Rows = Sequence[tuple[str, int, str, bool, datetime | None]]


def load_rows() -> Rows:
    """The enabled rows as (origin, row id, policy, trust_for_csrf, expiry), in primary-key order: what the store loads.

    Expired rows are read too: the snapshot leaves them out when it is
    compiled, so a process never needs a query to notice an expiry.
    """
    return cast(Rows, read_rows(fields=("origin", "pk", "policy", "trust_for_csrf", "expires_at")))


class Loader:
    """Reads rows and the shared version for the store, logging each outage once."""

    def __init__(self, read: Callable[[], Rows] = load_rows) -> None:
        self.read = read
        self.reset()

    def reset(self) -> None:
        """Forget past outages."""
        self.db_failing = False
        self.cache_failing = False
        self.revision_missing = False
        self.revision_warned = False

    def revision(self, *, verify: bool, kept: int) -> int | None:
        """The table's revision (one small query), ``None`` to read every row, or :data:`FAILED`.

        ``None`` comes from a backend without revision support, or missing
        triggers (logged once, with the repair): reading every row then is
        slower but never stale.  A database error is an outage, logged once
        like a failed read; ``kept`` is what is served meanwhile.
        """
        from credcors.models import AllowedOrigin

        alias = router.db_for_read(AllowedOrigin)
        try:
            value = read_revision(alias, verify=verify)
        except DatabaseError as exc:
            if not self.db_failing:
                self.db_failing = True
                _log_outage(exc, kept)
            return FAILED  # type: ignore[no-any-return]
        # Said once the rows themselves read fine: with the whole table gone,
        # the missing table is the news, not its triggers.
        self.revision_missing = value is None and is_supported(alias)
        return value

    def rows(self, kept: int) -> Rows | None:
        """The enabled rows, or ``None`` when the database failed; ``kept`` is what is served meanwhile."""
        try:
            rows = self.read()
        except DatabaseError as exc:
            if not self.db_failing:
                self.db_failing = True
                _log_outage(exc, kept)
            return None
        self.answered()
        if self.revision_missing != self.revision_warned:
            self.revision_warned = self.revision_missing
            if self.revision_missing:
                logger.warning(
                    "credcors: the AllowedOrigin revision table or its triggers are missing; reading every row "
                    "each REFRESH_SECONDS until 'manage.py credcors install-triggers' restores them "
                    "(system check credcors.W021)."
                )
        return rows

    def answered(self) -> None:
        """The database answered a read whose result is current: end an outage, if there was one."""
        if self.db_failing:
            self.db_failing = False
            logger.warning("credcors: the database answers again; allowed origins are read as before.")

    def shared_version(self, alias: str) -> object:
        """The token under :data:`VERSION_KEY`, or :data:`UNREADABLE`."""
        try:
            version = caches[alias].get(VERSION_KEY)
        except Exception as exc:  # Any backend's error: the cache only speeds things up.
            self.cache_down(alias, exc)
            return UNREADABLE
        if self.cache_failing:
            self.cache_failing = False
            logger.warning("credcors: the shared cache %r answers again.", alias)
        return version

    def publish(self, alias: str) -> None:
        """Write a new token under :data:`VERSION_KEY`; a failure is logged once, never raised."""
        try:
            caches[alias].set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception as exc:  # Any backend's error: the cache only speeds things up.
            self.cache_down(alias, exc)

    def cache_down(self, alias: str, exc: Exception) -> None:
        if not self.cache_failing:
            self.cache_failing = True
            logger.error(
                "credcors: could not reach the shared cache %r (%s); other processes see changes within "
                "REFRESH_SECONDS instead, until it answers again.",
                alias,
                type(exc).__name__,
            )


def _log_outage(exc: DatabaseError, kept: int) -> None:
    # Say what is really served meanwhile: the rows loaded before the outage,
    # or none (settings only) when there never were any.
    serving = f"still serving the {kept} database rows loaded before" if kept else "serving the settings' origins only"
    if is_missing_table(exc):
        logger.warning(
            "credcors: the AllowedOrigin table does not exist; %s until you run 'manage.py migrate'.", serving
        )
    else:
        logger.error(
            "credcors: could not read allowed origins (%s); %s until the database answers again.",
            type(exc).__name__,
            serving,
        )


def _headers(policy: PolicyConfig) -> Headers:
    return Headers.build(
        allow_methods=policy.allow_methods,
        allow_headers=policy.allow_headers,
        expose_headers=policy.expose_headers,
        credentials=policy.credentials,
        max_age=policy.max_age,
    )


def compile_config(config: Config, rows: Rows, now: float | None = None) -> Snapshot:
    """Compile ``config`` and the enabled rows into a snapshot; invalid rows and rows expired at ``now`` are left out.

    ``now`` is seconds since the epoch, the current time by default.  A row
    belongs to the policy it names; rows of a policy that is not configured,
    or whose ``USE_DATABASE`` is off, are left out (fail closed).
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    default = config.default_policy
    insecure = config.allow_insecure
    # An expired row is left out before it is parsed: nothing to warn about.
    live = [
        (origin, pk, policy, trust, at)
        for origin, pk, policy, trust, expires in rows
        if (at := None if expires is None else expires.timestamp()) is None or at > now
    ]
    trusted = frozenset(pk for _, pk, _, trust, _ in live if trust)
    valid = [
        (rule, origin, pk, at)
        for origin, pk, policy, _, at in (live if default.use_database else ())
        if policy == DEFAULT_POLICY and (rule := _parse_row(origin, insecure, default.credentials)) is not None
    ]
    named = []
    for policy in config.policies.values():
        own = []
        if policy.use_database and not policy.allow_all:
            own = [
                (rule, origin, pk, at)
                for origin, pk, name, _, at in live
                if name == policy.name and (rule := _parse_row(origin, insecure, policy.credentials)) is not None
            ]
        named.append(
            compile_policy(
                policy.name, _headers(policy), policy.rules, own, allow_all=policy.allow_all, trusted_rows=trusted
            )
        )
    snapshot = compile_snapshot(
        _headers(default),
        config.rules,
        valid,
        trust_for_csrf=config.trust_for_csrf,
        csrf_origins=config.csrf_origins,
        trusted_rows=trusted,
        policies=named,
    )
    logger.info(
        "credcors: allow-list loaded: %d rules (%d from settings) in %.1f ms.",
        len(snapshot.index) + sum(len(policy.index) for policy in named),
        len(config.rules) + sum(len(policy.rules) for policy in config.policies.values()),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot


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
