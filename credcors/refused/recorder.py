"""Count refused origins in memory, bounded, for staff to approve later.

With ``RECORD_REFUSED`` on, the middleware hands every request refused for
its origin (``origin-not-allowed``) to :meth:`Recorder.record`.  That call does
no I/O: it checks that the value is a serialized origin as browsers send it
(the shapes :func:`~credcors.core.origins.classify_origin` calls serialized, which
are printable ASCII of bounded length), then updates one entry of a dict
under a lock.  An entry is an origin, the policy that refused it and the
host the request was sent to, so an origin the default policy allows but a
partner view's policy refuses is counted, and listed, as that policy's
refusal, and an origin allowed on one customer's API host but refused on
another's (issue 24) as that host's.  The dict holds at most
``REFUSED_MAX_PENDING`` entries; once full, entries already held keep
counting and new ones are dropped (and counted as dropped) until the next
flush empties it, so a flood of distinct origins costs a bounded amount of
memory and time.  A background flush (:mod:`credcors.refused.flush`) takes
the whole table with :meth:`Recorder.drain` at most every
``REFUSED_FLUSH_SECONDS``.

Its bounds are settings, validated in :mod:`credcors.core.config.refused`.
Pure: never imports Django.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from credcors.core.origin_header import OriginShape, classify_origin

__all__ = [
    "MAX_HOST_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_POLICY_LENGTH",
    "Drained",
    "Recorder",
    "Refused",
]

#: The policy of views that name none.
#: The stored path is cut to this many characters (it is only a hint for staff).
MAX_PATH_LENGTH = 200
#: The longest policy name stored with a refusal (the column's width).
MAX_POLICY_LENGTH = 100
#: The longest host recorded (the column's width); DNS names stop at 253.
MAX_HOST_LENGTH = 255


class Refused(NamedTuple):
    """What one process saw of one origin refused by one policy on one host since its last flush.

    Times are from ``time.time``; ``host`` is ``""`` when unknown.
    """

    origin: str
    refusals: int
    first_seen: float
    last_seen: float
    last_path: str
    policy: str
    host: str = ""


class Drained(NamedTuple):
    """A flush's share: the counted origins, and how many new origins the full table dropped."""

    refused: tuple[Refused, ...]
    dropped: int


class _Entry:
    __slots__ = ("count", "first_seen", "last_path", "last_seen")

    def __init__(self, now: float, path: str) -> None:
        self.count = 1
        self.first_seen = self.last_seen = now
        self.last_path = path


class Recorder:
    """A bounded, thread-safe table of refused origins, emptied by :meth:`drain`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._table: dict[tuple[str, str, str], _Entry] = {}
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._table)

    def record(
        self, origin: str, path: str, policy: str, capacity: int, *, serialized: bool = False, host: str = ""
    ) -> bool:
        """Count one refusal of ``origin`` by ``policy`` on ``host``; False when not recorded.

        Not recorded: a malformed origin, a host longer than any DNS name,
        or a full table.  O(1): a shape check bounded by the origin's length
        limit, a slice of the path, one dict operation under the lock.
        ``serialized`` says the caller knows the origin is well formed (the
        policy refused it as not allowed, which it says only of those), and
        skips the check: half a microsecond of a refusal's cost.  ``host``
        is the one Django accepted, without its port (``""``: unknown).
        """
        if not serialized and classify_origin(origin) is not OriginShape.SERIALIZED:
            return False
        if len(host) > MAX_HOST_LENGTH:
            # ALLOWED_HOSTS = ["*"] accepts any length; no browser's host is
            # this long, and a cut one would name another host.
            return False
        # Request paths are decoded text: keep them bounded here; the flush
        # makes them storable, and the admin escapes what it shows.
        path = path[:MAX_PATH_LENGTH]
        now = self.clock()
        held = (origin, policy, host)
        with self._lock:
            entry = self._table.get(held)
            if entry is not None:
                entry.count += 1
                entry.last_seen = now
                entry.last_path = path
                return True
            if len(self._table) >= capacity:
                self._dropped += 1
                return False
            self._table[held] = _Entry(now, path)
            return True

    def drain(self) -> Drained:
        """Take everything counted so far and start an empty table."""
        with self._lock:
            table, self._table = self._table, {}
            dropped, self._dropped = self._dropped, 0
        refused = tuple(
            Refused(origin, entry.count, entry.first_seen, entry.last_seen, entry.last_path, policy, host)
            for (origin, policy, host), entry in table.items()
        )
        return Drained(refused, dropped)

    def reset(self) -> None:
        """Forget everything (a forked child's inherited counts belong to its parent)."""
        self._lock = threading.Lock()
        self._table = {}
        self._dropped = 0
