"""Read and write the lifetimes the command line and imports take: ``30m``, ``12h``, ``3d``, ``2w``, ISO date-times.

One home for the grammar, so ``add --expires``, ``prune --older-than`` and
``import`` accept exactly the same words and refuse the rest with the same
message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

__all__ = ["LifetimeError", "describe", "parse_duration", "parse_expiry"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# At most four digits: 9999w is two centuries, and datetime never overflows.
_DURATION = re.compile(r"(\d{1,4})([mhdw])")
#: Words that clear an expiry.
NEVER = "never"

_EXAMPLES = "a duration such as 30m, 12h, 3d or 2w, or an ISO date-time such as 2026-12-31T18:00:00Z"


class LifetimeError(ValueError):
    """A duration or date-time that cannot be read, in words ready to show."""


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """``30m``, ``12h``, ``3d``, ``2w`` as a :class:`~datetime.timedelta`."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise LifetimeError(f"{text[:60]!r} is not a duration: write a number and m, h, d or w, e.g. 30m, 12h, 3d, 2w.")
    duration = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if not duration and not allow_zero:
        raise LifetimeError(f"{text[:60]!r} is no time at all: write a duration above zero, e.g. 30m.")
    return duration


def parse_expiry(text: str, now: datetime | None = None, *, allow_past: bool = False) -> datetime | None:
    """When ``text`` says a row expires: after a duration from ``now``, at an ISO date-time, or ``never`` (None).

    A date-time without an offset is read in the current time zone; a bare
    date means its midnight.  A moment already past is refused unless
    ``allow_past`` (an import restoring an exported table may carry one).
    """
    now = now or timezone.now()
    value = text.strip()
    if value.lower() == NEVER:
        return None
    if _DURATION.fullmatch(value.lower()):
        return now + parse_duration(value)
    try:
        # datetime.fromisoformat underneath: a bare date is its midnight.
        moment = parse_datetime(value)
    except ValueError:  # Well-formed but impossible, e.g. 2026-02-30.
        moment = None
    if moment is None:
        raise LifetimeError(f"{text[:60]!r} is not a lifetime: write {_EXAMPLES}, or {NEVER}.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if not settings.USE_TZ:  # The project stores local naive times: compare like with like.
        moment = timezone.make_naive(moment)
    if moment <= now and not allow_past:
        raise LifetimeError(f"{text[:60]!r} is already past ({describe(moment)}): write a moment in the future.")
    return moment


def describe(moment: datetime | None) -> str:
    """An expiry as the command line prints it: ISO 8601 in UTC, or ``never``."""
    if moment is None:
        return NEVER
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
