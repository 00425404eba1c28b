"""Read and validate ``settings.CREDCORS`` once into a frozen :class:`Config`.

Validation produces :class:`Problem` values; ``checks.py`` turns them into
system-check messages.  Whatever is invalid is left out of the config, so a
bad entry can only make credcors refuse more, never allow more.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from credcors.origins import OriginError, Rule, is_potentially_trustworthy_host, parse_rule

__all__ = ["DEFAULTS", "Config", "Problem", "get_config", "is_forbidden_request_header", "parse_config", "reset"]

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
}

MAX_REFRESH_SECONDS = 3600
MAX_PREFLIGHT_AGE = 86400

# Fetch §2.2.2 "forbidden request-header name": scripts cannot set these, so
# allowing them only hides a misunderstanding.
_FORBIDDEN_REQUEST_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)


def is_forbidden_request_header(name: str) -> bool:
    """Whether scripts can never set this (lowercase) request header (Fetch §2.2.2)."""
    return name in _FORBIDDEN_REQUEST_HEADERS or name.startswith(("proxy-", "sec-"))


_FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LIST_KEYS = ("ALLOWED_ORIGINS", "ALLOW_METHODS", "ALLOW_HEADERS", "EXPOSE_HEADERS")
_BOOL_KEYS = ("ALLOW_CREDENTIALS", "USE_DATABASE", "ALLOW_INSECURE_ORIGINS", "TRUST_FOR_CSRF")
# Caches every process sees separately (or not at all): naming one in
# CACHE_ALIAS would silently make nothing faster.
_PER_PROCESS_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration mistake: a check id, what is wrong, and the fix."""

    id: str
    msg: str
    hint: str

    @property
    def is_error(self) -> bool:
        return self.id.startswith("credcors.E")


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
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def applies_to(self, path_info: str) -> bool:
        """Whether CORS handling covers this ``request.path_info``."""
        return self.urls_regex is None or self.urls_regex.match(path_info) is not None


def _key(name: str) -> str:
    return f'CREDCORS["{name}"]'


def parse_config(raw: object) -> Config:
    """Validate a CREDCORS value; never raises, records problems instead."""
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
                    f"{_key(name)} must be a list of strings, not {value!r}.",
                    f'Write a list, e.g. {_key(name)} = ["{_example(name)}"].',
                )
            )
            # Fail closed: a list we cannot read allows (or exposes) nothing.
            values[name] = []
    for name in _BOOL_KEYS:
        if not isinstance(values[name], bool):
            problems.append(
                Problem(
                    "credcors.E003",
                    f"{_key(name)} must be True or False, not {values[name]!r}.",
                    f"Write {_key(name)} = {DEFAULTS[name]!r}.",
                )
            )
            values[name] = DEFAULTS[name]
    credentials = values["ALLOW_CREDENTIALS"]
    allow_insecure = values["ALLOW_INSECURE_ORIGINS"]
    rules = _parse_origins(values["ALLOWED_ORIGINS"], credentials, allow_insecure, problems)
    methods = _parse_methods(values["ALLOW_METHODS"], credentials, problems)
    allow_headers = _parse_allow_headers(values["ALLOW_HEADERS"], credentials, problems)
    expose_headers = _parse_expose_headers(values["EXPOSE_HEADERS"], credentials, problems)
    max_age = values["PREFLIGHT_MAX_AGE"]
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= MAX_PREFLIGHT_AGE:
        problems.append(
            Problem(
                "credcors.E008",
                f"{_key('PREFLIGHT_MAX_AGE')} must be a whole number of seconds from 0 to {MAX_PREFLIGHT_AGE}, "
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
                f"{_key('REFRESH_SECONDS')} must be a number of seconds above 0 and at most "
                f"{MAX_REFRESH_SECONDS}, not {refresh!r}.",
                "It bounds how long a process may serve a stale allow-list; the default is 5.",
            )
        )
        refresh = DEFAULTS["REFRESH_SECONDS"]
    cache_alias = _parse_cache_alias(values["CACHE_ALIAS"], problems)
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
        problems=tuple(problems),
    )


def _example(name: str) -> str:
    return {
        "ALLOWED_ORIGINS": "https://app.example.com",
        "ALLOW_METHODS": "GET",
        "ALLOW_HEADERS": "content-type",
        "EXPOSE_HEADERS": "x-request-id",
    }[name]


