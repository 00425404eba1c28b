"""Settings for the test suite.  ``DATABASE_URL`` picks the database (default SQLite)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = "credcors-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Tests log users in by the hundred (admin_client makes a superuser per test):
# PBKDF2 would dominate the run time, and no test is about password hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def database_from_url(url: str) -> dict[str, object]:
    """A tiny DATABASE_URL reader: sqlite:///path, postgres://user@host:port/name or mysql://user@host:port/name."""
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
    if parts.scheme == "mysql":  # MySQL or MariaDB, through mysqlclient (not in the test extra).
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": parts.path.lstrip("/") or "test",
            "USER": unquote(parts.username or "root"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 3306),
        }
    raise ValueError(f"unsupported DATABASE_URL scheme {parts.scheme!r}")


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", "sqlite://"))}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "credcors",
]

MIDDLEWARE = [
    "credcors.middleware.CredCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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

CREDCORS = {
    "ALLOWED_ORIGINS": ["https://app.example.com", "http://localhost:3001", "https://*.example.org"],
    "EXPOSE_HEADERS": ["x-request-id"],
}
