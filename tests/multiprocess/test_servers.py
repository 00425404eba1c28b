"""Real servers under load: two gunicorn servers and one uvicorn server share PostgreSQL (and Redis).

Each test class starts its own servers on free loopback ports, on a fresh
PostgreSQL database reached through a :class:`~tests.multiprocess.proxy.TcpProxy`
(and, in the second class, a Redis cache named by ``CACHE_ALIAS``, also
proxied).  A separate process (``mutator.py``) changes rows while
``loadgen.py`` sends a steady, bounded stream of credentialed requests and
preflights to every server and records each decision with its time.

The servers run with ``REFRESH_SECONDS = 1``.  The property asserted is the
one the README promises: no answer contradicts the committed allow-list for
longer than ``REFRESH_SECONDS`` plus :data:`SLACK` (time for one refresh
query and for scheduling on a busy two-core machine).  Speeds are reported,
never asserted.

These tests need PostgreSQL (``CREDCORS_TEST_POSTGRES_URL``, default
``postgres://postgres@127.0.0.1:5432/postgres``) and Redis
(``CREDCORS_TEST_REDIS_URL``) whatever ``DATABASE_URL`` says: several
processes need one real shared database.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.multiprocess import timeline
from tests.multiprocess.cluster import Cluster, Load, Mutator, at, child_env, proxied, query_log, scratch_database
from tests.multiprocess.proxy import TcpProxy
from tests.multiprocess.services import POSTGRES_URL, REDIS_URL, require_postgres, require_redis
from tests.multiprocess.timeline import NEVER_ORIGIN, SETTINGS_ORIGIN, Outage

REFRESH = 1.0
#: The stated slack on top of REFRESH_SECONDS: one refresh (a new connection
#: and one SELECT) plus scheduling delays on a loaded two-core machine.
SLACK = 0.5
BOUND = REFRESH + SLACK
RATE = 25.0  # Requests per second to each server.

A = "https://a.example.com"
B = "https://b.example.com"
C = "https://c.example.com"
ORIGINS = [A, B, C, SETTINGS_ORIGIN, NEVER_ORIGIN]

Step = tuple[float, Callable[[], Any]]


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{port}", parts.path, "", ""))


def report(message: str) -> None:
    # Shown with -s (and in .ci/run's output): the numbers the README quotes.
    print(f"\n[multiprocess] {message}", flush=True)


@dataclass
class Rig:
    workdir: Path
    cluster: Cluster
    mutator: Mutator
    db_proxy: TcpProxy
    redis_proxy: TcpProxy | None

    def log_mark(self) -> dict[str, int]:
        return {name: len(lines) for name, lines in self.cluster.log_lines().items()}

    def log_since(self, mark: dict[str, int]) -> list[str]:
        return [line for name, lines in self.cluster.log_lines().items() for line in lines[mark.get(name, 0) :]]

    def run(self, name: str, duration: float, steps: list[Step]) -> list[dict[str, Any]]:
        """Load every server for ``duration`` seconds, running ``steps`` at their offsets."""
        load = Load(
            self.cluster.targets(),
            ORIGINS,
            self.workdir / f"{name}.jsonl",
            duration=duration,
            rate=RATE,
            log_path=self.workdir / f"{name}.loadgen.log",
        )
        for offset, step in steps:
            at(load.started + offset)
            step()
        responses = load.wait()
        report(f"{name}: {len(responses)} responses in {duration:.1f} s from {len(self.cluster.servers)} servers")
        return responses


@contextlib.contextmanager
def _rig(workdir: Path, *, redis: bool) -> Iterator[Rig]:
    require_postgres()
    if redis:
        require_redis()
    redis_target = (urlsplit(REDIS_URL).hostname or "127.0.0.1", urlsplit(REDIS_URL).port or 6379)
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(scratch_database(POSTGRES_URL))
        pg = urlsplit(db_url)
        db_proxy = stack.enter_context(proxied((pg.hostname or "127.0.0.1", pg.port or 5432)))
        redis_proxy = stack.enter_context(proxied(redis_target)) if redis else None
        common = {
            "CREDCORS_MP_REFRESH_SECONDS": str(REFRESH),
            "CREDCORS_MP_KEY_PREFIX": f"credcors-mp-{uuid.uuid4().hex[:8]}",
        }
        servers_env = child_env(
            CREDCORS_MP_DATABASE_URL=_with_port(db_url, db_proxy.port),
            CREDCORS_MP_REDIS_URL=_with_port(REDIS_URL, redis_proxy.port) if redis_proxy else "",
            CREDCORS_MP_QUERY_LOG_DIR=str(workdir),
            **common,
        )
        # The mutator talks to PostgreSQL and Redis directly: cutting the
        # servers' proxies must not stop changes from being committed.
        mutator_env = child_env(
            CREDCORS_MP_DATABASE_URL=db_url, CREDCORS_MP_REDIS_URL=REDIS_URL if redis else "", **common
        )
        cluster = Cluster(workdir, servers_env)
        stack.callback(cluster.stop)
        started = time.monotonic()
        cluster.start()
        report(f"servers up in {time.monotonic() - started:.1f} s (redis={redis}); logs in {workdir}")
        mutator = Mutator(mutator_env, workdir / "mutator.log")
        stack.callback(mutator.close)
        yield Rig(workdir, cluster, mutator, db_proxy, redis_proxy)


@pytest.fixture(scope="class")
def postgres_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with _rig(tmp_path_factory.mktemp("postgres"), redis=False) as rig:
        yield rig


@pytest.fixture(scope="class")
def redis_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with _rig(tmp_path_factory.mktemp("redis"), redis=True) as rig:
        yield rig


# -- Assertion helpers --------------------------------------------------------


def _assert_every_response_ok(responses: list[dict[str, Any]]) -> None:
    bad = [r for r in responses if isinstance(timeline.decision(r), str)]
    assert not bad, f"{len(bad)} bad responses (5xx, errors or malformed headers), e.g. {bad[:3]}"


def _assert_reached_every_server(
    responses: list[dict[str, Any]], history: list[timeline.Commit], since: float, targets: list[str]
) -> None:
    """Every change committed after ``since`` shows on every server, once ``BOUND`` has passed."""
    previous: frozenset[str] = frozenset()
    for index, commit in enumerate(history):
        before, previous = previous, commit.enabled
        if commit.t_before < since or commit.op == "reset":
            continue
        for origin in before ^ commit.enabled:
            later = [c.t_before for c in history[index + 1 :] if origin in (c.enabled ^ commit.enabled)]
            until = min(later, default=math.inf)
            if until < commit.t_after + BOUND:
                continue  # Undone before it had to show anywhere (the quick flip).
            want = timeline.allowed_in(commit.enabled, origin)
            for target in targets:
                seen = [
                    timeline.decision(r)
                    for r in responses
                    if r["target"] == target
                    and r["origin"] == origin
                    and commit.t_after + BOUND <= r["t0"]
                    and r["t1"] < until
                ]
                assert seen, f"no answer from {target} for {origin} to judge {commit.op} (schedule too tight?)"
                assert all(d is want for d in seen), f"{target} never converged on {origin} after {commit.op}"


def _assert_converged(responses: list[dict[str, Any]], history: list[timeline.Commit], targets: list[str]) -> None:
    final = history[-1]
    tail = [r for r in responses if r["t0"] >= final.t_after + BOUND]
    for target in targets:
        for origin in ORIGINS:
            seen = [timeline.decision(r) for r in tail if r["target"] == target and r["origin"] == origin]
            assert seen, f"no answer from {target} for {origin} after the last change"
            assert all(d is timeline.allowed_in(final.enabled, origin) for d in seen), (target, origin)
    pids = defaultdict(set)
    for response in tail:
        pids[response["target"]].add(response["pid"])
    report("converged; processes answering after the last change: " + ", ".join(
        f"{target} {len(pids[target])}" for target in targets))  # fmt: skip


def _report_propagation(name: str, responses: list[dict[str, Any]], history: list[timeline.Commit]) -> None:
    results = timeline.propagation(responses, history)
    for label, chosen in (
        (
            "saved through the model or with invalidate_on_commit()",
            [p for p in results if p.op in timeline.PUBLISHED_OPS],
        ),
        ("QuerySet.update() or raw SQL alone", [p for p in results if p.op not in timeline.PUBLISHED_OPS]),
    ):
        if chosen:
            report(f"{name}: {label}: the last old answer ended {timeline.summarize([p.last_old for p in chosen])} "
                   f"after the commit; the new state showed for good from "
                   f"{timeline.summarize([p.first_new for p in chosen])}")  # fmt: skip


def _queries_between(rig: Rig, start: float, end: float) -> dict[int, list[str]]:
    return {
        pid: [sql for stamp, sql in entries if start <= stamp <= end] for pid, entries in query_log(rig.workdir).items()
    }


# -- The scenarios both classes run -------------------------------------------


class Scenarios:
    def test_steady_load_runs_no_database_query_per_request(self, rig: Rig) -> None:
        reset = rig.mutator("reset", enabled=[A], disabled=[B])

        responses = rig.run("steady", BOUND + 4.0, [])

        history = timeline.commits(rig.mutator.history)
        _assert_every_response_ok(responses)
        assert timeline.violations(responses, history, BOUND) == []
        start, end = reset["t_after"] + BOUND, responses[-1]["t1"]
        window = [r for r in responses if r["t0"] >= start]
        queries = _queries_between(rig, start, end)
        # A process polls at most once per REFRESH_SECONDS, however many
        # requests it serves: that is "zero queries per request".  Nothing
        # changed in this window, so every poll is the one-row revision read,
        # never a read of the rows.
        per_process_cap = math.ceil((end - start) / REFRESH) + 1
        for pid, statements in queries.items():
            assert len(statements) <= per_process_cap, (pid, statements)
            assert all("revision" in sql and "credcors_allowedorigin" not in sql for sql in statements), statements
        total = sum(map(len, queries.values()))
        requests_by_pid: defaultdict[int, int] = defaultdict(int)
        for response in window:
            requests_by_pid[response["pid"]] += 1
        # The cap must be far below the request count, or it would prove nothing.
        assert len(window) >= 3 * per_process_cap * len(requests_by_pid), (len(window), per_process_cap)
        report(f"steady: {len(window)} requests over {end - start:.1f} s to {len(requests_by_pid)} processes "
               f"ran {total} queries ({total / len(window):.3f} per request; one revision poll each "
               f"REFRESH_SECONDS), cap {per_process_cap} per process")  # fmt: skip

    def test_changes_under_load_reach_every_server_within_refresh_seconds(self, rig: Rig) -> None:
        m = rig.mutator
        m("reset", enabled=[A], disabled=[B])
        steps: list[Step] = [
            (1.0, lambda: m("create", origin=C, enabled=True)),
            (3.0, lambda: m("update", origin=A, enabled=False)),  # QuerySet.update + invalidate_on_commit
            (5.0, lambda: m("save", origin=B, enabled=True)),
            (7.0, lambda: m("delete", origin=C)),
            (9.0, lambda: m("update_quietly", origin=A, enabled=True)),  # Polling only.
            (11.0, lambda: m("update_quietly", origin=B, enabled=False)),
            (13.0, lambda: m("save", origin=A, enabled=False)),  # A quick flip...
            (13.2, lambda: m("save", origin=A, enabled=True)),  # ...that must not stick.
            # Another service writing the table with raw SQL: only the
            # database's revision tells the servers.
            (15.0, lambda: m("sql_insert", origin=C, enabled=True)),
            (17.5, lambda: m("sql_update", origin=C, enabled=False)),
            (20.0, lambda: m("sql_update", origin=C, enabled=True)),
            (22.5, lambda: m("sql_delete", origin=C)),
        ]
        run_started = len(m.history)

        responses = rig.run("changes", 22.5 + BOUND + 1.5, steps)

        history = timeline.commits(m.history)
        targets = [s.name for s in rig.cluster.servers]
        _assert_every_response_ok(responses)
        assert timeline.violations(responses, history, BOUND) == []
        _assert_reached_every_server(responses, history, history[run_started].t_before, targets)
        _assert_converged(responses, history, targets)
        _report_propagation("changes", responses, history)


class TestPostgres(Scenarios):
    """Two gunicorn servers (3 sync workers each) and uvicorn (2 workers) on PostgreSQL."""

    @pytest.fixture
    def rig(self, postgres_rig: Rig) -> Rig:
        return postgres_rig

    def test_database_outage_serves_last_good_allow_list_then_recovers(self, rig: Rig) -> None:
        m = rig.mutator
        m("reset", enabled=[A], disabled=[B])
        mark = rig.log_mark()
        outage: dict[str, float] = {}

        def cut() -> None:
            outage["cut"] = time.monotonic()
            rig.db_proxy.cut("reset")

        def restore() -> None:
            rig.db_proxy.restore()
            outage["restore"] = time.monotonic()

        steps: list[Step] = [
            (BOUND + 1.0, cut),
            # Committed while the servers cannot see the database: B and C
            # become allowed, A refused; no server may show either until it
            # can read the rows again.
            (BOUND + 1.5, lambda: m("save", origin=A, enabled=False)),
            (BOUND + 1.6, lambda: m("update", origin=B, enabled=True)),
            (BOUND + 1.7, lambda: m("create", origin=C, enabled=True)),
            (BOUND + 4.5, restore),
            (BOUND + 6.0, lambda: m("delete", origin=C)),
            (BOUND + 6.1, lambda: m("update_quietly", origin=B, enabled=False)),
        ]

        responses = rig.run("database-outage", BOUND + 6.1 + BOUND + 1.5, steps)

        history = timeline.commits(m.history)
        window = Outage(outage["cut"], outage["restore"])
        targets = [s.name for s in rig.cluster.servers]
        _assert_every_response_ok(responses)
        assert timeline.violations(responses, history, BOUND, window) == []
        # The state of the last good load is a single one: nothing changed
        # within BOUND before the cut.
        before = timeline.states_in_window(history, window.cut - BOUND, window.cut)
        assert len(set(before)) == 1
        during = [r for r in responses if window.cut <= r["t0"] <= window.restore]
        newly_allowed = [r for r in during if r["origin"] in (B, C)]
        assert newly_allowed, "no request for the origins enabled during the outage"
        assert all(timeline.decision(r) is False for r in newly_allowed)
        assert any(timeline.decision(r) is True for r in during if r["origin"] == A)

        log = timeline.credcors_log(rig.log_since(mark))
        failed = timeline.count_by_pid(log, "could not read allowed origins")
        recovered = timeline.count_by_pid(log, "the database answers again;")
        pids_of = {t: {r["pid"] for r in during if r["target"] == t} for t in targets}
        # Once per process, not per request; and every process that had to
        # refresh during the outage (any answering BOUND after the cut) did.
        assert all(count == 1 for count in failed.values()), failed
        assert all(pids & set(failed) for pids in pids_of.values()), (failed, pids_of)
        assert {r["pid"] for r in during if r["t0"] >= window.cut + BOUND} <= set(failed)
        assert recovered == failed, (failed, recovered)
        assert not [line for line in rig.log_since(mark) if "Traceback" in line or "django.request" in line]

        _assert_reached_every_server(responses, history, window.restore, targets)
        _assert_converged(responses, history, targets)
        report(f"database outage: {window.restore - window.cut:.1f} s, {len(during)} requests answered during it "
               f"(none 5xx), outage logged {sum(failed.values())} times by {len(failed)} processes")  # fmt: skip


class TestPostgresAndRedis(Scenarios):
    """The same servers, with ``CACHE_ALIAS`` naming a Redis cache that every process shares."""

    @pytest.fixture
    def rig(self, redis_rig: Rig) -> Rig:
        return redis_rig

    def test_redis_outage_keeps_requests_working_and_changes_flowing(self, rig: Rig) -> None:
        m = rig.mutator
        m("reset", enabled=[A], disabled=[B])
        mark = rig.log_mark()
        assert rig.redis_proxy is not None
        redis_proxy = rig.redis_proxy
        outage: dict[str, float] = {}

        def cut() -> None:
            outage["cut"] = time.monotonic()
            # Redis vanishes without a word: only the socket timeouts notice.
            redis_proxy.cut("blackhole")

        def restore() -> None:
            redis_proxy.restore()
            outage["restore"] = time.monotonic()

        steps: list[Step] = [
            (BOUND + 1.0, cut),
            (BOUND + 1.5, lambda: m("save", origin=A, enabled=False)),
            (BOUND + 3.5, lambda: m("update", origin=B, enabled=True)),
            (BOUND + 5.5, restore),
            (BOUND + 6.0, lambda: m("save", origin=A, enabled=True)),
        ]

        responses = rig.run("redis-outage", BOUND + 6.0 + BOUND + 1.5, steps)

        history = timeline.commits(m.history)
        targets = [s.name for s in rig.cluster.servers]
        _assert_every_response_ok(responses)
        # The database still answers, so the usual bound holds throughout.
        assert timeline.violations(responses, history, BOUND) == []
        _assert_reached_every_server(responses, history, outage["cut"], targets)
        _assert_converged(responses, history, targets)

        during = [r for r in responses if outage["cut"] <= r["t0"] <= outage["restore"]]
        log = timeline.credcors_log(rig.log_since(mark))
        failed = timeline.count_by_pid(log, "could not reach the shared cache")
        recovered = timeline.count_by_pid(log, "the shared cache 'shared' answers again")
        pids_of = {t: {r["pid"] for r in during if r["target"] == t} for t in targets}
        assert all(count == 1 for count in failed.values()), failed
        assert all(pids & set(failed) for pids in pids_of.values()), (failed, pids_of)
        assert {r["pid"] for r in during if r["t0"] >= outage["cut"] + BOUND} <= set(failed)
        assert recovered == failed, (failed, recovered)
        assert not [line for line in rig.log_since(mark) if "Traceback" in line or "django.request" in line]

        slowest = max(r["t1"] - r["t0"] for r in during)
        before = [r["t1"] - r["t0"] for r in responses if r["t0"] < outage["cut"]]
        report(f"redis outage: {outage['restore'] - outage['cut']:.1f} s, {len(during)} requests during it, "
               f"slowest {slowest * 1000:.0f} ms (before: slowest {max(before) * 1000:.0f} ms); "
               f"logged {sum(failed.values())} times by {len(failed)} processes")  # fmt: skip
        _report_propagation("redis-outage", responses, history)
