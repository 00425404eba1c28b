"""What the benchmark compares: configurations, allow-lists, request kinds and settings."""

from __future__ import annotations

import itertools
import string
from typing import Any

FLOOR = "floor"
#: Configuration key -> label printed in the tables.
CONFIGS = {
    FLOOR: "no CORS middleware",
    "dch-settings": "django-cors-headers, CORS_ALLOWED_ORIGINS",
    "dch-db": "django-cors-headers, DB via check_request_enabled",
    "cc-settings": "credcors, CREDCORS ALLOWED_ORIGINS",
    "cc-db": "credcors, AllowedOrigin rows",
    "cc-patterns": "credcors, *. patterns in settings",
    "cc-policies": "credcors, ALLOWED_ORIGINS beside POLICIES",
    "cc-refused": "credcors, CREDCORS ALLOWED_ORIGINS, RECORD_REFUSED on",
}
#: Which django-cors-headers configuration each credcors one is compared with.
COUNTERPART = {
    "cc-settings": "dch-settings",
    "cc-db": "dch-db",
    "cc-patterns": "dch-settings",
    "cc-policies": "dch-settings",
    "cc-refused": "dch-settings",
}
#: Configurations that differ from another only by recording refused origins.
RECORDING_REFUSED = {"cc-refused": "cc-settings"}

KINDS = ("allowed", "preflight", "refused", "no-origin", "hostile-acrh", "hostile-origin")
KIND_HELP = {
    "allowed": "GET from an allowed origin",
    "preflight": "OPTIONS preflight from an allowed origin (PUT, content-type)",
    "refused": "GET from an origin not on the list",
    "no-origin": "GET without Origin (same-origin or not a browser)",
    "hostile-acrh": "preflight from an allowed origin with 1,000 distinct names in "
    "Access-Control-Request-Headers (3,999 bytes)",
    "hostile-origin": "preflight with a 100 KB Origin",
}
LEVELS = ("middleware", "full")
#: The full stack without the CORS middleware, timed in each configuration's
#: own process interleaved with "full": the full-stack target's denominator.
IN_PROCESS_FLOOR = "full-floor"
LEVEL_HELP = {
    "middleware": "the middleware alone around a trivial get_response",
    "full": "Django's WSGIHandler with a new project's middleware (startproject) plus the CORS middleware, "
    "a trivial view",
}

PATH = "/api/ping"
REFUSED_ORIGIN = "https://evil.example.net"
# 1,000 distinct three-letter names joined by "," are 3,999 bytes, the
# hostile list of issue 5 (credcors refuses it on its length or name count).
HOSTILE_REQUEST_HEADERS = ",".join(
    a + b + c for a, b, c in itertools.islice(itertools.product(string.ascii_lowercase, repeat=3), 1000)
)
HOSTILE_ORIGIN = "https://" + "a" * (100 * 1024 - len("https://.example.com")) + ".example.com"


def exact_origins(size: int) -> list[str]:
    return [f"https://app{i}.example.com" for i in range(size)]


def pattern_origins(size: int) -> list[str]:
    return [f"https://*.t{i}.example.com" for i in range(size)]


def allowed_origin(config: str, size: int) -> str:
    """An origin the configuration allows, from the middle of its list."""
    if config == "cc-patterns":
        return f"https://app.t{size // 2}.example.com"
    return f"https://app{size // 2}.example.com"


def request_headers(config: str, size: int, kind: str) -> dict[str, str]:
    """The WSGI environ entries of one request kind (besides method and path)."""
    origin = allowed_origin(config, max(size, 1))
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}
    return {
        "allowed": {"HTTP_ORIGIN": origin},
        "preflight": {"HTTP_ORIGIN": origin, **preflight, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type"},
        "refused": {"HTTP_ORIGIN": REFUSED_ORIGIN},
        "no-origin": {},
        "hostile-acrh": {
            "HTTP_ORIGIN": origin,
            **preflight,
            "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": HOSTILE_REQUEST_HEADERS,
        },
        "hostile-origin": {"HTTP_ORIGIN": HOSTILE_ORIGIN, **preflight},
    }[kind]


def request_method(kind: str) -> str:
    return "OPTIONS" if kind in ("preflight", "hostile-acrh", "hostile-origin") else "GET"


def settings_for(config: str, size: int, db_path: str) -> dict[str, Any]:
    """Django settings for one configuration; each runs in its own process."""
    family = config.split("-")[0]
    cors = {"dch": ["corsheaders.middleware.CorsMiddleware"], "cc": ["credcors.middleware.CredCorsMiddleware"]}
    values: dict[str, Any] = {
        "SECRET_KEY": "credcors-bench-not-secret",
        "DEBUG": False,
        "ALLOWED_HOSTS": ["testserver"],
        "ROOT_URLCONF": "bench.urls",
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "corsheaders",
            "credcors",
            "bench",
        ],
        # Persistent connections, as production sites run: otherwise every
        # request of the database recipe would also pay for opening SQLite.
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path, "CONN_MAX_AGE": None}},
        # The stack of a new Django project (startproject's MIDDLEWARE), with
        # the CORS middleware where each library's README puts it.
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            *cors.get(family, []),
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "CREDCORS": {"USE_DATABASE": False},
        "CORS_ALLOW_CREDENTIALS": True,
        "CORS_ALLOWED_ORIGINS": [],
    }
    if config == "dch-settings":
        values["CORS_ALLOWED_ORIGINS"] = exact_origins(size)
    elif config == "cc-settings":
        values["CREDCORS"] = {"ALLOWED_ORIGINS": exact_origins(size), "USE_DATABASE": False}
    elif config == "cc-refused":
        values["CREDCORS"] = {"ALLOWED_ORIGINS": exact_origins(size), "USE_DATABASE": False, "RECORD_REFUSED": True}
    elif config == "cc-patterns":
        values["CREDCORS"] = {"ALLOWED_ORIGINS": pattern_origins(size), "USE_DATABASE": False}
    elif config == "cc-db":
        values["CREDCORS"] = {"USE_DATABASE": True}  # Default REFRESH_SECONDS (5).
    elif config == "cc-policies":
        # cc-settings plus named policies that other views use: what the
        # default policy's views pay once POLICIES exists (the view's policy
        # read after it ran; a preflight's path resolved once, then cached).
        values["CREDCORS"] = {
            "ALLOWED_ORIGINS": exact_origins(size),
            "USE_DATABASE": False,
            "POLICIES": {
                "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False},
                "partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"]},
            },
        }
    return values
