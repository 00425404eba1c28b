"""System checks: every configuration mistake is reported at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from credcors.conf import parse_config

__all__ = ["check_csrf_middleware", "check_middleware", "check_settings", "register"]

MIDDLEWARE_PATH = "credcors.middleware.CredCorsMiddleware"
COMMON_MIDDLEWARE_PATH = "django.middleware.common.CommonMiddleware"
CSRF_MIDDLEWARE_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.CREDCORS``."""
    config = parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None))
    messages: list[checks.CheckMessage] = []
    for problem in config.problems:
        level = checks.Error if problem.is_error else checks.Warning
        messages.append(level(problem.msg, hint=problem.hint, id=problem.id))
    return messages


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


def register() -> None:
    checks.register(check_settings, "credcors")
    checks.register(check_middleware, "credcors")
    checks.register(check_csrf_middleware, "credcors")
