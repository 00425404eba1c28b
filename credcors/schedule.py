"""When a process looks at the allow-list again, and the thread a background refresh runs in.

:class:`Schedule` holds the two times the store compares with its clock and
never loses an invalidation; :func:`start_thread` runs a refresh (or the
refused origins' flush) in a daemon thread that closes its connections.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from django.core.cache import caches
from django.db import connections

__all__ = ["Schedule", "start_thread"]


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
