"""The one guarded read of the ``AllowedOrigin`` table, and what its errors mean.

:func:`read_rows` is used by the store's :class:`~credcors.store.loader.Loader`
and by diagnostics (``explain``, the admin's panels) alike: it never harms
the caller's transaction.  :func:`is_missing_table` tells a missing table
(run ``migrate``) from an outage.  Nothing here runs per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["is_missing_table", "read_guard", "read_rows"]


def read_guard(connection: BaseDatabaseWrapper) -> contextlib.AbstractContextManager[object]:
    """A savepoint inside someone's transaction, nothing in autocommit.

    Inside a transaction a failed query must not poison it (PostgreSQL aborts
    the whole transaction on any error); in autocommit one SELECT needs no
    BEGIN/COMMIT, which would triple the round trips of every poll.
    """
    if connection.in_atomic_block or not connection.get_autocommit():
        return transaction.atomic(using=connection.alias)
    return contextlib.nullcontext()


def read_rows(
    *, origins: Sequence[str] | None = None, fields: Sequence[str] = ("origin", "pk")
) -> list[tuple[Any, ...]]:
    """``AllowedOrigin`` rows as tuples of ``fields``, without harming the caller's transaction.

    With ``origins`` None: the enabled rows, in primary-key order (what the
    store loads).  Otherwise every row, enabled or not, whose origin is one
    of ``origins`` (what diagnostics look at).  Raises ``DatabaseError``.
    """
    from credcors.models import AllowedOrigin

    alias = router.db_for_read(AllowedOrigin)
    rows = AllowedOrigin.objects.using(alias)
    rows = rows.filter(enabled=True).order_by("pk") if origins is None else rows.filter(origin__in=origins)
    with read_guard(connections[alias]):
        return list(rows.values_list(*fields))


def is_missing_table(exc: DatabaseError) -> bool:
    """Whether a database error says the ``AllowedOrigin`` table does not exist."""
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text or "doesn't exist" in text
