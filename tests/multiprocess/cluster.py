"""Start and stop the real servers, the mutator and the load generator for a test.

Every process started here is a child of the test process, started in its
own session, and stopped by its own pid (SIGTERM, then SIGKILL of its
process group after a deadline).  Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from tests.multiprocess.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.multiprocess.settings"


#: No child outlives this many seconds, even if the test process is killed
#: before it can stop them: coreutils' timeout ends it (TERM, then KILL).
MAX_CHILD_SECONDS = 300


def bounded(command: list[str]) -> list[str]:
    timeout = shutil.which("timeout")
    return [timeout, "-k", "5", str(MAX_CHILD_SECONDS), *command] if timeout else command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # Coverage of the servers is not measured, and tracing them would
        # only slow them down; the pytest process keeps its own coverage.
        if not name.startswith(("COVERAGE_", "DJANGO_", "CREDCORS_MP_"))
    }
    env.update(DJANGO_SETTINGS_MODULE=SETTINGS, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


def with_database(url: str, name: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if port is not None:
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, f"/{name}", "", ""))


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database for one test class; dropped afterwards."""
    import psycopg

    name = f"credcors_mp_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    try:
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=child_env(CREDCORS_MP_DATABASE_URL=url),
            check=True,
            timeout=120,
        )
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop a child we started: SIGTERM to it, then SIGKILL to its own process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # Started with start_new_session=True: the group id is the child's pid,
        # so this reaches only the workers it forked.
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def get(port: int, path: str = "/api/ping", headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@dataclass
class Cluster:
    """Two gunicorn servers and one uvicorn server sharing one database (and cache)."""

    workdir: Path
    env: dict[str, str]
    servers: list[Server] = field(default_factory=list)

    def start(self, gunicorn_workers: int = 3, uvicorn_workers: int = 2) -> None:
        specs = [
            ("gunicorn-a", "wsgi", gunicorn_workers, {"CREDCORS_MP_CONN_MAX_AGE": "0"}),
            # Persistent connections (with health checks), as many deployments run.
            ("gunicorn-b", "wsgi", gunicorn_workers, {"CREDCORS_MP_CONN_MAX_AGE": "60"}),
            ("uvicorn", "asgi", uvicorn_workers, {"CREDCORS_MP_CONN_MAX_AGE": "0"}),
        ]
        deadline = time.monotonic() + 60
        for name, kind, workers, extra in specs:
            for attempt in range(3):
                server = self._spawn(name, kind, workers, extra)
                if self._wait_ready(server, deadline):
                    self.servers.append(server)
                    break
                stop(server.process)
                log = server.log_path.read_text(errors="replace")
                # Another job may take the free port between our probe and the bind.
                if "in use" not in log or attempt == 2:
                    raise RuntimeError(f"{name} did not start:\n{log}")

    def _spawn(self, name: str, kind: str, workers: int, extra: dict[str, str]) -> Server:
        port = free_port()
        if kind == "wsgi":
            command = [
                sys.executable, "-m", "gunicorn", "tests.multiprocess.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
                "--timeout", "30", "--graceful-timeout", "3", "--log-level", "warning",
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "uvicorn", "tests.multiprocess.asgi:application",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                "--timeout-graceful-shutdown", "3",
            ]  # fmt: skip
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                bounded(command),
                cwd=ROOT,
                env={**self.env, **extra},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Server(name, port, process, log_path, workers)

    @staticmethod
    def _wait_ready(server: Server, deadline: float) -> bool:
        while server.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if get(server.port).status == 200:
                    return True
            time.sleep(0.1)  # Polling for the port to open, with a deadline.
        return False

    def stop(self) -> None:
        for server in self.servers:
            stop(server.process)

    def targets(self) -> list[dict[str, Any]]:
        return [{"name": server.name, "port": server.port} for server in self.servers]

    def log_lines(self) -> dict[str, list[str]]:
        return {server.name: server.log_lines() for server in self.servers}


class Mutator:
    """The separate process that changes rows; one JSON command, one JSON answer."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            bounded([sys.executable, "-m", "tests.multiprocess.mutator"]),
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        assert self._read()["ready"]
        self.history: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"mutator exited ({self.process.poll()}); see {self._log.name}")
        return json.loads(line)  # type: ignore[no-any-return]

    def __call__(self, op: str, **kwargs: Any) -> dict[str, Any]:
        stdin: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        stdin.write((json.dumps({"op": op, **kwargs}) + "\n").encode())
        stdin.flush()
        answer = self._read()
        self.history.append(answer)
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop(self.process)
        self.process.stdout.close()  # type: ignore[union-attr]
        self._log.close()


class Load:
    """The load generator, running in its own process for a bounded time."""

    def __init__(self, targets: list[dict[str, Any]], origins: list[str], out: Path, *, duration: float,
                 rate: float = 25.0, log_path: Path) -> None:  # fmt: skip
        self.out = out
        self.duration = duration
        config = {
            "targets": targets,
            "origins": origins,
            "rate": rate,
            "duration": duration,
            # A hard cap on top of the duration: never more than this many requests.
            "max_requests": int(rate * duration * len(targets) * 1.1) + 10,
            "out": str(out),
            "timeout": 10.0,
        }
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            bounded([sys.executable, "-m", "tests.multiprocess.loadgen", json.dumps(config)]),
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        self.started = json.loads(line)["t"]

    def wait(self) -> list[dict[str, Any]]:
        try:
            self.process.wait(timeout=self.duration + 30)
        finally:
            stop(self.process)
            self.process.stdout.close()  # type: ignore[union-attr]
            self._log.close()
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def query_log(workdir: Path) -> dict[int, list[tuple[float, str]]]:
    """Every statement each server process ran, by pid: (monotonic time, SQL)."""
    queries: dict[int, list[tuple[float, str]]] = {}
    for path in workdir.glob("queries-*.log"):
        pid = int(re.fullmatch(r"queries-(\d+)\.log", path.name).group(1))  # type: ignore[union-attr]
        for line in path.read_text().splitlines():
            stamp, _, sql = line.partition("\t")
            queries.setdefault(pid, []).append((float(stamp), sql))
    return queries


def wait_until(predicate: Any, deadline: float, what: str) -> None:
    """Poll ``predicate`` until it is true; fail with ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.05)


def at(t: float) -> None:
    """Wait until monotonic time ``t``: the scenario's schedule, not a wait for state."""
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


@contextlib.contextmanager
def proxied(target: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
