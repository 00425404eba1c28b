"""Write ``docs/django.inv``: the part of Django's Sphinx inventory these docs link to.

Django publishes its inventory at https://docs.djangoproject.com/en/5.2/_objects/
but a build must not depend on the network (CI and developer machines may not
reach it), so the targets the pages use are listed here and written in
Sphinx's inventory format (version 2).  Each URI is the real page and anchor on
docs.djangoproject.com, relative to the base URL in ``conf.py``.

To link another Django target, add it to ``TARGETS`` and run
``python docs/django_inventory.py``; ``tests/test_docs.py`` fails while the
committed file and this list disagree.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

DJANGO_VERSION = "5.2"
OUTPUT = Path(__file__).resolve().parent / "django.inv"

#: (name, domain:role, URI relative to https://docs.djangoproject.com/en/5.2/, title or "-").
#: A URI ending in "$" stands for the name, as Sphinx's format allows.
TARGETS: list[tuple[str, str, str, str]] = [
    # Settings (ref/settings/, anchors std-setting-NAME).
    *(
        (name, "std:setting", "ref/settings/#std-setting-$", "-")
        for name in (
            "CACHES",
            "CSRF_COOKIE_SAMESITE",
            "CSRF_COOKIE_SECURE",
            "CSRF_FAILURE_VIEW",
            "CSRF_TRUSTED_ORIGINS",
            "DATABASES",
            "DEBUG",
            "INSTALLED_APPS",
            "LOGGING",
            "MIDDLEWARE",
            "SESSION_COOKIE_SAMESITE",
            "SESSION_COOKIE_SECURE",
        )
    ),
    # django-admin commands (ref/django-admin/, anchors django-admin-NAME).
    *(
        (name, "std:django-admin", "ref/django-admin/#django-admin-$", "-")
        for name in ("check", "createsuperuser", "migrate", "runserver")
    ),
    # Python objects (anchor: the dotted path).
    ("django.middleware.csrf.CsrfViewMiddleware", "py:class", "ref/middleware/#$", "-"),
    ("django.middleware.common.CommonMiddleware", "py:class", "ref/middleware/#$", "-"),
    ("django.middleware.csrf.get_token", "py:function", "ref/csrf/#$", "-"),
    ("django.db.models.query.QuerySet.update", "py:method", "ref/models/querysets/#$", "-"),
    ("django.db.models.query.QuerySet.bulk_create", "py:method", "ref/models/querysets/#$", "-"),
    # Whole pages.
    ("ref/csrf", "std:doc", "ref/csrf/", "Cross Site Request Forgery protection"),
    ("ref/checks", "std:doc", "ref/checks/", "System check framework"),
    ("ref/contrib/admin/index", "std:doc", "ref/contrib/admin/", "The Django admin site"),
    ("topics/cache", "std:doc", "topics/cache/", "Django's cache framework"),
    ("topics/logging", "std:doc", "topics/logging/", "Logging"),
]


def render(targets: list[tuple[str, str, str, str]] = TARGETS) -> bytes:
    """The inventory file's bytes: a plain header, then the entries zlib-compressed."""
    header = (
        "# Sphinx inventory version 2\n"
        "# Project: Django\n"
        f"# Version: {DJANGO_VERSION}\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    priority = {"std:doc": "-1", "std:setting": "-1", "std:django-admin": "-1"}
    body = "".join(
        f"{name} {role} {priority.get(role, '1')} {uri} {title}\n" for name, role, uri, title in sorted(targets)
    )
    return header + zlib.compress(body.encode(), 9)


def main() -> int:
    OUTPUT.write_bytes(render())
    print(f"wrote {OUTPUT} ({len(TARGETS)} Django targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
