"""The process-wide current :class:`~credcors.policy.Policy` snapshot.

A request reads one attribute and compares one float: no I/O in steady state.
Every ``REFRESH_SECONDS`` (or right after a local commit invalidates it) one
request re-reads the enabled ``AllowedOrigin`` rows; the others keep serving
the current snapshot meanwhile.  A refresh that finds the same rows keeps the
compiled snapshot; one that finds new rows compiles a new immutable snapshot
and swaps a single reference.  A refresh that fails keeps the last good
snapshot, so a database outage never makes credcors more permissive.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, router, transaction

from credcors.conf import Config, get_config
from credcors.matcher import compile_rules
from credcors.origins import OriginError, Rule, parse_rule
from credcors.policy import Policy

__all__ = ["Store", "store"]

logger = logging.getLogger("credcors")

SETTINGS_SOURCE = "settings"


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
        self._expires_at = -math.inf

    def invalidate(self) -> None:
        """Make the next request reload rows (called after a local commit)."""
        self._expires_at = -math.inf

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
            if current is not None and time.monotonic() < self._expires_at:
                return current
            started = time.monotonic()
            config = get_config()
            rows = self._read_rows(config) if config.use_database else ()
            if rows is None:  # The database failed: keep what we had.
                rows = self._rows or ()
            if current is None or config is not self._config or rows != self._rows:
                current = self._compile(config, rows)
                self._policy, self._config, self._rows = current, config, rows
            self._expires_at = started + config.refresh_seconds
            return current
        finally:
            self._lock.release()

    def _read_rows(self, config: Config) -> tuple[tuple[str, object], ...] | None:
        from credcors.models import AllowedOrigin

        alias = router.db_for_read(AllowedOrigin)
        try:
            # A savepoint when we are inside someone's transaction, so that a
            # failed read cannot poison it (PostgreSQL aborts the whole
            # transaction on any error otherwise).
            with transaction.atomic(using=alias, savepoint=connections[alias].in_atomic_block):
                rows = tuple(
                    AllowedOrigin.objects.using(alias)
                    .filter(enabled=True)
                    .order_by("pk")
                    .values_list("origin", "pk")
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
        cache = self._rule_cache if config is self._config else {}
        for origin, pk in rows:
            rule = cache.get(origin, _MISSING)
            if rule is _MISSING:
                rule = cache[origin] = _parse_row(config, origin)
            if rule is not None:
                pairs.append((rule, database_source(pk)))
        self._rule_cache = cache
        policy = Policy.build(
            compile_rules(pairs),
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
        logger.warning("credcors: ignoring invalid AllowedOrigin row: %s", exc.message)
        return None
    if rule.serialize() != origin:
        logger.warning(
            "credcors: ignoring AllowedOrigin row %r: it is not in canonical form (%r); save it again.",
            origin,
            rule.serialize(),
        )
        return None
    return rule


def _is_missing_table(exc: DatabaseError) -> bool:
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text or "doesn't exist" in text


#: The process-wide store the middleware, CSRF integration and tools share.
store = Store()
