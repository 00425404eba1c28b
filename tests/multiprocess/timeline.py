"""Judge recorded responses against the committed history of the allow-list.

A commit is known only to have happened between ``t_before`` and ``t_after``
(monotonic times taken around it by the mutator), so it may count as done or
not done anywhere in that interval.  A response to a request sent at ``t0``
and answered at ``t1`` may reflect any state committed at some time within
``[t0 - bound, t1]``, where ``bound`` is ``REFRESH_SECONDS`` plus the stated
slack; anything else contradicts the committed state for longer than allowed.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SETTINGS_ORIGIN = "https://settings.example.com"  # In ALLOWED_ORIGINS: always allowed.
NEVER_ORIGIN = "https://never.example.com"  # Never anywhere: never allowed.

#: Operations after which credcors itself tells other processes (model
#: signals, or invalidate_on_commit()); the others rely on polling alone.
PUBLISHED_OPS = frozenset({"create", "save", "update", "delete", "reset"})


@dataclass(frozen=True)
class Commit:
    t_before: float
    t_after: float
    enabled: frozenset[str]
    op: str
    origin: str | None


def commits(history: Iterable[dict[str, Any]]) -> list[Commit]:
    return [Commit(h["t_before"], h["t_after"], frozenset(h["state"]), h["op"], h.get("origin")) for h in history]


def states_in_window(history: Sequence[Commit], a: float, b: float) -> list[frozenset[str]]:
    """Every state that was (or may have been) committed at some time within ``[a, b]``."""
    current: frozenset[str] = frozenset()
    for commit in history:
        if commit.t_after < a:
            current = commit.enabled
    return [current, *(c.enabled for c in history if c.t_after >= a and c.t_before <= b)]


def allowed_in(state: frozenset[str], origin: str) -> bool:
    return origin == SETTINGS_ORIGIN or (origin != NEVER_ORIGIN and origin in state)


def decision(response: dict[str, Any]) -> bool | str:
    """True (allowed), False (refused), or what is wrong with the response."""
    if response["error"] or response["status"] == 0:
        return f"no response: {response['error']}"
    status, origin = response["status"], response["origin"]
    acao, acac, count = response["acao"], response["acac"], response["n_acao"]
    refused = acao is None and acac is None
    allowed: bool = count == 1 and acao == origin and acac == "true"
    if response["kind"] == "actual":
        if status == 200 and (allowed or refused):
            return allowed
    elif (status == 204 and allowed) or (status == 403 and refused):
        return allowed
    return f"malformed: status {status}, allow-origin {acao!r} x{count}, allow-credentials {acac!r}"


@dataclass(frozen=True)
class Outage:
    """The database was unreachable from ``cut`` to ``restore``."""

    cut: float
    restore: float


def acceptable_states(
    history: Sequence[Commit], response: dict[str, Any], bound: float, outage: Outage | None = None
) -> list[frozenset[str]]:
    t0, t1 = response["t0"], response["t1"]
    if outage is not None and outage.cut <= t0 <= outage.restore + bound:
        # The last good load happened within `bound` before the cut; until
        # one refresh after the restore, that is all a process may serve.
        states = states_in_window(history, outage.cut - bound, outage.cut)
        if t1 >= outage.restore:
            states += states_in_window(history, outage.restore, t1)
        return states
    return states_in_window(history, t0 - bound, t1)


def violations(
    responses: Iterable[dict[str, Any]], history: Sequence[Commit], bound: float, outage: Outage | None = None
) -> list[str]:
    found = []
    for response in responses:
        got = decision(response)
        if isinstance(got, str):
            found.append(f"{response['target']} pid {response['pid']}: {got} ({response})")
            continue
        states = acceptable_states(history, response, bound, outage)
        if got not in {allowed_in(state, response["origin"]) for state in states}:
            found.append(
                f"{response['target']} pid {response['pid']} t0={response['t0']:.3f}: "
                f"{'allowed' if got else 'refused'} {response['origin']} ({response['kind']}), "
                f"which no state committed within [t0 - {bound}, t1] does"
            )
    return found


@dataclass(frozen=True)
class Propagation:
    """When, after a commit returned, one server's answers for the changed origin turned.

    Answers are samples (one per origin and server every few tenths of a
    second), so the true time lies between ``last_old`` (the end of the last
    answer still showing the old state; 0 if none did) and ``first_new`` (the
    start of the first answer of the run that showed the new state for good).
    """

    op: str
    origin: str
    target: str
    last_old: float
    first_new: float


def propagation(responses: Sequence[dict[str, Any]], history: Sequence[Commit]) -> list[Propagation]:
    results = []
    targets = sorted({r["target"] for r in responses})
    start = min((r["t0"] for r in responses), default=math.inf)
    previous: frozenset[str] = frozenset()
    for index, commit in enumerate(history):
        old_state, previous = previous, commit.enabled
        if commit.op == "reset" or commit.t_before < start:
            continue
        for origin in sorted(old_state ^ commit.enabled):
            old = allowed_in(old_state, origin)
            later = [c.t_before for c in history[index + 1 :] if origin in (c.enabled ^ commit.enabled)]
            until = min(later, default=math.inf)
            for target in targets:
                seen = [
                    r
                    for r in responses
                    if r["target"] == target and r["origin"] == origin and commit.t_after < r["t0"] and r["t1"] < until
                ]
                stale = [i for i, r in enumerate(seen) if decision(r) is old]
                fresh = seen[stale[-1] + 1 :] if stale else seen
                if not fresh:
                    continue  # Undone before this server showed it: nothing to measure.
                last_old = seen[stale[-1]]["t1"] - commit.t_after if stale else 0.0
                results.append(Propagation(commit.op, origin, target, last_old, fresh[0]["t0"] - commit.t_after))
    return results


def summarize(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s (n={len(values)})"


_LOG_RE = re.compile(r"^\S+ pid=(\d+) (\w+) credcors (.*)$")


def credcors_log(lines: Iterable[str]) -> list[tuple[int, str, str]]:
    """(pid, level, message) of each credcors log line."""
    return [(int(m[1]), m[2], m[3]) for m in map(_LOG_RE.match, lines) if m]


def count_by_pid(log: Iterable[tuple[int, str, str]], fragment: str) -> Counter[int]:
    return Counter(pid for pid, _, message in log if fragment in message)


def by_target(responses: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for response in responses:
        grouped[response["target"]].append(response)
    return grouped
