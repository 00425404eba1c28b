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
- ``WARNING`` / ``ERROR``: database outages and invalid rows, once per event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

from credcors.policy import Decision, Kind, Policy, Reason

__all__ = [
    "DEBUG_REASON_HEADER",
    "REFUSAL_LINES_PER_WINDOW",
    "REFUSAL_WINDOW_SECONDS",
    "REFUSED_ORIGIN_LEVEL",
    "REFUSED_PREFLIGHT_LEVEL",
    "RateLimiter",
    "debug_reason",
    "log_refusal",
    "logger",
    "reset",
    "safe",
    "scrub",
]

logger = logging.getLogger("credcors")

REFUSED_PREFLIGHT_LEVEL = logging.INFO
REFUSED_ORIGIN_LEVEL = logging.DEBUG
REFUSAL_LINES_PER_WINDOW = 10
REFUSAL_WINDOW_SECONDS = 60.0

#: Set on refused preflights (and refused requests) only while ``DEBUG`` is on.
DEBUG_REASON_HEADER = "x-credcors-reason"

_QUOTE_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def _escape_char(char: str, quotes: bool = True) -> str:
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return _QUOTE_ESCAPES.get(char, char) if quotes else char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(value: object, limit: int = 120) -> str:
    """``value`` as a double-quoted, printable-ASCII string of bounded length.

    Every character outside printable ASCII is escaped (``\\r``, ``\\x1b``,
    ``\\u202e`` ...), ``"`` and ``\\`` are backslash-escaped, and the escaped
    text is cut at ``limit`` characters with a count of what was left out.
    The result is safe in a log line, a terminal and an HTTP header value.
    """
    text = value if isinstance(value, str) else repr(value)
    out: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape_char(char)
        if used + len(piece) > limit:
            return '"' + "".join(out) + f'"...(+{len(text) - index} chars)'
        out.append(piece)
        used += len(piece)
    return '"' + "".join(out) + '"'


def scrub(text: str, limit: int = 600) -> str:
    """Like :func:`safe` but unquoted: for messages that already quote their parts."""
    out: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape_char(char, quotes=False)
        if used + len(piece) > limit:
            return "".join(out) + f"...(+{len(text) - index} chars)"
        out.append(piece)
        used += len(piece)
    return "".join(out)


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

    def reset(self) -> None:
        with self._lock:
            self._state.clear()


_refusals = RateLimiter(REFUSAL_LINES_PER_WINDOW, REFUSAL_WINDOW_SECONDS)


def reset() -> None:
    """Forget the rate limiter's windows (for tests)."""
    _refusals.reset()


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
    emit, suppressed = _refusals.hit((decision.kind, decision.reason))
    if suppressed:
        logger.log(
            level,
            "credcors: suppressed %d refused-%s lines (%s) in the last %d s.",
            suppressed,
            what,
            decision.reason.value,
            int(_refusals.window),
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


_FIXED_REASONS = {
    Reason.ORIGIN_NOT_ALLOWED: "this origin is not in the allow-list",
    Reason.NULL_ORIGIN: "the origin 'null' (sandboxed frame, file: page or redirect) is never allowed",
    Reason.MULTIPLE_ORIGINS: "the Origin header holds more than one origin",
    Reason.ORIGIN_TOO_LONG: "the Origin header is longer than any origin can be",
    Reason.MALFORMED_ORIGIN: "the Origin header is not a scheme://host[:port] origin as browsers send it",
    Reason.MALFORMED_METHOD: "Access-Control-Request-Method is not an HTTP method name",
    Reason.REQUEST_HEADERS_TOO_LONG: "Access-Control-Request-Headers is too long",
    Reason.MALFORMED_REQUEST_HEADERS: "Access-Control-Request-Headers is not a list of header names",
}


def debug_reason(decision: Decision, policy: Policy) -> str:
    """A short reason for the browser's network panel (``DEBUG`` only).

    Printable ASCII, at most a few hundred characters; request input appears
    only as a bounded, escaped quotation, and the fix names the setting.
    """
    reason = decision.reason
    if reason is Reason.METHOD_NOT_ALLOWED:
        text = (
            f"method {safe(decision.detail, 40)} is not in CREDCORS['ALLOW_METHODS'] "
            f"({policy.allow_methods_value or 'none'})"
        )
    elif reason is Reason.HEADER_NOT_ALLOWED:
        allowed = ", ".join(sorted(policy.allow_headers)) or "none"
        text = f"request header {safe(decision.detail, 40)} is not in CREDCORS['ALLOW_HEADERS'] ({allowed})"
    else:
        text = _FIXED_REASONS.get(reason, "refused")
    if reason in (Reason.ORIGIN_NOT_ALLOWED, Reason.MALFORMED_ORIGIN):
        text += "; run 'manage.py credcors explain ORIGIN' for details"
    line = f"{reason.value}: {text}"
    # Allow-lists can be long; a header has no business being longer.
    return line if len(line) <= 400 else line[:397] + "..."