def _parse_origins(
    values: list[str], credentials: bool, allow_insecure: bool, problems: list[Problem]
) -> tuple[Rule, ...]:
    rules: dict[str, Rule] = {}
    for value in values:
        try:
            rule = parse_rule(value, allow_insecure=allow_insecure, credentials=credentials)
        except OriginError as exc:
            problems.append(Problem("credcors.E004", f"{_key('ALLOWED_ORIGINS')}: {exc.message}", exc.hint))
            continue
        canonical = rule.serialize()
        if canonical in rules:
            problems.append(
                Problem(
                    "credcors.W002",
                    f"{_key('ALLOWED_ORIGINS')} lists {canonical!r} more than once (as {value!r}).",
                    "Remove the duplicate.",
                )
            )
            continue
        if rule.scheme == "http" and allow_insecure and credentials and not is_potentially_trustworthy_host(rule.host):
            problems.append(
                Problem(
                    "credcors.W003",
                    f"{_key('ALLOWED_ORIGINS')} allows the insecure origin {canonical!r} with credentials.",
                    "Anyone on the network path can impersonate it and read credentialed responses; "
                    "serve it over https://.",
                )
            )
        rules[canonical] = rule
    return tuple(rules.values())


def _parse_methods(values: list[str], credentials: bool, problems: list[Problem]) -> tuple[str, ...]:
    methods: list[str] = []
    for value in values:
        if value == "*" and credentials:
            problems.append(
                Problem(
                    "credcors.E005",
                    f"{_key('ALLOW_METHODS')} contains '*', which is not a wildcard for credentialed requests.",
                    "Fetch treats it as a method literally named '*'; list the methods you serve.",
                )
            )
        elif not _TOKEN_RE.fullmatch(value) or value.upper() in _FORBIDDEN_METHODS:
            problems.append(
                Problem(
                    "credcors.E005",
                    f"{_key('ALLOW_METHODS')} contains {value!r}, which browsers never send cross-origin.",
                    "Remove it; CONNECT, TRACE and TRACK are forbidden methods, and a method is an HTTP token.",
                )
            )
        else:
            # Browsers upper-case the six standard methods before sending them.
            methods.append(value.upper() if value.upper() in _STANDARD_METHODS else value)
    return tuple(dict.fromkeys(methods))


_STANDARD_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})


def _parse_allow_headers(values: list[str], credentials: bool, problems: list[Problem]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        name = value.lower()
        if name == "*" and credentials:
            problems.append(
                Problem(
                    "credcors.E006",
                    f"{_key('ALLOW_HEADERS')} contains '*', which is not a wildcard for credentialed requests.",
                    "Fetch treats it as a header literally named '*'; list the request headers you accept.",
                )
            )
        elif not _TOKEN_RE.fullmatch(name) or is_forbidden_request_header(name):
            problems.append(
                Problem(
                    "credcors.E006",
                    f"{_key('ALLOW_HEADERS')} contains {value!r}, which scripts can never set.",
                    "Remove it: it is a forbidden request-header name (Fetch §2.2.2) or not a header name.",
                )
            )
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))


def _parse_expose_headers(values: list[str], credentials: bool, problems: list[Problem]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        name = value.lower()
        if (name == "*" and credentials) or name in ("set-cookie", "set-cookie2") or not _TOKEN_RE.fullmatch(name):
            problems.append(
                Problem(
                    "credcors.E007",
                    f"{_key('EXPOSE_HEADERS')} contains {value!r}, which cannot be exposed to scripts.",
                    "Browsers never expose Set-Cookie, and '*' is no wildcard with credentials; "
                    "list the response headers scripts may read.",
                )
            )
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))


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
            f"{_key('URLS_REGEX')} {value!r} {problem}.",
            r'Write a pattern matched against request.path_info, e.g. r"^/api/", or None for all paths.',
        )
    )
    # Fail closed: with no readable pattern, CORS applies to no path.
    return re.compile(r"(?!)")


def _parse_cache_alias(value: object, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    caches = getattr(settings, "CACHES", None) or {}
    if not isinstance(value, str):
        problems.append(
            Problem(
                "credcors.E003",
                f"{_key('CACHE_ALIAS')} must be the name of a cache in settings.CACHES, or None, not {value!r}.",
                f'Write {_key("CACHE_ALIAS")} = "default" (a Redis cache every process shares), or leave it out.',
            )
        )
        return None
    if value not in caches:
        problems.append(
            Problem(
                "credcors.E013",
                f"{_key('CACHE_ALIAS')} is {value!r}, which is not a cache in settings.CACHES "
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
                f"{_key('CACHE_ALIAS')} names the cache {value!r}, whose backend {backend!r} is not shared "
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
                f"The cache {value!r} named by {_key('CACHE_ALIAS')} sets no socket_timeout and "
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
        config = _config = parse_config(getattr(settings, "CREDCORS", {}))
    return config


def reset() -> None:
    """Forget the parsed config (connected to ``setting_changed``)."""
    global _config
    _config = None
