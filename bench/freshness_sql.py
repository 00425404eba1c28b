"""The freshness benchmark's database side: a fresh database, a fast fill, and another service's writes.

Everything here goes through the database driver directly (psycopg,
sqlite3), never through Django: a row written here reaches credcors only the
way another service's raw SQL would, through the revision triggers and the
poll, with no signal, no model and no shared connection.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

PG_DATABASE = "credcors_freshness_bench"
PG_SERVER = "host=127.0.0.1 port=5432 user=postgres"
TABLE = "credcors_allowedorigin"
#: What the bench's rows look like: ``https://app{i}.example.com`` for i in 0..size-1.
ROW_ORIGIN = "https://app{}.example.com"
_COLUMNS = "origin, enabled, note, created_at, updated_at"

#: One statement per engine fills the table, so a million rows take seconds,
#: not minutes of round trips.  The triggers fire as for any other write.
_FILL = {
    "postgres": (
        f"INSERT INTO {TABLE} ({_COLUMNS}) "
        "SELECT 'https://app' || i || '.example.com', TRUE, '', now(), now() FROM generate_series(0, %s) AS i"
    ),
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO {TABLE} ({_COLUMNS}) "
        "SELECT 'https://app' || i || '.example.com', 1, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM n"
    ),
}


def django_database(engine: str, sqlite_path: str) -> dict[str, Any]:
    """The ``DATABASES['default']`` entry credcors reads from (persistent connections, as in production)."""
    if engine == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path, "CONN_MAX_AGE": None}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": PG_DATABASE,
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None,
    }


def create_pg_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def drop_pg_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


@dataclass
class Change:
    """One raw-SQL change, and what a request must see once it is served."""

    kind: str  # insert, update or delete
    #: (origin, whether it must be allowed) pairs that all hold once the change is served.
    expect: tuple[tuple[str, bool], ...]
    committed_at: float = 0.0
    served_at: float | None = None
    cpu_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def served_after(self) -> float | None:
        return None if self.served_at is None else self.served_at - self.committed_at


class OtherService:
    """A connection of its own, in autocommit, writing the table the way another service would."""

    def __init__(self, engine: str, sqlite_path: str, size: int) -> None:
        self.engine = engine
        self.size = size
        if engine == "postgres":
            import psycopg

            self.conn: Any = psycopg.connect(f"{PG_SERVER} dbname={PG_DATABASE}", autocommit=True)
        else:
            # isolation_level=None: autocommit, each statement commits at once.
            self.conn = sqlite3.connect(sqlite_path, timeout=30, isolation_level=None)
        self.count = 0
        # Rows renamed or deleted are taken from the middle of the table, one
        # each, never the row the benchmark's requests use (app1).
        self.next_row = max(2, size // 2)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        if self.engine == "sqlite":
            statement = statement.replace("%s", "?")
        self.conn.execute(statement, params)

    def fill(self) -> None:
        self.sql(_FILL[self.engine], (self.size - 1,))
        if self.engine == "postgres":
            # What autovacuum would do soon after a bulk load: plans and the visibility map as in production.
            self.sql(f"VACUUM ANALYZE {TABLE}")
        else:
            self.sql(f"ANALYZE {TABLE}")

    def _take_row(self) -> str:
        if self.next_row >= self.size:
            raise RuntimeError(f"bench: no row left to change among {self.size:,}")
        origin = ROW_ORIGIN.format(self.next_row)
        self.next_row += 1
        return origin

    def change(self, kind: str, clock: Any) -> Change:
        """Insert, update (rename) or delete one row; return it with its commit time."""
        self.count += 1
        if kind == "insert":
            origin = f"https://new{self.count}.example.com"
            statement = f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            params: tuple[Any, ...] = (origin, True)
            change = Change(kind, ((origin, True),))
        elif kind == "update":
            old, new = self._take_row(), f"https://renamed{self.count}.example.com"
            statement = f"UPDATE {TABLE} SET origin = %s, updated_at = CURRENT_TIMESTAMP WHERE origin = %s"
            params = (new, old)
            change = Change(kind, ((new, True), (old, False)))
        elif kind == "delete":
            old = self._take_row()
            statement, params = f"DELETE FROM {TABLE} WHERE origin = %s", (old,)
            change = Change(kind, ((old, False),))
        else:
            raise ValueError(kind)
        self.sql(statement, params)  # Autocommit: committed when this returns.
        change.committed_at = clock()
        return change

    def close(self) -> None:
        self.conn.close()
