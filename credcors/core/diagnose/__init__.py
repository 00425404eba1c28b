"""Explain decisions in words: ``explain``, near misses, and one text per refusal reason.

Pure: plain values and a :class:`~credcors.core.snapshot.Snapshot` in, words out.
The ``credcors explain`` command, the admin's test page, the log lines and the
``DEBUG`` reason header all draw on it; :mod:`credcors.explain` feeds it this
process's real settings, snapshot and rows.
"""

from __future__ import annotations

from credcors.core.diagnose.explain import Exchange, Explanation, explain
from credcors.core.diagnose.nearmiss import Row, Verdict, origin_verdict, row_candidates
from credcors.core.diagnose.reasons import REASON_TEXT, describe_source, reason_line
from credcors.core.diagnose.render import render

__all__ = [
    "REASON_TEXT",
    "Exchange",
    "Explanation",
    "Row",
    "Verdict",
    "describe_source",
    "explain",
    "origin_verdict",
    "reason_line",
    "render",
    "row_candidates",
]
