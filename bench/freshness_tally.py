"""Count every query a process's Django connections run, and the rows each returned.

The store's refreshes run in threads with connections of their own, so the
count hooks every connection as it is created (``connection_created``) and
wraps its cursors: whatever credcors reads, through the ORM or a raw cursor,
fetched row by row, in chunks or all at once, is counted where the rows reach
Python.  Nothing here knows how credcors reads; it only sees what was read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Query:
    """One statement, when it started, and how many rows were fetched from it."""

    sql: str
    at: float
    rows: int = 0


class Tally:
    """Every query of every Django connection of this process since the last :meth:`take`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queries: list[Query] = []
        self._connections = 0

    def add(self, sql: str) -> Query:
        query = Query(sql, time.monotonic())
        with self._lock:
            self._queries.append(query)
        return query

    def connected(self) -> None:
        with self._lock:
            self._connections += 1

    def take(self) -> tuple[list[Query], int]:
        """The queries and new connections since the last call, and start counting afresh."""
        with self._lock:
            taken = self._queries, self._connections
            self._queries, self._connections = [], 0
        return taken

    def install(self) -> None:
        """Count on this thread's connection and on every connection opened from now on."""
        from django.db import connection
        from django.db.backends.signals import connection_created

        cursor_class = _counting_cursor(self)

        def instrument(wrapper: Any) -> None:
            # make_cursor is what every cursor, plain or server-side, is made by.
            wrapper.make_cursor = lambda cursor: cursor_class(cursor, wrapper)

        def created(sender: object, connection: Any, **kwargs: object) -> None:
            self.connected()
            instrument(connection)

        connection_created.connect(created, weak=False, dispatch_uid="credcors-freshness-tally")
        instrument(connection)


def _counting_cursor(tally: Tally) -> type[Any]:
    from django.db.backends.utils import CursorWrapper

    class CountingCursor(CursorWrapper):
        query: Query | None = None

        def execute(self, sql: Any, params: Any = None) -> Any:
            self.query = tally.add(str(sql))
            return super().execute(sql, params)

        def executemany(self, sql: Any, param_list: Any) -> Any:
            self.query = tally.add(str(sql))
            return super().executemany(sql, param_list)

        def _fetched(self, count: int) -> None:
            if self.query is not None:
                self.query.rows += count

        def fetchone(self) -> Any:
            with self.db.wrap_database_errors:
                row = self.cursor.fetchone()
            self._fetched(row is not None)
            return row

        def fetchmany(self, size: int | None = None) -> Any:
            with self.db.wrap_database_errors:
                rows = self.cursor.fetchmany() if size is None else self.cursor.fetchmany(size)
            self._fetched(len(rows))
            return rows

        def fetchall(self) -> Any:
            with self.db.wrap_database_errors:
                rows = self.cursor.fetchall()
            self._fetched(len(rows))
            return rows

        def __iter__(self) -> Any:
            with self.db.wrap_database_errors:
                for row in self.cursor:
                    self._fetched(1)
                    yield row

    return CountingCursor


class Collections:
    """The garbage collector's pauses: a request stalls for the whole of one that runs in its thread.

    A reload allocates a new allow-list's objects, which triggers full
    collections over every object the process holds, in whichever thread
    allocates at that moment: often a request's.
    """

    def __init__(self) -> None:
        self._started = 0.0
        self.longest = 0.0
        self.generation = -1
        self.full = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        # Collections hold the interpreter lock: one at a time, whatever the thread.
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        self.full += info["generation"] == 2
        if took > self.longest:
            self.longest, self.generation = took, info["generation"]

    def take(self) -> dict[str, Any]:
        """The longest pause (ms) and its generation, and the full collections, since the last call."""
        taken = {"gc_longest_ms": self.longest * 1000, "gc_generation": self.generation, "gc_full": self.full}
        self.longest, self.generation, self.full = 0.0, -1, 0
        return taken

    def install(self) -> None:
        import gc

        gc.callbacks.append(self)
