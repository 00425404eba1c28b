"""Where the suite finds PostgreSQL and Redis, and what happens when they are missing.

With ``CREDCORS_REQUIRE_SERVICES=1`` (``.ci/run`` sets it) a missing service
fails the test; elsewhere the test is skipped with a reason that says how to
start the service.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

#: An existing database on the server the multi-process tests use; they
#: create (and drop) their own database next to it.
POSTGRES_URL = os.environ.get("CREDCORS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CREDCORS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_HOW_TO_START = {
    "PostgreSQL": 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start',
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def services_required() -> bool:
    return os.environ.get("CREDCORS_REQUIRE_SERVICES") == "1"


def _missing(name: str, url: str, error: str) -> None:
    message = f"{name} is not reachable at {url} ({error}); these tests need it. Start it with: {_HOW_TO_START[name]}"
    if services_required():
        pytest.fail(f"{message} (CREDCORS_REQUIRE_SERVICES=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(f"SKIPPED, NOT PASSED: {message}")


def require_postgres(url: str = POSTGRES_URL) -> None:
    """Fail or skip the calling test unless PostgreSQL answers a query at ``url``."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is in the test extra
        _missing("PostgreSQL", url, f"psycopg is not installed: {exc}")
        return
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _missing("PostgreSQL", url, str(exc).strip().splitlines()[0])


def require_redis(url: str = REDIS_URL) -> None:
    """Fail or skip the calling test unless Redis answers PING at ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        _missing("Redis", url, str(exc))
        return
    if not reply.startswith(b"+PONG"):
        _missing("Redis", url, f"unexpected reply {reply!r}")
