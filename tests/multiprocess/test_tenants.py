"""Issue 24 on real servers: a row scoped to one API host, added from the command line, in every process.

Two gunicorn servers (and the uvicorn one the cluster also starts) share a
fresh PostgreSQL database and answer for two API hosts, ``api-a.localhost``
and ``api-b.localhost``.  ``manage.py credcors add ORIGIN --host
api-a.localhost`` runs in a process of its own; from ``REFRESH_SECONDS`` plus
the stated slack after it returns, every worker of every server must allow
the origin on ``api-a.localhost`` and refuse it on ``api-b.localhost``, and
before the command no worker allows it anywhere.  The loop that asks is
bounded by a deadline and a request count.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multiprocess.apps import PID_HEADER
from tests.multiprocess.cluster import ROOT, Cluster, bounded, child_env, get, scratch_database
from tests.multiprocess.services import POSTGRES_URL, require_postgres

REFRESH = 1.0
SLACK = 0.5  # As in test_servers.py: one refresh query plus scheduling on a busy two-core machine.
ORIGIN = "https://app-a.example.com"
HOST_A = "api-a.localhost"
HOST_B = "api-b.localhost"
MAX_REQUESTS = 3000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    require_postgres()
    workdir: Path = tmp_path_factory.mktemp("tenants")
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(scratch_database(POSTGRES_URL))
        env = child_env(CREDCORS_MP_DATABASE_URL=db_url, CREDCORS_MP_REFRESH_SECONDS=str(REFRESH))
        servers = Cluster(workdir, env)
        stack.callback(servers.stop)
        servers.start(gunicorn_workers=2, uvicorn_workers=1)
        yield servers, db_url


def _answers(servers: Cluster, host: str, until: float, *, early: bool = True) -> dict[tuple[str, str], set[bool]]:
    """Ask every server from ``ORIGIN`` on ``host`` until each worker answered twice (``early``), or ``until``.

    Returns (server, worker pid) -> the set of "allowed" answers seen.
    """
    seen: dict[tuple[str, str], set[bool]] = defaultdict(set)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    workers = {server.name: server.workers for server in servers.servers}
    for _ in range(MAX_REQUESTS):
        if time.monotonic() > until:
            break
        for server in servers.servers:
            response = get(server.port, "/api/ping", {"Origin": ORIGIN, "Host": host})
            assert response.status == 200, (server.name, response.status)
            key = (server.name, response.headers[PID_HEADER])
            seen[key].add(response.headers.get("Access-Control-Allow-Origin") == ORIGIN)
            counts[key] += 1
        done = all(
            sum(1 for (name, _), n in counts.items() if name == server and n >= 2) >= workers[server]
            for server in workers
        )
        if done and early:
            break
    return seen


def _add_scoped_row(db_url: str) -> None:
    done = subprocess.run(
        bounded([sys.executable, "-m", "django", "credcors", "add", ORIGIN, "--host", HOST_A]),
        cwd=ROOT,
        env=child_env(CREDCORS_MP_DATABASE_URL=db_url),
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_scoped_row_added_by_the_command_line_is_served_on_its_host_alone_in_every_process(
    cluster: tuple[Cluster, str],
) -> None:
    servers, db_url = cluster
    before = _answers(servers, HOST_A, time.monotonic() + 10)
    assert before
    assert all(answers == {False} for answers in before.values()), before

    _add_scoped_row(db_url)
    committed = time.monotonic()
    # The bound under test.  A process polls when a request finds its rows
    # due, so requests keep coming meanwhile, as in production (an idle
    # process answers its first request from the rows it had, then polls).
    _answers(servers, HOST_B, committed + REFRESH + SLACK, early=False)

    on_a = _answers(servers, HOST_A, time.monotonic() + 20)
    on_b = _answers(servers, HOST_B, time.monotonic() + 20)
    asked_by = time.monotonic() - committed

    for server in servers.servers:
        workers_a = [key for key in on_a if key[0] == server.name]
        assert len(workers_a) == server.workers, f"{server.name}: not every worker answered on {HOST_A}"
        assert len([key for key in on_b if key[0] == server.name]) == server.workers
    assert all(answers == {True} for answers in on_a.values()), on_a
    assert all(answers == {False} for answers in on_b.values()), on_b
    print(f"\n[multiprocess] scoped row: {len(on_a)} processes allow it on {HOST_A} and refuse it on {HOST_B}, "
          f"all asked within {asked_by:.1f} s of the commit", flush=True)  # fmt: skip
