"""The process-wide current :class:`~credcors.policy.Policy` snapshot.

A request reads one attribute and compares one float: no I/O in steady state.
Every ``REFRESH_SECONDS`` (or right after a local commit invalidates it) one
request re-reads the enabled ``AllowedOrigin`` rows; the others keep serving
the current snapshot meanwhile.  A refresh that finds the same rows keeps the
compiled snapshot; one that finds new rows compiles a new immutable snapshot
and swaps a single reference.  A refresh that fails keeps the last good
snapshot, so a database outage never makes credcors more permissive.

With ``CACHE_ALIAS`` naming a shared cache, a local commit also writes a new
token under :data:`VERSION_KEY`, and each process reads that key at most every
:data:`CACHE_CHECK_SECONDS` (one request does, the others keep serving), so a
change saved anywhere shows everywhere well before ``REFRESH_SECONDS``.  The
cache only makes things faster: the database poll stays, and a cache that
fails is logged once and then ignored until it answers again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.db import DatabaseError, connections, router, transaction

from credcors.conf import Config, get_config
from credcors.log import safe, scrub
from credcors.matcher import compile_rules
from credcors.origins import OriginError, Rule, is_canonical_exact_origin, parse_rule
from credcors.policy import Policy

__all__ = ["CACHE_CHECK_SECONDS", "VERSION_KEY", "Store", "store"]

logger = logging.getLogger("credcors")

SETTINGS_SOURCE = "settings"

#: The shared-cache key a local commit rewrites; its value is an opaque token.
VERSION_KEY = "credcors:rows-version"

#: How often a process reads :data:`VERSION_KEY`: one GET per process per
#: interval, done by whichever request finds it due, never one per request.
CACHE_CHECK_SECONDS = 0.25

# What _shared_version returns when the cache did not answer.
_UNREADABLE = object()


def database_source(pk: object) -> str:
    """How a database row is named in decisions and explanations."""
    return f"database row {pk}"


class Store:
    """Holds this process's current snapshot and refreshes it on schedule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next request rebuilds from settings and rows."""
        self._policy: Policy | None = None
        self._config: Config | None = None
        self._rows: tuple[tuple[str, object], ...] | None = None
        self._rule_cache: dict[str, Rule | None] = {}
        self._db_failing = False
        self._cache_failing = False
        self._seen_version: object = _UNREADABLE
        # _reload_at: when the rows must be read again.  _expires_at: when the
        # next request must look (at the shared cache or the rows); never later
        # than _reload_at, so the hot path compares a single float.
        self._reload_at = -math.inf
        self._expires_at = -math.inf
        self._invalidations = 0

    def invalidate(self) -> None:
        """Make the next request reload rows (called after a local commit)."""
        # Counted, so that a refresh already reading rows when the commit
        # lands cannot push the next reload REFRESH_SECONDS away again.
        self._invalidations += 1
        self._expires_at = self._reload_at = -math.inf

    def publish_change(self) -> None:
        """Reload here, and tell every process sharing ``CACHE_ALIAS`` to reload.

        Called after a local commit changed rows.  Without a shared cache this
        is :meth:`invalidate`; a cache that fails is logged once, never raised.
        """
        self.invalidate()
        config = get_config()
        if config.cache_alias is None or not config.use_database:
            return
        try:
            caches[config.cache_alias].set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception as exc:  # Any backend's error: the cache only speeds things up.
            self._cache_down(config.cache_alias, exc)

    @property
    def loaded_rows(self) -> int:
        """How many database rows the current snapshot holds."""
        return len(self._rows or ())

    def get(self) -> Policy:
        """The current snapshot, refreshing it first if it is due (sync code)."""
        policy = self._policy
        if policy is not None and time.monotonic() < self._expires_at:
            return policy
        return self.refresh()

    async def aget(self) -> Policy:
        """The current snapshot for async code; ORM work runs off the event loop."""
        policy = self._policy
        if policy is not None and (time.monotonic() < self._expires_at or self._lock.locked()):
            return policy
        return await sync_to_async(self.refresh, thread_sensitive=True)()

    def refresh(self) -> Policy:
        """Re-read settings and rows if due; return the snapshot to serve.

        Only one thread refreshes at a time.  While it does, other threads
        keep serving the current snapshot rather than queueing behind the
        database; only the very first load makes them wait.
        """
        current = self._policy
        if not self._lock.acquire(blocking=current is None):
            assert current is not None
            return current
        try:
            current = self._policy
            started = time.monotonic()
            if current is not None and started < self._expires_at:
                return current
            invalidations = self._invalidations
            config = get_config()
            alias = config.cache_alias if config.use_database else None
            shared = alias is not None
            # Read the version before the rows: a change published in between
            # then shows as a new version at the next check, never as a miss.
            version = self._shared_version(alias) if alias is not None else _UNREADABLE
            if (
                current is not None
                and config is self._config
                and started < self._reload_at
                and (version is _UNREADABLE or version == self._seen_version)
            ):
                # Only the shared-cache check was due, and nothing changed.
                self._expires_at = self._next_check(started, version)
                return current
            rows = self._read_rows(config) if config.use_database else ()
            failed = rows is None
            if rows is None:  # The database failed: keep what we had.
                rows = self._rows or ()
            elif shared:
                self._seen_version = version
            if current is None or config is not self._config or rows != self._rows:
                current = self._compile(config, rows)
                self._policy, self._config, self._rows = current, config, rows
            if self._invalidations != invalidations:
                return current  # A commit landed meanwhile: stay due.
            self._reload_at = started + config.refresh_seconds
            # While the database fails, a new version cannot be loaded anyway:
            # wait for the next poll rather than retrying at every check.
            self._expires_at = self._reload_at if failed or not shared else self._next_check(started, version)
            return current
        finally:
            self._lock.release()

    def _next_check(self, now: float, version: object) -> float:
        if version is _UNREADABLE:  # The cache is down: poll the database only.
            return self._reload_at
        return min(self._reload_at, now + CACHE_CHECK_SECONDS)

    def _shared_version(self, alias: str) -> object:
        try:
            version = caches[alias].get(VERSION_KEY)
        except Exception as exc:  # Any backend's error: the cache only speeds things up.
            self._cache_down(alias, exc)
            return _UNREADABLE
        if self._cache_failing:
            self._cache_failing = False
            logger.warning("credcors: the shared cache %r answers again.", alias)
        return version

    def _cache_down(self, alias: str, exc: Exception) -> None:
        if not self._cache_failing:
            self._cache_failing = True
            logger.error(
                "credcors: could not reach the shared cache %r (%s); other processes see changes within "
                "REFRESH_SECONDS instead, until it answers again.",
                alias,
                type(exc).__name__,
            )

    def _read_rows(self, config: Config) -> tuple[tuple[str, object], ...] | None:
        from credcors.models import AllowedOrigin

        alias = router.db_for_read(AllowedOrigin)
        try:
            connection = connections[alias]
            # A savepoint when we are inside someone's transaction, so that a
            # failed read cannot poison it (PostgreSQL aborts the whole
            # transaction on any error otherwise).  In autocommit the single
            # SELECT needs no transaction: BEGIN/COMMIT would triple the
            # round trips of every refresh.
            guard: contextlib.AbstractContextManager[object] = (
                transaction.atomic(using=alias)
                if connection.in_atomic_block or not connection.get_autocommit()
                else contextlib.nullcontext()
            )
            with guard:
                rows = tuple(
                    AllowedOrigin.objects.using(alias).filter(enabled=True).order_by("pk").values_list("origin", "pk")
                )
        except DatabaseError as exc:
            if not self._db_failing:
                self._db_failing = True
                if _is_missing_table(exc):
                    logger.warning(
                        "credcors: the AllowedOrigin table does not exist yet; using settings only "
                        "until you run 'manage.py migrate'."
                    )
                else:
                    logger.error(
                        "credcors: could not read allowed origins (%s); still serving the last loaded "
                        "allow-list until the database answers again.",
                        type(exc).__name__,
                    )
            return None
        if self._db_failing:
            self._db_failing = False
            logger.warning("credcors: the database answers again; allowed origins reloaded.")
        return rows

    def _compile(self, config: Config, rows: Iterable[tuple[str, object]]) -> Policy:
        started = time.perf_counter()
        pairs: list[tuple[Rule, str]] = [(rule, SETTINGS_SOURCE) for rule in config.rules]
        exact: list[tuple[str, str]] = []
        cache = self._rule_cache if config is self._config else {}
        allow_insecure, credentials = config.allow_insecure, config.credentials
        for origin, pk in rows:
            if isinstance(origin, str) and is_canonical_exact_origin(
                origin, allow_insecure=allow_insecure, credentials=credentials
            ):
                # What the model saves: one regex, no parsing, no Rule object,
                # so 100,000 rows load in a fraction of a second.
                exact.append((origin, database_source(pk)))
                continue
            rule = cache.get(origin, _MISSING)
            if rule is _MISSING:
                rule = cache[origin] = _parse_row(config, origin)
            if rule is not None:
                pairs.append((rule, database_source(pk)))
        self._rule_cache = cache
        policy = Policy.build(
            compile_rules(pairs, exact),
            allow_methods=config.allow_methods,
            allow_headers=config.allow_headers,
            expose_headers=config.expose_headers,
            credentials=config.credentials,
            max_age=config.max_age,
        )
        logger.info(
            "credcors: allow-list loaded: %d rules (%d from settings) in %.1f ms.",
            len(policy.matcher),
            len(config.rules),
            (time.perf_counter() - started) * 1000,
        )
        return policy


_MISSING: Rule | None = Rule("", "", None)


def _parse_row(config: Config, origin: str) -> Rule | None:
    # Rows written by the ORM are already canonical, but QuerySet.update(),
    # bulk_create() and raw SQL skip validation.  A row that is not exactly
    # canonical and valid under the current settings is left out (fail closed).
    try:
        rule = parse_rule(origin, allow_insecure=config.allow_insecure, credentials=config.credentials)
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


def _is_missing_table(exc: DatabaseError) -> bool:
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text or "doesn't exist" in text


#: The process-wide store the middleware, CSRF integration and tools share.
store = Store()
