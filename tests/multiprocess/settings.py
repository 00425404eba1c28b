"""Settings for the servers (and the mutator) that the multi-process tests start.

Everything comes from environment variables set by ``cluster.py``:

- ``CREDCORS_MP_DATABASE_URL``: PostgreSQL, normally through the test's TCP proxy;
- ``CREDCORS_MP_REDIS_URL``: a Redis cache for ``CACHE_ALIAS`` (empty: none);
- ``CREDCORS_MP_KEY_PREFIX``: keeps this run's cache keys apart from others';
- ``CREDCORS_MP_REFRESH_SECONDS``: ``REFRESH_SECONDS`` (short, to keep tests short);
- ``CREDCORS_MP_CONN_MAX_AGE``: Django's ``CONN_MAX_AGE`` (0 or persistent);
- ``CREDCORS_MP_QUERY_LOG_DIR``: where each process logs the SQL it runs.
"""

from __future__ import annotations

import os

from tests.settings import database_from_url

SECRET_KEY = "credcors-multiprocess-not-secret"
DEBUG = False
# The two API hosts of tests/multiprocess/test_tenants.py, beside loopback.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "api-a.localhost", "api-b.localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.multiprocess.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WSGI_APPLICATION = "tests.multiprocess.wsgi.application"

# auth (with contenttypes): manage.py credcors add names a user for the history (test_tenants.py runs it).
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "credcors",
    "tests.multiprocess.apps.MultiprocessTestConfig",
]

MIDDLEWARE = [
    "tests.multiprocess.apps.PidMiddleware",
    "credcors.middleware.CredCorsMiddleware",
    "django.middleware.common.CommonMiddleware",
]

_database = database_from_url(os.environ["CREDCORS_MP_DATABASE_URL"])
# A database that stops answering must cost one request a bounded wait, not
# a hung worker (libpq waits forever by default).
_database["OPTIONS"] = {"connect_timeout": 2}
_database["CONN_MAX_AGE"] = int(os.environ.get("CREDCORS_MP_CONN_MAX_AGE", "0"))
_database["CONN_HEALTH_CHECKS"] = _database["CONN_MAX_AGE"] != 0
DATABASES = {"default": _database}

CACHES: dict[str, dict[str, object]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CREDCORS: dict[str, object] = {
    "ALLOWED_ORIGINS": ["https://settings.example.com"],
    "REFRESH_SECONDS": float(os.environ.get("CREDCORS_MP_REFRESH_SECONDS", "1")),
}
if os.environ.get("CREDCORS_MP_REDIS_URL"):
    CACHES["shared"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CREDCORS_MP_REDIS_URL"],
        "KEY_PREFIX": os.environ.get("CREDCORS_MP_KEY_PREFIX", ""),
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
    CREDCORS["CACHE_ALIAS"] = "shared"

QUERY_LOG_DIR = os.environ.get("CREDCORS_MP_QUERY_LOG_DIR", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(created).3f pid=%(process)d %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "credcors": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
