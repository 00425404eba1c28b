"""The process that changes ``AllowedOrigin`` rows while the servers are under load.

Run as ``python -m tests.multiprocess.mutator`` with the servers' settings but
a direct database (and cache) connection, so that cutting the servers' proxy
does not stop it.  It reads one JSON command per line on stdin and answers
each with one JSON line on stdout::

    {"op": "create", "origin": "https://a.example.com", "enabled": true}
    {"op": "save", "origin": ..., "enabled": false}      # instance.save(): model signal
    {"op": "update", "origin": ..., "enabled": false}    # QuerySet.update() + invalidate_on_commit()
    {"op": "update_quietly", "origin": ..., "enabled": true}  # QuerySet.update(), nothing else
    {"op": "delete", "origin": ...}                      # instance.delete(): model signal
    {"op": "sql_insert", "origin": ..., "enabled": true} # raw SQL, as another service would write
    {"op": "sql_update", "origin": ..., "enabled": false}
    {"op": "sql_delete", "origin": ...}
    {"op": "reset", "enabled": [...], "disabled": [...]} # exactly these rows, published

The answer carries ``t_before`` / ``t_after`` (``time.monotonic()``, which is
system-wide on Linux, so comparable with the load generator's times) taken
right around the commit, and ``state``: the enabled origins read back after
it, i.e. the committed state.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiprocess.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from credcors.models import AllowedOrigin
    from credcors.signals import invalidate_on_commit

    def apply(command: dict[str, Any]) -> None:
        op, origin = command["op"], command.get("origin")
        objects = AllowedOrigin.objects
        if op == "create":
            objects.create(origin=origin, enabled=command["enabled"])
        elif op == "save":
            row = objects.get(origin=origin)
            row.enabled = command["enabled"]
            row.save()
        elif op == "update":
            with transaction.atomic():
                assert objects.filter(origin=origin).update(enabled=command["enabled"]) == 1
                invalidate_on_commit()
        elif op == "update_quietly":
            assert objects.filter(origin=origin).update(enabled=command["enabled"]) == 1
        elif op == "delete":
            objects.get(origin=origin).delete()
        elif op.startswith("sql_"):
            # Another service writing the table: no model, no signal, no
            # shared-cache message; only the database's revision moves.
            table = AllowedOrigin._meta.db_table
            statement, params = {
                "sql_insert": (
                    f"INSERT INTO {table} (origin, enabled, note, created_at, updated_at) "
                    "VALUES (%s, %s, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                    [origin, command.get("enabled")],
                ),
                "sql_update": (f"UPDATE {table} SET enabled = %s WHERE origin = %s", [command.get("enabled"), origin]),
                "sql_delete": (f"DELETE FROM {table} WHERE origin = %s", [origin]),
            }[op]
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                assert cursor.rowcount == 1
        elif op == "reset":
            with transaction.atomic():
                objects.all().delete()
                for enabled in (True, False):
                    for value in command["enabled" if enabled else "disabled"]:
                        objects.create(origin=value, enabled=enabled)
        else:
            raise ValueError(f"unknown op {op!r}")

    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        t_before = time.monotonic()
        apply(command)
        t_after = time.monotonic()
        enabled = sorted(AllowedOrigin.objects.filter(enabled=True).values_list("origin", flat=True))
        print(json.dumps({**command, "t_before": t_before, "t_after": t_after, "state": enabled}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
