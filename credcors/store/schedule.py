"""When a process looks at the allow-list again, and the thread a background refresh runs in.

:class:`Schedule` holds the two times the store compares with its clock and
never loses an invalidation; :class:`Worker` runs the refreshes in one
long-lived daemon thread that keeps its database connection between them;
:func:`start_thread` runs a one-off task (the refused origins' flush) in a
daemon thread that closes its connections.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable

from django.core.cache import caches
from django.db import connections

__all__ = ["IDLE_SECONDS", "Schedule", "Worker", "start_thread"]

logger = logging.getLogger("credcors")

#: A :class:`Worker` with nothing to do for this long closes its connections and ends.
IDLE_SECONDS = 60.0


class Schedule:
    """When the next request must look again (``check_at``), and when it must re-read rows.

    :meth:`invalidate` may run in any thread at any moment (a commit's
    ``on_commit`` hook), also while a refresh is writing the next times: a
    refresh writes them with :meth:`set`, which then checks whether an
    invalidation landed since :meth:`begin`, and if so stays due.  Either the
    invalidation's own write of ``-inf`` comes after the refresh's, or the
    refresh sees the new generation; an invalidation is never lost.
    """

    def __init__(self) -> None:
        self.check_at = -math.inf
        self.reload_at = -math.inf
        #: A local commit changed rows since the last refresh began: the next
        #: request reloads before it answers, so this process never serves
        #: what it just changed.
        self.stale = False
        self._generation = 0

    def invalidate(self) -> None:
        """A local commit changed rows: reload before the next answer."""
        self._generation += 1
        self.stale = True
        self.expire()

    def expire(self) -> None:
        """Look again at the next request, as when ``REFRESH_SECONDS`` passed (nothing changed here)."""
        self.check_at = self.reload_at = -math.inf

    def begin(self) -> int:
        """The generation a refresh starts from; pass it to :meth:`set`."""
        return self._generation

    def set(self, generation: int, reload_at: float, check_at: float) -> None:
        self.reload_at, self.check_at = reload_at, min(check_at, reload_at)
        self.stale = False
        if self._generation != generation:  # A commit landed meanwhile: stay due.
            self.stale = True
            self.check_at = self.reload_at = -math.inf


def start_thread(refresh: Callable[[], None], name: str = "credcors-refresh") -> None:
    """Run ``refresh`` in a new daemon thread that closes its database connections when done."""

    def run() -> None:
        try:
            refresh()
        finally:
            # Django's database and cache connections are per thread: this
            # one's must not outlive it (a Redis client per refresh would).
            connections.close_all()
            caches.close_all()

    threading.Thread(target=run, name=name, daemon=True).start()


class Worker:
    """Runs tasks one after another in one daemon thread, started when needed, ended when idle.

    A thread per refresh would open a database connection per poll (a
    thread's connections must be closed when it ends): on PostgreSQL a new
    server process every ``REFRESH_SECONDS`` in every worker process.  This
    thread treats its connections as Django treats a request thread's: after
    each task it closes those that are unusable or older than
    ``CONN_MAX_AGE`` (so with the default of 0, each poll still connects),
    and it closes them all when it ends, after :data:`IDLE_SECONDS` without
    a task.  A process forked meanwhile (``gunicorn --preload``) starts its
    own thread: the owner's fork hook calls :meth:`after_fork`.
    """

    def __init__(self, name: str, idle_seconds: float = IDLE_SECONDS) -> None:
        self.name = name
        self.idle_seconds = idle_seconds
        self._reset()

    def after_fork(self) -> None:
        """Forget the parent's thread and queue in a forked child (its owner's fork hook calls this)."""
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def __call__(self, task: Callable[[], None]) -> None:
        """Run ``task`` in the thread, after those already given; start the thread if none runs."""
        with self._lock:
            self._tasks.put(task)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    task = self._tasks.get(timeout=self.idle_seconds)
                except queue.Empty:
                    with self._lock:
                        # Under the lock: a task given now starts a new thread.
                        if self._tasks.empty():
                            self._thread = None
                            return
                    continue  # pragma: no cover - a task came between the timeout and the lock.
                try:
                    task()
                except Exception:  # The next task must still run.
                    logger.exception("credcors: a background task failed.")
                finally:
                    for connection in connections.all(initialized_only=True):
                        connection.close_if_unusable_or_obsolete()
        finally:
            # Django's database and cache connections are per thread: this
            # one's must not outlive it (a Redis client per refresh would).
            connections.close_all()
            caches.close_all()
