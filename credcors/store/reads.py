"""The one guarded read of the ``AllowedOrigin`` table, and what its errors mean.

:func:`read_rows` is used by the store's :class:`~credcors.store.loader.Loader`
and by diagnostics (``explain``, the admin's panels) alike: it never harms
the caller's transaction.  :func:`is_missing_table` tells a missing table
(run ``migrate``) from an outage.  Nothing here runs per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from credcors.core.compile import RowColumns

__all__ = ["is_missing_table", "read_guard", "read_row_columns", "read_rows"]


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


def read_row_columns(policies: Collection[str]) -> RowColumns:
    """The enabled rows, as columns per policy in id order: what a full load reads.

    One plain cursor query per policy of ``policies`` (those that take rows)
    reads its rows' origins, ids and hosts, and nothing else: no
    model and no string per row for its policy, so it costs about what a raw
    fetch of those columns does (a cold load of 1,000,000 rows spent about 1 s of
    its 4 s building rows through the ORM).  One more query reads the few
    rows that are not plain: trusted for CSRF, expiring (through the ORM,
    which converts the backend's dates), or of another policy, which allow
    nothing and are returned by id.  Raises ``DatabaseError``.
    """
    from django.db.models import Q

    from credcors.models import AllowedOrigin

    alias = router.db_for_read(AllowedOrigin)
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = AllowedOrigin._meta
    table = quote(meta.db_table)
    column = {field.name: f"{table}.{quote(str(field.column))}" for field in meta.concrete_fields}
    names = sorted(policies)
    # The hosts column too: empty (every host) for nearly every row, or all of
    # them in a multi-tenant deployment, whose rows are split off by scope.
    sql = (
        f"SELECT {column['origin']}, {column['id']}, {column['hosts']} FROM {table} "
        f"WHERE {column['enabled']} AND {column['policy']} = %s ORDER BY {column['id']}"
    )
    by_policy: dict[str, tuple[list[str], list[int], list[int]]] = {}
    scoped: dict[str, tuple[list[str], list[int], list[str], list[int]]] = {}
    enabled = AllowedOrigin.objects.using(alias).filter(enabled=True).order_by()
    special = Q(trust_for_csrf=True) | Q(expires_at__isnull=False) | ~Q(policy__in=names)
    with read_guard(connection), connection.cursor() as cursor:
        for name in names:
            cursor.execute(sql, [name])
            rows = cursor.fetchall()
            if any(map(itemgetter(2), rows)):
                tenants = [row for row in rows if row[2]]
                scoped[name] = (
                    list(map(itemgetter(0), tenants)),
                    list(map(itemgetter(1), tenants)),
                    list(map(itemgetter(2), tenants)),
                    [],
                )
                rows = [row for row in rows if not row[2]]
            by_policy[name] = (list(map(itemgetter(0), rows)), list(map(itemgetter(1), rows)), [])
        singled = list(enabled.filter(special).values_list("pk", "policy", "trust_for_csrf", "expires_at"))
    trusted = {ident for ident, _, trust, _ in singled if trust}
    for _, ids, _, flags in scoped.values():
        flags.extend(1 if ident in trusted else 0 for ident in ids)
    if trusted:
        for _, ids, flags in by_policy.values():
            flags.extend(1 if ident in trusted else 0 for ident in ids)
    others = [ident for ident, policy, _, _ in singled if policy not in by_policy]
    expiries = {ident: at.timestamp() for ident, _, _, at in singled if at is not None}
    return RowColumns(by_policy, expiries, others, scoped)


def is_missing_table(exc: DatabaseError) -> bool:
    """Whether a database error says the ``AllowedOrigin`` table does not exist."""
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text or "doesn't exist" in text
