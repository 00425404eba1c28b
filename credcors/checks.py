"""System checks: every configuration mistake is reported at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from credcors.catalogue import Problem
from credcors.conf import parse_config
from credcors.cookie_settings import api_http, django_api_hosts, django_cookies
from credcors.origins import OriginError, Rule, parse_rule
from credcors.readiness import cookie_findings

__all__ = [
    "check_cookie_rows",
    "check_cookies",
    "check_csrf_middleware",
    "check_middleware",
    "check_settings",
    "register",
]

MIDDLEWARE_PATH = "credcors.middleware.CredCorsMiddleware"
COMMON_MIDDLEWARE_PATH = "django.middleware.common.CommonMiddleware"
CSRF_MIDDLEWARE_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.CREDCORS``."""
    return _messages(parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None)).problems)


def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The middleware must be installed, and above ``CommonMiddleware``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if MIDDLEWARE_PATH not in middleware:
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} is not in settings.MIDDLEWARE, so credcors never runs.",
                hint=f"Add {MIDDLEWARE_PATH!r} near the top of MIDDLEWARE, above {COMMON_MIDDLEWARE_PATH!r}.",
                id="credcors.E011",
            )
        ]
    if COMMON_MIDDLEWARE_PATH in middleware and middleware.index(COMMON_MIDDLEWARE_PATH) < middleware.index(
        MIDDLEWARE_PATH
    ):
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} is below {COMMON_MIDDLEWARE_PATH!r} in settings.MIDDLEWARE.",
                hint="CommonMiddleware can answer early (APPEND_SLASH redirects) without CORS headers; "
                "move credcors above it.",
                id="credcors.E012",
            )
        ]
    return []


def check_csrf_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``TRUST_FOR_CSRF`` does nothing unless credcors' CSRF middleware runs."""
    if not parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None)).trust_for_csrf:
        return []
    from credcors.csrf import CredCorsCsrfViewMiddleware

    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            if path == CSRF_MIDDLEWARE_PATH or issubclass(import_string(path), CredCorsCsrfViewMiddleware):
                return []
        except (ImportError, TypeError):
            continue
    return [
        checks.Warning(
            f'CREDCORS["TRUST_FOR_CSRF"] is True but {CSRF_MIDDLEWARE_PATH!r} is not in settings.MIDDLEWARE, '
            "so Django's CSRF check still refuses unsafe requests from allowed origins.",
            hint=f"Replace 'django.middleware.csrf.CsrfViewMiddleware' with {CSRF_MIDDLEWARE_PATH!r} in MIDDLEWARE.",
            id="credcors.W004",
        )
    ]


def _messages(problems: Iterable[Problem]) -> list[checks.CheckMessage]:
    levels = {"E": checks.Error, "W": checks.Warning, "I": checks.Info}
    return [levels[problem.id[9]](problem.msg, hint=problem.hint, id=problem.id) for problem in problems]


def check_cookies(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Will the session and CSRF cookies travel on credentialed requests from the allowed origins?

    Compares each origin of ``CREDCORS["ALLOWED_ORIGINS"]`` with the API's
    site, known from the concrete entries of ``ALLOWED_HOSTS``.
    """
    config = parse_config(getattr(settings, "CREDCORS", {}))
    if not config.credentials:
        return []
    hosts = django_api_hosts()
    cookies = django_cookies()
    findings = cookie_findings(config.rules, hosts, cookies, http=api_http(config, cookies))
    return _messages(findings)


def check_cookie_rows(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """:func:`check_cookies` for the enabled ``AllowedOrigin`` rows (``check --database``)."""
    config = parse_config(getattr(settings, "CREDCORS", {}))
    if not databases or not config.credentials or not config.use_database:
        return []
    from django.db import DatabaseError

    from credcors.models import AllowedOrigin

    rules: list[Rule] = []
    for alias in databases:
        try:
            origins = list(AllowedOrigin.objects.using(alias).filter(enabled=True).values_list("origin", flat=True))
        except DatabaseError:
            # Not migrated yet: ``migrate`` runs the database checks before it creates the table.
            continue
        for origin in origins:
            try:
                rules.append(parse_rule(origin, allow_insecure=True))
            except OriginError:
                continue  # A row that slipped past the model's validator allows nothing; see load_rows.
    hosts = django_api_hosts()
    cookies = django_cookies()
    http = api_http(config, cookies)
    findings = cookie_findings(rules, hosts, cookies, http=http, dropped_cookies=False)
    # The settings' own origins already got the third-party cookie note from check_cookies.
    if any(finding.id == "credcors.I001" for finding in cookie_findings(config.rules, hosts, cookies, http=http)):
        findings = [finding for finding in findings if finding.id != "credcors.I001"]
    return _messages(findings)


def register() -> None:
    checks.register(check_settings, "credcors")
    checks.register(check_middleware, "credcors")
    checks.register(check_csrf_middleware, "credcors")
    checks.register(check_cookies, "credcors")
    checks.register(check_cookie_rows, "credcors", checks.Tags.database)
