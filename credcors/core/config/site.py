"""The keys of ``settings.CREDCORS`` that apply to the whole site, not to one policy.

``TRUST_FOR_CSRF`` (which exact origins Django's CSRF check may trust),
``URLS_REGEX`` (where credcors acts at all), ``CACHE_ALIAS`` (the cache
processes share) and ``MAX_STALE_SECONDS`` (how long a process serves rows
the database has not confirmed).  Pure, like :mod:`credcors.conf`, which calls them: each
takes the raw value and appends a :class:`~credcors.core.catalogue.Problem` for
what it leaves out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from credcors.core.catalogue import Problem, key
from credcors.core.config.policies import PolicyConfig
from credcors.core.origins import ANY_PORT, OriginError, parse_rule

__all__ = ["parse_cache_alias", "parse_max_stale", "parse_trust", "parse_urls_regex"]

# Caches every process sees separately (or not at all): naming one in
# CACHE_ALIAS would silently make nothing faster.
_PER_PROCESS_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def parse_trust(value: object, policies: Sequence[PolicyConfig], problems: list[Problem]) -> tuple[PolicyConfig, ...]:
    """``policies`` (the default first) with the CSRF trust ``TRUST_FOR_CSRF`` gives each.

    True: every exact origin of the default policy, settings and rows (0.1's
    meaning); a list: those exact settings origins only, each trusted on
    the views of the policies with credentials that list it.  Reading is
    not writing: an origin may be allowed to read without being trusted to
    write.  A policy without credentials, or ``*``, trusts nobody.
    """
    if value is True:
        default, *named = policies
        return (_trusting(default, _exact(default), every_row=True), *named)
    if value is False:
        return tuple(policies)
    hint = (
        f"Write {key('TRUST_FOR_CSRF')} = True for every exact origin of ALLOWED_ORIGINS, or a list of "
        'some of them, e.g. ["https://app.example.com"].'
    )
    if not isinstance(value, (list, tuple)):
        problems.append(
            Problem(
                "credcors.E021",
                f"{key('TRUST_FOR_CSRF')} must be True, False or a list of exact origins, not {value!r}.",
                hint,
            )
        )
        return tuple(policies)
    listed = set().union(*(_exact(policy) for policy in policies))
    trusted: set[str] = set()
    for entry in value:
        try:
            origin = parse_rule(entry, allow_insecure=True).serialize()
        except OriginError:
            origin = None
        if origin not in listed:
            problems.append(
                Problem(
                    "credcors.E021",
                    f"{key('TRUST_FOR_CSRF')} lists {entry!r}, which is not an exact origin of the "
                    f"{key('ALLOWED_ORIGINS')} of a policy that sends credentials.",
                    "Only exact origins a policy with ALLOW_CREDENTIALS allows can be trusted for CSRF (never a *. "
                    "pattern, never in a policy without credentials); mark database rows with their own "
                    "trust_for_csrf field.",
                )
            )
            continue
        assert origin is not None
        trusted.add(origin)
    return tuple(_trusting(policy, _exact(policy) & trusted) for policy in policies)


def _exact(policy: PolicyConfig) -> frozenset[str]:
    # The settings origins of a policy that may be trusted at all: exact, with credentials, not "*".
    if not policy.credentials or policy.allow_all:
        return frozenset()
    return frozenset(rule.serialize() for rule in policy.rules if not rule.wildcard and rule.port != ANY_PORT)


def _trusting(policy: PolicyConfig, origins: frozenset[str], *, every_row: bool = False) -> PolicyConfig:
    if not origins and not every_row:
        return policy
    return replace(policy, csrf_origins=origins, trust_rows=every_row and policy.credentials)


def parse_urls_regex(value: object, problems: list[Problem]) -> re.Pattern[str] | None:
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


def parse_cache_alias(value: object, caches: Mapping[str, Any], problems: list[Problem]) -> str | None:
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


def parse_max_stale(value: object, refresh: float, problems: list[Problem]) -> float | None:
    """``MAX_STALE_SECONDS`` as seconds, ``None`` (off); ``refresh`` is the valid ``REFRESH_SECONDS``.

    One value for the whole site, not one per policy: a process learns every
    policy's rows from one poll, so they all go unconfirmed at once.
    """
    if value is None:
        return None
    # Fail closed: whoever set the key asked for a bound, so a mistake keeps
    # one: twice REFRESH_SECONDS gives each poll an interval to answer.
    fallback = 2 * refresh
    name = key("MAX_STALE_SECONDS")
    example = max(60.0, 4 * refresh)
    meanwhile = f"until it is fixed, a process drops its database rows after {fallback:g} s without the database."
    # NaN, infinity and an int too large for a float fail the range test.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= sys.float_info.max:
        problems.append(
            Problem(
                "credcors.E027",
                f"{name} must be a number of seconds above 0, or None, not {value!r}; {meanwhile}",
                f"Write {name} = {example:g} to serve only the settings' origins once a process has not heard "
                "from the database for that long, or None to serve the rows loaded last for the whole outage.",
            )
        )
        return fallback
    if value <= refresh:
        problems.append(
            Problem(
                "credcors.E028",
                f"{name} is {value!r}, which is not greater than {key('REFRESH_SECONDS')} ({refresh:g}): every "
                f"process would drop its database rows before its next poll could answer; {meanwhile}",
                f"Write a number of seconds greater than {key('REFRESH_SECONDS')}, such as {example:g} "
                "(a few polls), or lower REFRESH_SECONDS.",
            )
        )
        return fallback
    return float(value)
