"""The process-wide current :class:`~credcors.core.snapshot.Snapshot`, and when to look again.

A request reads one attribute and compares one float: no I/O in steady state.
Every ``REFRESH_SECONDS`` the first request that finds the snapshot due starts
a refresh off the request path, in a background thread, and answers from the
current snapshot; the new one is swapped in (one reference) when it is ready.
No request waits for the rows, except the very first load of a process and
the first request after a commit in this same process, which reloads before
it answers so that the saving process never serves what it just changed.
A refresh that finds the same rows keeps the compiled snapshot; one that
fails keeps the last good one, so a database outage never makes credcors
more permissive.  It keeps it for the whole outage, unless
``MAX_STALE_SECONDS`` is set: then a process that has had no answer from the
database for that long, though it asked, drops the rows and serves the
settings' origins only until the database answers again.  That deadline is
one more time folded into the schedule's ``check_at``, so the request path
still compares one float; the drop itself compiles the settings alone, no
I/O.

With ``CACHE_ALIAS`` naming a shared cache, a local commit also writes a new
token under :data:`~credcors.store.loader.VERSION_KEY`, and each process reads that
key at most every :data:`CACHE_CHECK_SECONDS`, so a change saved anywhere
shows everywhere well before ``REFRESH_SECONDS``.  The cache only makes
things faster: the database poll stays, and a cache that fails is logged once
and tried again after :data:`CACHE_RETRY_SECONDS`, then twice as long after
each failure up to :data:`CACHE_RETRY_MAX_SECONDS` (and at every database
poll), until it answers again.

A row with an expiry (``AllowedOrigin.expires_at``) needs no query to stop
matching: the snapshot knows its next expiry, the schedule makes the first
request after it look again, and that request swaps in the same snapshot
without the expired grants (:meth:`~credcors.core.snapshot.Snapshot.without_expired`,
built from the grants already held).  The request path still reads one
attribute and compares one float.

Loading lives in :mod:`credcors.store.loader`; this module only schedules and
swaps.  The clock and the way a background refresh is started are passed
in, so tests move time by hand and run refreshes inline.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from asgiref.sync import sync_to_async

from credcors.conf import get_config
from credcors.core.compile import compile_rows, count_rows
from credcors.core.config import Config
from credcors.core.snapshot import Snapshot
from credcors.lazy import Lazy
from credcors.store.loader import UNREADABLE, Loader
from credcors.store.schedule import Schedule, Worker

__all__ = ["CACHE_CHECK_SECONDS", "CACHE_RETRY_MAX_SECONDS", "CACHE_RETRY_SECONDS", "Store", "get_store", "reset_store"]

logger = logging.getLogger("credcors")

#: How often a process reads the shared version: one GET per process per
#: interval, done by whichever request finds it due, never one per request.
CACHE_CHECK_SECONDS = 0.25

#: After the shared cache fails, the first retry comes this much later, and
#: each further failure doubles the wait up to :data:`CACHE_RETRY_MAX_SECONDS`.
#: A silent cache costs the request that retries it its socket timeout, so a
#: retry at every check would slow one request in four; the database poll
#: also retries it every ``REFRESH_SECONDS``.
CACHE_RETRY_SECONDS = 1.0
CACHE_RETRY_MAX_SECONDS = 10.0


class Store:
    """Holds this process's current snapshot and refreshes it on schedule."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        loader: Loader | None = None,
        spawn: Callable[[Callable[[], None]], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        #: Seconds since the epoch, what expiries are compared with; ``clock``
        #: (monotonic) times everything else.
        self.wall = wall
        self.loader = loader or Loader()
        # The worker's thread starts with the first background refresh, not here.
        self._worker: Worker | None = None
        if spawn is None:
            spawn = self._worker = Worker("credcors-refresh")
        #: Runs a refresh off the request path; tests pass one that runs it inline.
        self.spawn = spawn
        self.reset()

    def after_fork(self) -> None:  # pragma: no cover - runs in the child; tests/store/test_background.py forks one.
        """Make a forked child's copy usable: fresh locks, no inherited thread, look again at the next request.

        A process forked after loading (gunicorn --preload) inherits the
        snapshot but not the thread that may have held the lock.  Called by
        the hook :func:`get_store` registers once per process.
        """
        self._lock = threading.Lock()
        self._swap = threading.Lock()
        if self._worker is not None:
            self._worker.after_fork()
        self.schedule.expire()

    def reset(self) -> None:
        """Forget everything; the next request rebuilds from settings and rows."""
        self._lock = threading.Lock()
        #: Guards the swap of ``_snapshot`` between a refresh and an expiry,
        #: so neither overwrites the other's newer snapshot.
        self._swap = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._config: Config | None = None
        #: Ids of the enabled rows the snapshot leaves out as invalid.
        self._invalid: frozenset[int] = frozenset()
        self._seen_version: object = UNREADABLE
        #: Wall-clock time (time.time()) of the last refresh the database answered; None before one.
        self.read_at: float | None = None
        # MAX_STALE_SECONDS, all on ``clock`` and written under ``_swap``:
        # when the served rows stop being served (infinity while nothing is
        # to be dropped), since when a poll has gone unanswered (None: the
        # last one was answered), when the database last answered, and
        # whether the rows were dropped (the next load then reads them all).
        self._rows_until = math.inf
        self._asking_since: float | None = None
        self._heard_at = -math.inf
        self._dropped = False
        self.schedule = Schedule()
        self.loader.reset()

    def invalidate(self) -> None:
        """Make the next request reload rows (called after a local commit)."""
        self.schedule.invalidate()

    def publish_change(self) -> None:
        """Reload here, and tell every process sharing ``CACHE_ALIAS`` to reload.

        Called after a local commit changed rows.  Without a shared cache this
        is :meth:`invalidate`; a cache that fails is logged once, never raised.
        """
        self.invalidate()
        config = get_config()
        if config.cache_alias is not None and config.reads_database:
            self.loader.publish(config.cache_alias)

    @property
    def loaded_rows(self) -> int:
        """How many database rows the snapshot holds, or leaves out as invalid."""
        snapshot = self._snapshot
        return 0 if snapshot is None else count_rows((snapshot, self._invalid))

    @property
    def invalid_rows(self) -> int:
        """How many enabled rows the snapshot leaves out as invalid."""
        return len(self._invalid)

    def get(self) -> Snapshot:
        """The current snapshot (sync code); a due refresh runs off the request path.

        Only the very first load, and the first request after a commit in
        this process, wait for the rows; any other request that finds the
        snapshot due starts a background refresh and answers from the
        current snapshot.
        """
        snapshot = self._snapshot
        if snapshot is not None and self.clock() < self.schedule.check_at:
            return snapshot
        if snapshot is None or self.schedule.stale:
            return self.refresh()
        snapshot = self._servable(snapshot)
        if self.clock() < self.schedule.reload_at:
            # Only the shared-cache check is due: one GET with a short socket
            # timeout, done here by whichever request is free to (a thread per
            # check, four a second, would cost more than it saves).
            return self._check_shared_cache() or snapshot
        self._refresh_in_background()
        # Whatever is current now: the old snapshot while the refresh runs.
        return self._snapshot or snapshot

    async def aget(self) -> Snapshot:
        """The current snapshot for async code: nothing here blocks the event loop."""
        snapshot = self._snapshot
        if snapshot is not None and self.clock() < self.schedule.check_at:
            return snapshot
        if snapshot is None or self.schedule.stale:
            return await sync_to_async(self.refresh, thread_sensitive=True)()
        snapshot = self._servable(snapshot)
        # Started from Django's sync thread, as ORM-adjacent work must be; it
        # only starts the refresh, so this request waits for a thread hop,
        # once per interval, never for the rows.
        await sync_to_async(self._refresh_in_background, thread_sensitive=True)()
        return self._snapshot or snapshot

    def refresh(self) -> Snapshot:
        """Re-read settings and rows if due, waiting for a refresh already running; return the snapshot."""
        with self._lock:
            return self._refresh_if_due()

    def _servable(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot``, or what replaces it now: without its expired grants, or without rows gone stale."""
        snapshot = self._unexpired(snapshot)
        if self.clock() < self._rows_until:
            return snapshot
        return self._drop_stale_rows(snapshot)

    def _drop_stale_rows(self, snapshot: Snapshot) -> Snapshot:
        """Serve the settings' origins only: ``MAX_STALE_SECONDS`` passed without an answer from the database.

        Only while a poll is unanswered (failed, or still waiting): a process
        that was idle has not asked, and the request that finds it due starts
        the poll (which then gets ``MAX_STALE_SECONDS - REFRESH_SECONDS`` to
        answer, as a poll of a busy process does).  No I/O and not the
        refresh lock, like an expiry: it takes effect while a refresh waits
        for a database that does not answer.  Compiling the settings alone
        took 0.16 ms with the test settings' three origins (2 busy shared
        cores, Python 3.11), once per outage.
        """
        with self._swap:
            if self._asking_since is None or self.clock() < self._rows_until:
                return self._snapshot or snapshot
            rows = self.loaded_rows
            self._snapshot, self._invalid = compile_rows(self._config or get_config(), (), self.wall())
            self._rows_until = math.inf
            self._dropped = True
            silent = self.clock() - self._heard_at
            dropped = self._snapshot
        logger.warning(
            "credcors: no answer from the database for %.0f s (MAX_STALE_SECONDS); no longer serving its %d rows, "
            "only the settings' origins, until it answers again.",
            silent,
            rows,
        )
        return dropped

    def _unexpired(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot``, or the current one without the grants whose expiry has passed, swapped in.

        No I/O and not the refresh lock: an expiry takes effect even while a
        refresh waits for the database.  The rebuild runs once per expiry, in
        the first request after it; measured (2 busy shared cores, Python
        3.11): 0.2 ms with 1,000 rows, 68 ms with 100,000.
        """
        expiry = snapshot.next_expiry
        if expiry is None or self.wall() < expiry:
            return snapshot
        with self._swap:
            current = self._snapshot or snapshot
            pruned = current.without_expired(self.wall())
            self._snapshot = pruned
        # The schedule stays due: the refresh step that follows (now, or
        # when a running refresh ends) times the next look by this snapshot.
        return pruned

    def _check_by_expiry(self, snapshot: Snapshot) -> float:
        # The expiry is wall-clock time; the schedule runs on ``clock``.
        expiry = snapshot.next_expiry
        return math.inf if expiry is None else self.clock() + max(0.0, expiry - self.wall())

    def _check_shared_cache(self) -> Snapshot | None:
        if not self._lock.acquire(blocking=False):
            return None  # A refresh is under way.
        try:
            return self._refresh_if_due()
        finally:
            self._lock.release()

    def _refresh_in_background(self) -> None:
        # One refresh at a time: when one is running, nothing to start.
        if not self._lock.acquire(blocking=False):
            return
        try:
            self.spawn(self._background_refresh)
        except Exception:  # No thread to be had: keep serving, try at the next request.
            self._lock.release()
            logger.exception("credcors: could not start a background refresh; still serving the last snapshot.")

    def _background_refresh(self) -> None:
        try:
            self._refresh_if_due()
        except Exception:  # pragma: no cover - loader errors are caught below it; this is the last guard.
            logger.exception("credcors: a background refresh failed; still serving the last snapshot.")
        finally:
            self._lock.release()

    def _refresh_if_due(self) -> Snapshot:
        current = self._snapshot
        if current is not None:
            current = self._servable(current)
        schedule = self.schedule
        if current is not None and not schedule.stale and self.clock() < schedule.check_at:
            return current
        return self._refresh(current, schedule.begin(), get_config())

    def _refresh(self, current: Snapshot | None, generation: int, config: Config) -> Snapshot:
        alias = config.cache_alias if config.reads_database else None
        # Read the version before the rows: a change published in between
        # then shows as a new version at the next check, never as a miss.
        version = UNREADABLE if alias is None else self.loader.shared_version(alias)
        unchanged = version is UNREADABLE or version == self._seen_version
        # What is served now, if it was compiled from these settings.
        kept = (current, self._invalid) if current is not None and config is self._config else None
        cache_failed = alias is not None and version is UNREADABLE
        if kept is not None and self.clock() < self.schedule.reload_at and unchanged:
            # Only the shared-cache check was due, and nothing changed.
            self._set_schedule(generation, self.schedule.reload_at, version, kept[0], cache_failed=cache_failed)
            return kept[0]
        self._asking(config)
        # Rows dropped for MAX_STALE_SECONDS are not in what is served: read them all.
        loaded = self.loader.load(None if self._dropped else kept, config, self.clock(), self.wall())
        failed = loaded is None
        if loaded is None:
            # The database failed: keep what we had.  With nothing loaded yet,
            # or settings changed meanwhile, serve the settings' origins only:
            # an outage never widens the list.
            loaded = kept or compile_rows(config, (), self.wall())
        else:
            self.read_at = time.time()
            if alias is not None:
                self._seen_version = version
        snapshot, invalid = loaded
        with self._swap:
            recovered = not failed and self._dropped
            if snapshot is not current or recovered:
                self._snapshot, self._invalid = snapshot, invalid
            else:
                # An expiry or MAX_STALE_SECONDS replaced ``current`` meanwhile: theirs stands.
                snapshot = self._snapshot or snapshot
            if not failed:
                self._answered(config)
            elif kept is None:
                self._rows_until = math.inf  # Settings only: no rows to drop.
        if recovered:
            logger.info(
                "credcors: serving the database rows again (%d), dropped for MAX_STALE_SECONDS during the outage.",
                self.loaded_rows,
            )
        self._config = config
        # Timed from the end of the read, so that a reload longer than the
        # interval does not make the next one due at once.  While the
        # database fails a new version cannot be loaded anyway: wait for the
        # next poll rather than retrying at every cache check.
        self._set_schedule(
            generation,
            self.clock() + config.refresh_seconds,
            UNREADABLE if failed else version,
            snapshot,
            cache_failed=cache_failed and not failed,
        )
        # The deadline may have passed while the database was failing.
        return self._servable(snapshot)

    def _asking(self, config: Config) -> None:
        """A poll starts: the first one unanswered gives the database ``MAX_STALE_SECONDS - REFRESH_SECONDS``."""
        with self._swap:
            if self._asking_since is None and config.max_stale_seconds is not None:
                self._asking_since = now = self.clock()
                self._rows_until = max(self._rows_until, now + config.max_stale_seconds - config.refresh_seconds)

    def _answered(self, config: Config) -> None:
        # Under ``_swap``, with the rows just swapped in.
        now = self.clock()
        self._heard_at, self._asking_since, self._dropped = now, None, False
        stale = config.max_stale_seconds
        self._rows_until = math.inf if stale is None or not config.reads_database else now + stale

    def _set_schedule(
        self, generation: int, reload_at: float, version: object, current: Snapshot, *, cache_failed: bool
    ) -> None:
        if version is not UNREADABLE:
            check_at = self.clock() + CACHE_CHECK_SECONDS
        elif cache_failed:
            # The cache failed, the database did not: ask the cache again soon.
            failures = min(self.loader.cache_failures, 8)
            check_at = self.clock() + min(CACHE_RETRY_MAX_SECONDS, CACHE_RETRY_SECONDS * 2 ** max(failures - 1, 0))
        else:
            check_at = reload_at
        check_at = min(check_at, self._check_by_expiry(current), self._rows_until)
        self.schedule.set(generation, reload_at, check_at)


#: The process-wide store the middleware, CSRF integration and tools share,
#: made on first use: importing credcors starts no thread and registers no
#: fork hook (issue #22).  A forked child keeps it, with fresh locks.
STORE: Lazy[Store] = Lazy("store", Store, after_fork=Store.after_fork)
get_store = STORE.get
reset_store = STORE.reset
