"""Settings for the credcors example project (SQLite by default; DATABASE_URL overrides)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
USE_TZ = True
# What startproject writes, and the zone credcors' command line prints expiries
# in.  Without it Django's default, America/Chicago, makes the admin say "You
# are 6 hours ahead of server time" to a browser on UTC; the admin still says
# how far a browser in another zone is from UTC, which is true.
TIME_ZONE = "UTC"
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "credcors",
    "example_project.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "credcors.middleware.CredCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django's CsrfViewMiddleware, plus trust for the exact origins credcors
    # allows (CREDCORS["TRUST_FOR_CSRF"] below); the token is still required.
    "credcors.csrf.CredCorsCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def database_from_url(url: str) -> dict[str, str]:
    """``sqlite:///path`` or ``postgres://user:password@host:port/name`` as a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path[1:] or ":memory:"}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/") or "postgres",
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
        }
    raise ValueError(f"unsupported DATABASE_URL scheme {parts.scheme!r}: use sqlite:///path or postgres://...")


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CREDCORS_DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        }
    }

# The front end's origin is allowed through an AllowedOrigin row (see the
# admin), not here; settings hold only what never changes per deployment.
CREDCORS = {
    "ALLOWED_ORIGINS": [],
    "URLS_REGEX": r"^/api/",
    "TRUST_FOR_CSRF": True,
    # While a browser caches a preflight it sends preflighted writes without
    # asking again; keep that short so disabling the origin in the admin
    # stops the demo page's writes from reaching the server within seconds.
    "PREFLIGHT_MAX_AGE": 5,
    # Count refused origins (the demo's second front end among them) for the
    # admin's "Refused origins" list; written every 2 s so the demo feels
    # immediate (the default, 10 s, suits a real site).
    "RECORD_REFUSED": True,
    "REFUSED_FLUSH_SECONDS": 2,
}

# The session cookie travels on cross-site fetch() calls from the front end.
# Browsers treat localhost:3001 -> localhost:8000 as same-site, so Lax works
# here; a front end on another site needs SameSite=None; Secure over https.
SESSION_COOKIE_HTTPONLY = True
# A refused write answers JSON with Django's reason, which the page shows.
CSRF_FAILURE_VIEW = "example_project.api.views.csrf_failure"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# The demo's console shows each socket the WebSocket consumer accepted
# (example_project/api/consumers.py); refused handshakes never reach it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"example_project": {"handlers": ["console"], "level": "INFO"}},
}
