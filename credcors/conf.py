"""Validate ``settings.CREDCORS`` once into a frozen :class:`Config`.

:func:`parse_config` is pure: it takes the raw value and ``settings.CACHES``
and never reads Django's settings itself; :func:`get_config` does that, once
per settings change.  Validation produces :class:`~credcors.catalogue.Problem`
values; ``checks.py`` turns them into system-check messages.  Whatever is
invalid is left out of the config, so a bad entry can only make credcors
refuse more, never allow more.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from credcors.catalogue import Problem, key
from credcors.entries import parse_allow_headers, parse_expose_headers, parse_methods, parse_origins
from credcors.origins import Rule
from credcors.refused import REFUSED_DEFAULTS, RefusedSettings, parse_refused_settings

__all__ = ["DEFAULTS", "Config", "get_config", "parse_config", "reset"]

DEFAULTS: Mapping[str, Any] = {
    "ALLOWED_ORIGINS": [],
    "ALLOW_CREDENTIALS": True,
    "ALLOW_METHODS": ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"],
    "ALLOW_HEADERS": ["accept", "authorization", "content-type", "x-csrftoken", "x-requested-with"],
    "EXPOSE_HEADERS": [],
    # Chromium caps at 7200 s, Firefox at 86400 s.  While a preflight is
    # cached the browser sends preflighted writes without asking again, so a
    # short default bounds how long a disabled origin can keep doing that.
    "PREFLIGHT_MAX_AGE": 600,
    "URLS_REGEX": None,
    "USE_DATABASE": True,
    "REFRESH_SECONDS": 5,
    "ALLOW_INSECURE_ORIGINS": False,
    "TRUST_FOR_CSRF": False,
    "CACHE_ALIAS": None,
    **REFUSED_DEFAULTS,
}

MAX_REFRESH_SECONDS = 3600
MAX_PREFLIGHT_AGE = 86400

_LIST_KEYS = ("ALLOWED_ORIGINS", "ALLOW_METHODS", "ALLOW_HEADERS", "EXPOSE_HEADERS")
_BOOL_KEYS = ("ALLOW_CREDENTIALS", "USE_DATABASE", "ALLOW_INSECURE_ORIGINS", "TRUST_FOR_CSRF", "RECORD_REFUSED")
# Caches every process sees separately (or not at all): naming one in
# CACHE_ALIAS would silently make nothing faster.
_PER_PROCESS_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
_NOT_RECORDING = RefusedSettings()


@dataclass(frozen=True, slots=True)
class Config:
    """The validated CREDCORS settings; invalid entries are left out."""

    rules: tuple[Rule, ...] = ()
    credentials: bool = True
    allow_methods: tuple[str, ...] = tuple(DEFAULTS["ALLOW_METHODS"])
    allow_headers: tuple[str, ...] = tuple(DEFAULTS["ALLOW_HEADERS"])
    expose_headers: tuple[str, ...] = ()
    max_age: int = DEFAULTS["PREFLIGHT_MAX_AGE"]
    urls_regex: re.Pattern[str] | None = None
    use_database: bool = True
    refresh_seconds: float = DEFAULTS["REFRESH_SECONDS"]
    allow_insecure: bool = False
    trust_for_csrf: bool = False
    cache_alias: str | None = None
    refused: RefusedSettings = _NOT_RECORDING
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def applies_to(self, path_info: str) -> bool:
        """Whether CORS handling covers this ``request.path_info``."""
        return self.urls_regex is None or self.urls_regex.match(path_info) is not None


def parse_config(raw: object, caches: Mapping[str, Any] | None = None) -> Config:
    """Validate a CREDCORS value; never raises, records problems instead.

    ``caches`` is ``settings.CACHES``, which ``CACHE_ALIAS`` must name.
    """
    problems: list[Problem] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(
            Problem(
                "credcors.E001",
                f"settings.CREDCORS must be a dict, not {type(raw).__name__} ({raw!r}).",
                'Write CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"]}.',
            )
        )
        return Config(rules=(), use_database=False, problems=tuple(problems))
    for name in raw:
        if name not in DEFAULTS:
            close = difflib.get_close_matches(str(name), list(DEFAULTS), n=1)
            suggestion = f"Did you mean {close[0]!r}? " if close else ""
            problems.append(
                Problem(
                    "credcors.E002",
                    f"Unknown key {name!r} in settings.CREDCORS.",
                    f"{suggestion}Valid keys: {', '.join(sorted(DEFAULTS))}.",
                )
            )
    values = {name: raw.get(name, default) for name, default in DEFAULTS.items()}
    for name in _LIST_KEYS:
        value = values[name]
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            problems.append(
                Problem(
                    "credcors.E003",
                    f"{key(name)} must be a list of strings, not {value!r}.",
                    f'Write a list, e.g. {key(name)} = ["{_example(name)}"].',
                )
            )
            # Fail closed: a list we cannot read allows (or exposes) nothing.
            values[name] = []
    for name in _BOOL_KEYS:
        if not isinstance(values[name], bool):
            problems.append(
                Problem(
                    "credcors.E015",
                    f"{key(name)} must be True or False, not {values[name]!r}.",
                    f"Write {key(name)} = {DEFAULTS[name]!r}.",
                )
            )
            values[name] = DEFAULTS[name]
    credentials = values["ALLOW_CREDENTIALS"]
    allow_insecure = values["ALLOW_INSECURE_ORIGINS"]
    rules = parse_origins(values["ALLOWED_ORIGINS"], credentials, allow_insecure, problems)
    methods = parse_methods(values["ALLOW_METHODS"], credentials, problems)
    allow_headers = parse_allow_headers(values["ALLOW_HEADERS"], credentials, problems)
    expose_headers = parse_expose_headers(values["EXPOSE_HEADERS"], credentials, problems)
    max_age = values["PREFLIGHT_MAX_AGE"]
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= MAX_PREFLIGHT_AGE:
        problems.append(
            Problem(
                "credcors.E008",
                f"{key('PREFLIGHT_MAX_AGE')} must be a whole number of seconds from 0 to {MAX_PREFLIGHT_AGE}, "
                f"not {max_age!r}.",
                "Browsers cap it anyway (Chromium 7200, Firefox 86400); the default is 600.",
            )
        )
        max_age = DEFAULTS["PREFLIGHT_MAX_AGE"]
    urls_regex = _parse_urls_regex(values["URLS_REGEX"], problems)
    refresh = values["REFRESH_SECONDS"]
    if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or not 0 < refresh <= MAX_REFRESH_SECONDS:
        problems.append(
            Problem(
                "credcors.E010",
                f"{key('REFRESH_SECONDS')} must be a number of seconds above 0 and at most "
                f"{MAX_REFRESH_SECONDS}, not {refresh!r}.",
                "It bounds how long a process may serve a stale allow-list; the default is 5.",
            )
        )
        refresh = DEFAULTS["REFRESH_SECONDS"]
    cache_alias = _parse_cache_alias(values["CACHE_ALIAS"], caches or {}, problems)
    refused = parse_refused_settings(values, problems)
    if not values["ALLOWED_ORIGINS"] and not values["USE_DATABASE"]:
        problems.append(
            Problem(
                "credcors.W001",
                'CREDCORS allows no origin: "ALLOWED_ORIGINS" is empty and "USE_DATABASE" is False.',
                "List origins in ALLOWED_ORIGINS, or set USE_DATABASE = True and add AllowedOrigin rows.",
            )
        )
    return Config(
        rules=rules,
        credentials=credentials,
        allow_methods=methods,
        allow_headers=allow_headers,
        expose_headers=expose_headers,
        max_age=max_age,
        urls_regex=urls_regex,
        use_database=values["USE_DATABASE"],
        refresh_seconds=float(refresh),
        allow_insecure=allow_insecure,
        trust_for_csrf=values["TRUST_FOR_CSRF"],
        cache_alias=cache_alias,
        refused=refused,
        problems=tuple(problems),
    )


def _example(name: str) -> str:
    return {
        "ALLOWED_ORIGINS": "https://app.example.com",
        "ALLOW_METHODS": "GET",
        "ALLOW_HEADERS": "content-type",
        "EXPOSE_HEADERS": "x-request-id",
    }[name]


def _parse_urls_regex(value: object, problems: list[Problem]) -> re.Pattern[str] | None:
    if value is None:
        return None
    if isinstance(value, re.Pattern):
        return value
    if isinstance(value, str):
        try:
            return re.compile(value)
        except re.error as exc:
            problem = f"does not compile: {exc}"
    else:
        problem = f"must be a regular expression string or None, not {type(value).__name__}"
    problems.append(
        Problem(
            "credcors.E009",
            f"{key('URLS_REGEX')} {value!r} {problem}.",
            r'Write a pattern matched against request.path_info, e.g. r"^/api/", or None for all paths.',
        )
    )
    # Fail closed: with no readable pattern, CORS applies to no path.
    return re.compile(r"(?!)")


def _parse_cache_alias(value: object, caches: Mapping[str, Any], problems: list[Problem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(
            Problem(
                "credcors.E016",
                f"{key('CACHE_ALIAS')} must be the name of a cache in settings.CACHES, or None, not {value!r}.",
                f'Write {key("CACHE_ALIAS")} = "default" (a Redis cache every process shares), or leave it out.',
            )
        )
        return None
    if value not in caches:
        problems.append(
            Problem(
                "credcors.E013",
                f"{key('CACHE_ALIAS')} is {value!r}, which is not a cache in settings.CACHES "
                f"(known: {', '.join(map(repr, caches)) or 'none'}).",
                f"Name a cache every process shares, such as one using {_REDIS_CACHE!r}, or remove the key.",
            )
        )
        return None
    entry = caches[value]
    backend = entry.get("BACKEND", "")
    if backend in _PER_PROCESS_CACHES:
        problems.append(
            Problem(
                "credcors.E013",
                f"{key('CACHE_ALIAS')} names the cache {value!r}, whose backend {backend!r} is not shared "
                "between processes, so other processes would never hear of a change.",
                f"Name a cache every process shares, such as one using {_REDIS_CACHE!r}, or remove the key.",
            )
        )
        return None
    options = entry.get("OPTIONS") or {}
    if backend == _REDIS_CACHE and not {"socket_timeout", "socket_connect_timeout"} <= set(options):
        # redis-py waits forever by default; the request doing the check
        # would hang with a Redis server that stops answering.
        problems.append(
            Problem(
                "credcors.W005",
                f"The cache {value!r} named by {key('CACHE_ALIAS')} sets no socket_timeout and "
                "socket_connect_timeout, so a Redis server that stops answering would hold requests.",
                f'Add "OPTIONS": {{"socket_connect_timeout": 0.25, "socket_timeout": 0.25}} to CACHES[{value!r}].',
            )
        )
    return value


_config: Config | None = None


def get_config() -> Config:
    """The current validated config, parsed on first use after a reset."""
    global _config
    config = _config
    if config is None:
        from django.conf import settings

        config = _config = parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None))
    return config


def reset() -> None:
    """Forget the parsed config (connected to ``setting_changed``)."""
    global _config
    _config = None
