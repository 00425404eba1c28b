"""Flush the in-memory refused origins into ``RefusedOrigin``, off the request path.

The middleware calls :meth:`RefusedLog.record` for each request refused for
its origin while ``RECORD_REFUSED`` is on: a count in the bounded
:class:`~credcors.refused.recorder.Recorder`, and, when no flush is pending, one
timer thread started.  That thread waits until a flush is due (at most one
per ``REFUSED_FLUSH_SECONDS`` per process), takes the whole table and writes
it in one transaction: counts added to the rows that exist, new rows
inserted, then the least recently seen rows evicted down to
``REFUSED_MAX_ROWS``.  Each origin is kept under the policy that refused it
and the host it was sent to, and left out only when that policy allows it
on that host since.

Request input is made storable before it is written
(:func:`~credcors.core.quoting.storable`), and a value the database still refuses
costs only its own origin: the interval is then written one origin at a time,
each in a savepoint, so one hostile path never blinds the list.
Eviction goes by recency, not by count: old high counts, which anyone can
pile up by sending requests, never keep a new refusal out.  Any other
database error is logged once (until a flush succeeds again) and the counts
of that interval are dropped: never raised, never retried in a loop.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DataError, IntegrityError, router, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.utils.timezone import make_naive

from credcors.conf import get_config
from credcors.core.config.refused import RefusedSettings
from credcors.core.decide import decide
from credcors.core.quoting import safe, scrub, storable
from credcors.lazy import Lazy
from credcors.refused.recorder import MAX_HOST_LENGTH, MAX_PATH_LENGTH, MAX_POLICY_LENGTH, Recorder, Refused
from credcors.store.current import get_store
from credcors.store.schedule import start_thread

if TYPE_CHECKING:
    from credcors.core.snapshot import Snapshot
    from credcors.models import RefusedOrigin

__all__ = [
    "RefusedLog",
    "evict_least_recent",
    "get_refused_log",
    "now_allowed",
    "reset_refused_log",
    "start_timer",
    "write_refused",
]

logger = logging.getLogger("credcors")

#: Rows per ``IN (...)`` list: within every backend's parameter limit.
_CHUNK = 500
#: What a database says of a value it cannot store (PostgreSQL: NUL in text,
#: a number out of range, a string too long; a constraint or trigger), as
#: opposed to an outage, which no retry of one row would help.
_REFUSED_VALUE = (DataError, IntegrityError)

#: Starts ``flush`` in the background after ``delay`` seconds.
Timer = Callable[[float, Callable[[], None]], None]


def start_timer(delay: float, flush: Callable[[], None]) -> None:
    """Run ``flush`` in a daemon thread after ``delay`` seconds; the thread closes its connections."""

    def run() -> None:
        if delay > 0:
            time.sleep(delay)
        flush()

    start_thread(run, name="credcors-refused")


def _when(timestamp: float) -> datetime:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment if settings.USE_TZ else make_naive(moment)


def write_refused(refused: Sequence[Refused], max_rows: int) -> int:
    """Add ``refused`` to the ``RefusedOrigin`` table, keep at most ``max_rows`` rows; return how many were written.

    Paths, policy names and hosts are made storable first.  Should the database
    still refuse a value, the batch is written again one origin at a time,
    each in its own savepoint, and only the origins it refuses are left out
    (each logged).
    """
    from credcors.models import RefusedOrigin

    using = router.db_for_write(RefusedOrigin)
    rows = RefusedOrigin.objects.using(using)
    items = [_storable(item) for item in refused]
    with transaction.atomic(using=using):
        try:
            with transaction.atomic(using=using):
                _write(rows, items)
            written = len(items)
        except _REFUSED_VALUE:
            written = sum(_write_one(rows, item) for item in items)
        evict_least_recent(using, max_rows)
    return written


def _storable(item: Refused) -> Refused:
    # The origin passed the wire-form check (printable ASCII, bounded); the
    # path is decoded request text, the policy a name from code, the host
    # one Django accepted (callers of write_refused may pass anything).
    return item._replace(
        last_path=storable(item.last_path)[:MAX_PATH_LENGTH],
        policy=storable(item.policy)[:MAX_POLICY_LENGTH],
        host=storable(item.host)[:MAX_HOST_LENGTH],
    )


def _write(rows: QuerySet[RefusedOrigin], refused: Sequence[Refused]) -> None:
    # Counts added to the (origin, policy, host) rows that exist, new ones inserted.
    from credcors.models import RefusedOrigin

    known: set[tuple[str, str, str]] = set()
    for start in range(0, len(refused), _CHUNK):
        origins = [item.origin for item in refused[start : start + _CHUNK]]
        known.update(rows.filter(origin__in=origins).values_list("origin", "policy", "host"))
    new = []
    for item in refused:
        if (item.origin, item.policy, item.host) in known:
            seen = _when(item.last_seen)
            # count + n in SQL: two processes flushing at once both add up;
            # and one that flushes older counts later leaves the latest
            # refusal's time and path, which eviction goes by.
            rows.filter(origin=item.origin, policy=item.policy, host=item.host).update(
                count=F("count") + item.refusals,
                last_path=Case(When(last_seen__lte=seen, then=Value(item.last_path)), default=F("last_path")),
                last_seen=Greatest(F("last_seen"), Value(seen)),
            )
        else:
            new.append(
                RefusedOrigin(
                    origin=item.origin,
                    count=item.refusals,
                    first_seen=_when(item.first_seen),
                    last_seen=_when(item.last_seen),
                    last_path=item.last_path,
                    policy=item.policy,
                    host=item.host,
                )
            )
    # Another process may insert the same origin between the read and
    # here: its row wins, and this interval's count for it is lost.
    rows.bulk_create(new, batch_size=_CHUNK, ignore_conflicts=True)


def _write_one(rows: QuerySet[RefusedOrigin], item: Refused) -> bool:
    # One origin in its own savepoint: what the database refuses costs only it.
    try:
        with transaction.atomic(using=rows.db):
            _write(rows, [item])
    except _REFUSED_VALUE as exc:
        logger.warning(
            "credcors: could not write the refused origin %s (policy %s), so its count of this interval is dropped; "
            "the other origins are written: %s: %s",
            safe(item.origin),
            safe(item.policy),
            type(exc).__name__,
            scrub(str(exc), 200),
        )
        return False
    return True


def evict_least_recent(using: str, max_rows: int) -> int:
    """Delete the least recently seen rows (then the fewest refusals) beyond ``max_rows``; return how many.

    Recency first, not the count: whoever sends requests fills this table,
    and a count is theirs to inflate.  Ordered by count, rows an attacker
    once refused a million times would evict every new refusal (which starts
    at 1) for good; ordered by recency, old counts buy nothing, and keeping
    a new refusal out takes ``max_rows`` other origins refused after it,
    again and again, which the list then shows.
    """
    from credcors.models import RefusedOrigin

    rows = RefusedOrigin.objects.using(using)
    excess: int = rows.count() - max_rows
    if excess <= 0:
        return 0
    doomed = list(rows.order_by("last_seen", "count", "pk").values_list("pk", flat=True)[:excess])
    for start in range(0, len(doomed), _CHUNK):
        rows.filter(pk__in=doomed[start : start + _CHUNK]).delete()
    return excess


class RefusedLog:
    """This process's refused origins: counted per request, flushed in the background."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.clock = clock
        #: Starts a flush later, off the request path; tests pass one that queues it.
        self.timer = timer or start_timer
        self.recorder = recorder or Recorder()
        self.reset()

    def reset(self) -> None:
        """Forget the counts and the schedule."""
        self._lock = threading.Lock()
        self._scheduled = False
        self._next_flush_at = -math.inf
        self._failing = False
        self.recorder.reset()

    def record(
        self,
        origin: str,
        path: str,
        policy: str,
        limits: RefusedSettings,
        *,
        serialized: bool = False,
        host: str | None = None,
    ) -> None:
        """Count one refused request (no I/O); make sure a flush is scheduled (see :meth:`Recorder.record`).

        ``host`` is the request's host as Django accepted it, without its
        port (:func:`credcors.hosting.request_host`); ``None``: unknown.
        """
        self.recorder.record(origin, path, policy, limits.max_pending, serialized=serialized, host=host or "")
        if self._scheduled or not len(self.recorder):
            # A flush is already on its way, or there is nothing to write.
            return
        delay = self._claim_flush()
        if delay is None:  # Another thread scheduled it meanwhile.
            return
        try:
            self.timer(delay, self._flush_when_due)
        except Exception:  # No thread to be had: keep counting, try again at the next refusal.
            self._scheduled = False
            logger.exception("credcors: could not start the refused-origin flush; counts stay in memory.")

    def _claim_flush(self) -> float | None:
        # Seconds until the next flush may run, for the one caller that schedules it.
        with self._lock:
            if self._scheduled:
                return None
            self._scheduled = True
            return max(0.0, self._next_flush_at - self.clock())

    def _flush_when_due(self) -> None:
        with self._lock:
            # From here on a refusal schedules the next flush, one interval on.
            self._scheduled = False
            self._next_flush_at = self.clock() + get_config().refused.flush_seconds
        self.flush()

    def flush(self) -> int:
        """Write what was counted since the last flush; return how many origins were written."""
        drained = self.recorder.drain()
        if drained.dropped:
            logger.info(
                "credcors: %d refused requests from new origins were not counted: "
                'CREDCORS["REFUSED_MAX_PENDING"] origins were already waiting for the flush.',
                drained.dropped,
            )
        if not drained.refused:
            return 0
        try:
            # An origin allowed since its refusals were counted (staff just
            # ran "Allow selected") has nothing left to approve.
            # Each under the policy that refused it, on its host: the default
            # policy may allow an origin that a partner view's policy
            # refuses, and a row may allow it on one API host, not another.
            snapshot = get_store().get()
            refused = [
                item for item in drained.refused if not now_allowed(snapshot, item.origin, item.policy, item.host)
            ]
            written = write_refused(refused, get_config().refused.max_rows)
        except Exception:
            if not self._failing:
                self._failing = True
                logger.exception("credcors: could not write refused origins; dropping them until a write succeeds.")
            return 0
        if self._failing:
            self._failing = False
            logger.warning("credcors: writing refused origins works again.")
        return written


def now_allowed(snapshot: Snapshot, origin: str, policy: str, host: str) -> bool:
    """Whether ``origin``, refused by ``policy`` on ``host``, is allowed there now in ``snapshot`` (no query).

    A refusal of an unknown host (``""``: recorded before hosts were) finds
    only the grants of every host, as :func:`~credcors.core.decide.decide`
    does for ``host=None``; the flush and the admin's list both ask this.
    """
    return decide(snapshot, "GET", origin, policy=policy, host=host or None).allowed


#: The process-wide log the middleware records into, made on first use.  A
#: child forked while counts were pending must not flush its parent's
#: counts a second time, nor wait on a timer it does not have: it starts empty.
REFUSED_LOG: Lazy[RefusedLog] = Lazy("refused log", RefusedLog, after_fork=RefusedLog.reset)
get_refused_log = REFUSED_LOG.get
reset_refused_log = REFUSED_LOG.reset
