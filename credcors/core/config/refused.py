"""The ``RECORD_REFUSED`` and ``REFUSED_*`` settings: their defaults, bounds and validation.

The recorder that uses them is :mod:`credcors.refused.recorder`; the bounds are
settings, so they are validated here with the rest of ``CREDCORS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from credcors.core.catalogue import Problem, key

__all__ = ["REFUSED_DEFAULTS", "RefusedSettings", "parse_refused_settings"]

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
