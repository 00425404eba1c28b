"""Settings of the WebSocket browser test's server: a daphne subprocess with Channels and a file SQLite.

``CREDCORS_WS_DB`` is the database file; ``CREDCORS_WS_RAN`` the file the
consumer appends a line to each time it runs (the server-side record).
"""

from __future__ import annotations

import os

SECRET_KEY = "credcors-websocket-browser-test"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CREDCORS_WS_DB"]}}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "credcors",
]
MIDDLEWARE = ["credcors.middleware.CredCorsMiddleware"]
ROOT_URLCONF = "tests.browser.ws_asgi"
ASGI_APPLICATION = "tests.browser.ws_asgi.application"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CREDCORS = {"ALLOWED_ORIGINS": [], "ALLOW_INSECURE_ORIGINS": True, "REFRESH_SECONDS": 1}
