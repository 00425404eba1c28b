"""System checks: every configuration mistake is reported at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from credcors.conf import parse_config

__all__ = ["check_middleware", "check_settings", "register"]

MIDDLEWARE_PATH = "credcors.middleware.CredCorsMiddleware"
COMMON_MIDDLEWARE_PATH = "django.middleware.common.CommonMiddleware"


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.CREDCORS``."""
    config = parse_config(getattr(settings, "CREDCORS", {}))
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


def register() -> None:
    checks.register(check_settings, "credcors")
    checks.register(check_middleware, "credcors")
