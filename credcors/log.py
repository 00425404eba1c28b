"""Logging that a hostile request cannot abuse: safe quoting and rate limits.

Everything credcors writes about a request goes through :func:`safe`, which
escapes every character that is not printable ASCII and bounds the length, so
no CR/LF, terminal escape or bidi control from an ``Origin`` header ever
reaches a log line, a terminal or a response header.  Refusals are logged
through :func:`log_refusal`, which costs one ``isEnabledFor`` check while the
level is off and at most :data:`REFUSAL_LINES_PER_WINDOW` lines per reason per
:data:`REFUSAL_WINDOW_SECONDS` while it is on, so a flood cannot fill a disk.

Levels on the ``credcors`` logger:

- ``INFO``: refused preflights (a browser call failed), allow-list reloads;
- ``DEBUG``: refused origins on other requests (these include harmless ones,
  such as same-origin POSTs, which browsers also send with ``Origin``);
- ``WARNING`` / ``ERROR``: database outages and invalid rows, once per event;
  a middleware below credcors that sets ``request.urlconf``, at most once per
  :data:`URLCONF_WARNING_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import NamedTuple

from credcors.core.decision import Decision, Kind
from credcors.core.quoting import safe
from credcors.lazy import Lazy

__all__ = [
    "DEBUG_REASON_HEADER",
    "REFUSAL_LINES_PER_WINDOW",
    "REFUSAL_WINDOW_SECONDS",
    "REFUSED_ORIGIN_LEVEL",
    "REFUSED_PREFLIGHT_LEVEL",
    "URLCONF_WARNING_SECONDS",
    "RateLimiter",
    "RateLimits",
    "get_rate_limits",
    "log_refusal",
    "log_urlconf_set_below",
    "logger",
    "reset_rate_limits",
]

logger = logging.getLogger("credcors")

REFUSED_PREFLIGHT_LEVEL = logging.INFO
REFUSED_ORIGIN_LEVEL = logging.DEBUG
REFUSAL_LINES_PER_WINDOW = 10
REFUSAL_WINDOW_SECONDS = 60.0

#: The most often :func:`log_urlconf_set_below` writes its line.
URLCONF_WARNING_SECONDS = 3600.0

#: Set on refused preflights (and refused requests) only while ``DEBUG`` is on.
DEBUG_REASON_HEADER = "x-credcors-reason"


class RateLimiter:
    """At most ``limit`` events per key per ``window`` seconds.

    Keys must come from a small fixed set (credcors uses the refusal reason),
    never from request input, so the state stays bounded.  Thread-safe.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._state: dict[Hashable, list[float]] = {}

    def hit(self, key: Hashable) -> tuple[bool, int]:
        """Record one event: (whether to emit it, events suppressed in the window that just ended)."""
        now = self.clock()
        with self._lock:
            state = self._state.get(key)
            if state is None or now - state[0] >= self.window:
                suppressed = 0 if state is None else int(state[2])
                self._state[key] = [now, 1.0, 0.0]
                return True, suppressed
            state[1] += 1
            if state[1] <= self.limit:
                return True, 0
            state[2] += 1
            return False, 0


class RateLimits(NamedTuple):
    """The process-wide rate limiters of credcors' log lines."""

    #: Refused requests, per (kind, reason): :func:`log_refusal`.
    refusals: RateLimiter
    #: The one line of :func:`log_urlconf_set_below`.
    urlconf_set_below: RateLimiter


def _rate_limits() -> RateLimits:
    return RateLimits(
        RateLimiter(REFUSAL_LINES_PER_WINDOW, REFUSAL_WINDOW_SECONDS), RateLimiter(1, URLCONF_WARNING_SECONDS)
    )


#: This process's rate limiters, made on first use: two threads logging
#: their first line share one window.
RATE_LIMITS: Lazy[RateLimits] = Lazy("rate limits", _rate_limits)
get_rate_limits = RATE_LIMITS.get
reset_rate_limits = RATE_LIMITS.reset


def log_urlconf_set_below(urlconf: object, seen: object) -> None:
    """Warn that a middleware below credcors routed a request to ``urlconf``; preflights resolved in ``seen``.

    The middleware's place in ``MIDDLEWARE`` is the same for every request,
    so one line per :data:`URLCONF_WARNING_SECONDS` says all there is to say.
    """
    emit, _ = get_rate_limits().urlconf_set_below.hit("urlconf")
    if emit:
        logger.warning(
            "credcors: a middleware below credcors.middleware.CredCorsMiddleware in MIDDLEWARE set "
            "request.urlconf to %s; preflights, which credcors answers before that middleware runs, resolve "
            "their view in %s instead, so their CORS policy can differ from the actual request's. "
            "Move the middleware that sets request.urlconf above credcors in MIDDLEWARE (credcors.W011).",
            safe(urlconf, 200),
            safe(seen, 200),
        )


def log_refusal(decision: Decision, origin: str, path: str) -> None:
    """Log a refused CORS request, if the ``credcors`` logger wants it.

    Refused preflights go out at ``INFO``, other refused requests at
    ``DEBUG``; each reason gets at most :data:`REFUSAL_LINES_PER_WINDOW`
    lines per window, then one "suppressed" summary when the next window opens.
    """
    preflight = decision.kind is Kind.PREFLIGHT
    level = REFUSED_PREFLIGHT_LEVEL if preflight else REFUSED_ORIGIN_LEVEL
    if not logger.isEnabledFor(level):
        return
    what = "preflight" if preflight else "request"
    refusals = get_rate_limits().refusals
    emit, suppressed = refusals.hit((decision.kind, decision.reason))
    if suppressed:
        logger.log(
            level,
            "credcors: suppressed %d refused-%s lines (%s) in the last %d s.",
            suppressed,
            what,
            decision.reason.value,
            int(refusals.window),
        )
    if not emit:
        return
    detail = "" if decision.detail is None else f" detail={safe(decision.detail, 64)}"
    logger.log(
        level,
        "credcors: refused %s: %s origin=%s path=%s%s",
        what,
        decision.reason.value,
        safe(origin),
        safe(path, 200),
        detail,
    )
