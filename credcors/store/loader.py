"""Read what a snapshot is built from: settings, ``AllowedOrigin`` rows, the shared version.

The one guarded read of the table, used by the store and by diagnostics
alike, is :func:`credcors.store.reads.read_rows`.  :class:`Loader` adds what the
store needs around it: each outage logged once (and its end).
:mod:`credcors.core.compile` turns what is read into a snapshot.  Nothing here
runs per request.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import uuid
from collections.abc import Callable, Collection, Iterator
from typing import Any

from django.core.cache import caches
from django.db import DatabaseError, router

from credcors.core.compile import (
    Compiled,
    RowColumns,
    apply_changes,
    compile_columns,
    compile_rows,
    count_rows,
    row_policies,
)
from credcors.core.config import Config
from credcors.store.reads import is_missing_table, read_row_columns
from credcors.store.revision import Changes, is_supported, read_changes, read_revision, verifies_for_free

__all__ = [
    "FAILED",
    "UNREADABLE",
    "VERIFY_SECONDS",
    "VERSION_KEY",
    "Loader",
]

logger = logging.getLogger("credcors")

#: The shared-cache key a local commit rewrites; its value is an opaque token.
VERSION_KEY = "credcors:rows-version"

#: What :meth:`Loader.shared_version` returns when the cache did not answer.
UNREADABLE: Any = object()

#: What :meth:`Loader.revision` returns when the database did not answer.
FAILED: Any = object()

#: How often a poll also checks that the revision's triggers are in place on
#: MySQL/MariaDB, where that costs milliseconds.  On PostgreSQL and SQLite it
#: is free and every poll checks; and while triggers are missing, so does
#: every poll everywhere, so that their return is noticed at once.
VERIFY_SECONDS = 60.0


@contextlib.contextmanager
def _paused_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a snapshot is built from many rows.

    Building objects for every row sets off full collections, each walking
    every object built so far, though none of them is garbage: a third of
    a cold load of 1,000,000 rows from PostgreSQL (3.9 s, 2.5 s with the
    collector paused).  Wrap only CPU work, never a query: other threads'
    cyclic garbage waits meanwhile.  A collector paused elsewhere (by the
    application, or another build) is left as it is.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Loader:
    """Reads rows and the shared version for the store, logging each outage once."""

    def __init__(self, read: Callable[[Collection[str]], RowColumns] = read_row_columns) -> None:
        self.read = read
        self.reset()

    def reset(self) -> None:
        """Forget past outages, and what was loaded."""
        #: The revision the loaded rows are at; ``None`` before a load, or without one.
        self.loaded_revision: int | None = None
        #: A hash of the rows last read in full, where no revision says whether they changed.
        self.digest: int | None = None
        self.verified_at = -math.inf
        self.db_failing = False
        #: ``MAX_STALE_SECONDS`` of the last load, for the outage's log line.
        self.max_stale: float | None = None
        self.cache_failing = False
        #: The shared cache's failures in a row, what the store's retries back off by.
        self.cache_failures = 0
        self.revision_missing = False
        self.revision_warned = False

    def load(self, current: Compiled | None, config: Config, now: float, wall: float) -> Compiled | None:
        """The snapshot to serve and its invalid rows' ids, or ``None`` when the database failed.

        ``current`` is what is served now, compiled from the same ``config``
        (``None`` to compile everything); ``now`` is the store's clock,
        ``wall`` the time since the epoch.  Where the table keeps a revision,
        one small query says whether anything changed; then the change log
        names the rows that did, and only those are read and applied.
        Everything is read and compiled again only when the log cannot say
        (pruned, a pattern row, no log on this backend), on a change of
        settings, and on the first load.  The revision is read before the
        rows: a change committed in between shows as a new revision at the
        next poll, never as a miss.
        """
        if not config.reads_database:
            return current or compile_rows(config, (), wall)
        self.max_stale = config.max_stale_seconds
        if current is None:
            # Nothing to build on (the first load, or settings read again):
            # until this load succeeds, nothing served holds the rows last read.
            self.loaded_revision = self.digest = None
        kept = 0 if current is None else count_rows(current)
        revision = self.revision(now=now, kept=kept)
        if revision is FAILED:
            return None
        if current is not None and revision is not None and self.loaded_revision is not None:
            if revision == self.loaded_revision:
                self.answered()  # Nothing changed since the rows were read.
                return current
            changes = self.changes(self.loaded_revision, revision, kept)
            if changes is FAILED:
                return None
            applied = None if changes is None else apply_changes(config, current, changes.ids, changes.rows, wall)
            if applied is not None:
                self.answered()
                self.loaded_revision = revision
                return applied
        rows = self.rows(kept, row_policies(config))
        if rows is None:
            return None
        self.loaded_revision = revision
        # Without a revision every interval reads every row: compile only when they differ.
        digest = rows.digest() if revision is None else None
        if current is not None and digest is not None and digest == self.digest:
            return current
        self.digest = digest
        with _paused_collection():
            return compile_columns(config, rows, wall)

    def revision(self, *, now: float, kept: int) -> int | None:
        """The table's revision (one small query), ``None`` to read every row, or :data:`FAILED`.

        ``None`` comes from a backend without revision support, or missing
        triggers (logged once, with the repair): reading every row then is
        slower but never stale.  The poll checks the triggers when that is
        free (PostgreSQL, SQLite), while they are known to be missing, and
        otherwise every :data:`VERIFY_SECONDS` of ``now`` (the store's
        clock).  A database error is an outage, logged once like a failed
        read; ``kept`` is what is served meanwhile.
        """
        from credcors.models import AllowedOrigin

        alias = router.db_for_read(AllowedOrigin)
        verify = self.revision_missing or now - self.verified_at >= VERIFY_SECONDS or verifies_for_free(alias)
        try:
            value = read_revision(alias, verify=verify)
        except DatabaseError as exc:
            self.failed(exc, kept)
            return FAILED  # type: ignore[no-any-return]
        if verify:
            self.verified_at = now
        if verify or value is None:
            # Said once the rows themselves read fine: with the whole table
            # gone, the missing table is the news, not its triggers.
            self.revision_missing = value is None and is_supported(alias)
        return value

    def changes(self, since: int, until: int, kept: int) -> Changes | None:
        """The rows changed from revision ``since`` to ``until``, ``None`` to read them all, or :data:`FAILED`."""
        from credcors.models import AllowedOrigin

        try:
            return read_changes(router.db_for_read(AllowedOrigin), since, until)
        except DatabaseError as exc:
            self.failed(exc, kept)
            return FAILED  # type: ignore[no-any-return]

    def rows(self, kept: int, policies: Collection[str]) -> RowColumns | None:
        """The enabled rows, or ``None`` when the database failed; ``kept`` is what is served meanwhile."""
        try:
            rows = self.read(policies)
        except DatabaseError as exc:
            self.failed(exc, kept)
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

    def failed(self, exc: DatabaseError, kept: int) -> None:
        """The database failed a read: log the outage, once; ``kept`` rows are served meanwhile."""
        if not self.db_failing:
            self.db_failing = True
            _log_outage(exc, kept, self.max_stale)

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
        self.cache_failures = 0
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
        self.cache_failures += 1
        if not self.cache_failing:
            self.cache_failing = True
            logger.error(
                "credcors: could not reach the shared cache %r (%s); other processes see changes within "
                "REFRESH_SECONDS instead, until it answers again (tried again within seconds).",
                alias,
                type(exc).__name__,
            )


def _log_outage(exc: DatabaseError, kept: int, max_stale: float | None) -> None:
    # Say what is really served meanwhile: the rows loaded before the outage
    # (for MAX_STALE_SECONDS at most, when it is set), or none (settings only)
    # when there never were any.
    serving = f"still serving the {kept} database rows loaded before" if kept else "serving the settings' origins only"
    if kept and max_stale is not None:
        serving += f" (then the settings' origins only, {max_stale:g} s after its last answer: MAX_STALE_SECONDS)"
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
