"""Count refused origins in memory, bounded, for staff to approve later.

With ``RECORD_REFUSED`` on, the middleware hands every request refused for
its origin (``origin-not-allowed``) to :meth:`Recorder.record`.  That call does
no I/O: it checks that the value is a serialized origin as browsers send it
(the shapes :func:`~credcors.origins.classify_origin` calls serialized, which
are printable ASCII of bounded length), then updates one entry of a dict
under a lock.  An entry is an origin and the policy that refused it, so an
origin the default policy allows but a partner view's policy refuses is
counted, and listed, as that policy's refusal.  The dict holds at most
``REFUSED_MAX_PENDING`` entries; once full, entries already held keep
counting and new ones are dropped (and counted as dropped) until the next
flush empties it, so a flood of distinct origins costs a bounded amount of
memory and time.  A background flush (:mod:`credcors.refused_store`) takes
the whole table with :meth:`Recorder.drain` at most every
``REFUSED_FLUSH_SECONDS``.

Also home of the three bounds' validation, so that ``conf`` stays one screen
of settings.  Pure: never imports Django.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from credcors.catalogue import Problem, key
from credcors.wire import OriginShape, classify_origin

__all__ = [
    "MAX_PATH_LENGTH",
    "MAX_POLICY_LENGTH",
    "REFUSED_DEFAULTS",
    "Drained",
    "Recorder",
    "Refused",
    "RefusedSettings",
    "parse_refused_settings",
]

#: The policy of views that name none.
#: The stored path is cut to this many characters (it is only a hint for staff).
MAX_PATH_LENGTH = 200
#: The longest policy name stored with a refusal (the column's width).
MAX_POLICY_LENGTH = 100

REFUSED_DEFAULTS: Mapping[str, Any] = {
    "RECORD_REFUSED": False,
    "REFUSED_FLUSH_SECONDS": 10,
    "REFUSED_MAX_ROWS": 1000,
    "REFUSED_MAX_PENDING": 1000,
}
MIN_FLUSH_SECONDS = 1
MAX_FLUSH_SECONDS = 3600
MAX_ROWS = 100_000
#: About 0.3 KB each for a typical origin and path, 0.7 KB at most (an origin
#: of 267 characters, a path of 200, the entry): 10,000 stay under 10 MB.
MAX_PENDING = 10_000


class RefusedSettings(NamedTuple):
    """The validated ``RECORD_REFUSED`` and ``REFUSED_*`` settings."""

    record: bool = False
    flush_seconds: float = float(REFUSED_DEFAULTS["REFUSED_FLUSH_SECONDS"])
    max_rows: int = REFUSED_DEFAULTS["REFUSED_MAX_ROWS"]
    max_pending: int = REFUSED_DEFAULTS["REFUSED_MAX_PENDING"]


def _whole(values: Mapping[str, Any], name: str, high: int, check_id: str, hint: str, problems: list[Problem]) -> int:
    # The whole number from 1 to ``high`` under ``name``, or its default with a problem said.
    value = values[name]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high:
        return value
    problems.append(Problem(check_id, f"{key(name)} must be a whole number from 1 to {high:,}, not {value!r}.", hint))
    default: int = REFUSED_DEFAULTS[name]
    return default


def parse_refused_settings(values: Mapping[str, Any], problems: list[Problem]) -> RefusedSettings:
    """Validate the refused-origin settings in ``values`` (``RECORD_REFUSED`` is checked with the other booleans)."""
    flush = values["REFUSED_FLUSH_SECONDS"]
    if (
        isinstance(flush, bool)
        or not isinstance(flush, (int, float))
        or not MIN_FLUSH_SECONDS <= flush <= MAX_FLUSH_SECONDS
    ):
        problems.append(
            Problem(
                "credcors.E022",
                f"{key('REFUSED_FLUSH_SECONDS')} must be a number of seconds from {MIN_FLUSH_SECONDS} to "
                f"{MAX_FLUSH_SECONDS}, not {flush!r}.",
                "Each process writes refused origins to the database at most once per interval; the default is 10.",
            )
        )
        flush = REFUSED_DEFAULTS["REFUSED_FLUSH_SECONDS"]
    max_rows = _whole(
        values,
        "REFUSED_MAX_ROWS",
        MAX_ROWS,
        "credcors.E023",
        "It bounds the RefusedOrigin table (the least recently seen rows are evicted); the default is 1000.",
        problems,
    )
    max_pending = _whole(
        values,
        "REFUSED_MAX_PENDING",
        MAX_PENDING,
        "credcors.E024",
        "It bounds the distinct refused origins each process holds in memory between flushes; the default is 1000.",
        problems,
    )
    return RefusedSettings(values["RECORD_REFUSED"], float(flush), max_rows, max_pending)


class Refused(NamedTuple):
    """What one process saw of one origin refused by one policy since its last flush (times from ``time.time``)."""

    origin: str
    refusals: int
    first_seen: float
    last_seen: float
    last_path: str
    policy: str


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
        self._table: dict[tuple[str, str], _Entry] = {}
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._table)

    def record(self, origin: str, path: str, policy: str, capacity: int, *, serialized: bool = False) -> bool:
        """Count one refusal of ``origin`` by ``policy``; False when not recorded (malformed, or the table is full).

        O(1): a shape check bounded by the origin's length limit, a slice
        of the path, one dict operation under the lock.  ``serialized``
        says the caller knows the origin is well formed (the policy refused
        it as not allowed, which it says only of those), and skips the
        check: half a microsecond of a refusal's cost.
        """
        if not serialized and classify_origin(origin) is not OriginShape.SERIALIZED:
            return False
        # Request paths are decoded text: keep them bounded here; the flush
        # makes them storable, and the admin escapes what it shows.
        path = path[:MAX_PATH_LENGTH]
        now = self.clock()
        held = (origin, policy)
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
            Refused(origin, entry.count, entry.first_seen, entry.last_seen, entry.last_path, policy)
            for (origin, policy), entry in table.items()
        )
        return Drained(refused, dropped)

    def reset(self) -> None:
        """Forget everything (a forked child's inherited counts belong to its parent)."""
        self._lock = threading.Lock()
        self._table = {}
        self._dropped = 0
