"""``python3 dev.py demo``: migrate, create a demo user and origin, run the API."""

from __future__ import annotations

import os
import sys

DEMO_USER = ("demo", "demo-password")
FRONTEND_ORIGIN = "http://localhost:3001"


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from credcors.models import AllowedOrigin

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_USER[0]).exists():
        user_model.objects.create_superuser(DEMO_USER[0], "demo@example.com", DEMO_USER[1])
    AllowedOrigin.objects.get_or_create(origin=FRONTEND_ORIGIN, defaults={"note": "demo front end"})
    print(f"Admin: http://localhost:8000/admin/  user {DEMO_USER[0]!r}, password {DEMO_USER[1]!r}", flush=True)
    call_command("runserver", "localhost:8000", *argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
