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
    from django.db import transaction

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
