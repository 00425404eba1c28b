"""Validate the ``CREDCORS`` settings dict into a frozen :class:`Config`.

:func:`parse_config` is pure: it takes the raw value and ``settings.CACHES``
and never reads Django's settings itself; :func:`credcors.conf.get_config` does
that, once per settings change.  Validation produces :class:`~credcors.core.catalogue.Problem`
values; ``checks.py`` turns them into system-check messages.  Whatever is
invalid is left out of the config, so a bad entry can only make credcors
refuse more, never allow more.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from credcors.core.catalogue import Problem, key
from credcors.core.config.policies import (
    DEFAULT_POLICY,
    DEFAULT_PREFLIGHT_MAX_AGE,
    MAX_PREFLIGHT_AGE,
    POLICY_KEYS,
    PolicyConfig,
    parse_policies,
    parse_policy,
)
from credcors.core.config.refused import REFUSED_DEFAULTS, RefusedSettings, parse_refused_settings
from credcors.core.config.site import parse_cache_alias, parse_max_stale, parse_trust, parse_urls_regex

__all__ = ["DEFAULTS", "DEFAULT_POLICY", "MAX_PREFLIGHT_AGE", "Config", "parse_config"]

DEFAULTS: Mapping[str, Any] = {
    "ALLOWED_ORIGINS": [],
    "ALLOW_CREDENTIALS": True,
    "ALLOW_METHODS": ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"],
    "ALLOW_HEADERS": ["accept", "authorization", "content-type", "x-csrftoken", "x-requested-with"],
    "EXPOSE_HEADERS": [],
    "PREFLIGHT_MAX_AGE": DEFAULT_PREFLIGHT_MAX_AGE,
    "URLS_REGEX": None,
    "USE_DATABASE": True,
    "WEBSOCKET_ALLOW_NO_ORIGIN": False,
    "HOSTS": None,
    "REFRESH_SECONDS": 5,
    "ALLOW_INSECURE_ORIGINS": False,
    "TRUST_FOR_CSRF": False,
    "CACHE_ALIAS": None,
    "MAX_STALE_SECONDS": None,
    "POLICIES": None,
    **REFUSED_DEFAULTS,
}

MAX_REFRESH_SECONDS = 3600
#: The default policy's keys of an empty CREDCORS, defaults filled in.
_DEFAULT_POLICY_RAW: Mapping[str, Any] = MappingProxyType(
    {name: DEFAULTS[name] for name in POLICY_KEYS if name in DEFAULTS}
)
_NOT_RECORDING = RefusedSettings()


def _blank_policies() -> Mapping[str, PolicyConfig]:
    # The default policy of an empty CREDCORS, for a Config() made without settings.
    return MappingProxyType({DEFAULT_POLICY: parse_policy(_DEFAULT_POLICY_RAW, [])})


@dataclass(frozen=True, slots=True)
class Config:
    """The validated CREDCORS settings; invalid entries are left out.

    ``policies`` holds every policy, the top-level keys' ``"default"`` first,
    each an ordinary :class:`PolicyConfig`; the other fields are the keys
    that apply to the whole site.
    """

    #: Every policy by name, ``"default"`` (the top-level keys) first.
    policies: Mapping[str, PolicyConfig] = field(default_factory=_blank_policies)
    urls_regex: re.Pattern[str] | None = None
    refresh_seconds: float = DEFAULTS["REFRESH_SECONDS"]
    allow_insecure: bool = False
    cache_alias: str | None = None
    #: How long a process may serve database rows without hearing from the
    #: database; ``None``: for the whole of an outage.
    max_stale_seconds: float | None = None
    refused: RefusedSettings = _NOT_RECORDING
    #: ``settings.DEBUG`` when the config was parsed (a change of it parses again).
    debug: bool = False
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def applies_to(self, path_info: str) -> bool:
        """Whether CORS handling covers this ``request.path_info``."""
        return self.urls_regex is None or self.urls_regex.match(path_info) is not None

    @property
    def default_policy(self) -> PolicyConfig:
        """The policy of the top-level keys, which views without a policy of their own use."""
        return self.policies[DEFAULT_POLICY]

    def policy(self, name: str) -> PolicyConfig | None:
        """The policy named ``name``, the default one included; ``None`` for one not configured."""
        return self.policies.get(name)

    def takes_rows(self, name: str) -> bool:
        """Whether ``AllowedOrigin`` rows of the policy ``name`` allow anything.

        Only a configured policy that reads the database (``USE_DATABASE``)
        and lists its origins: one that answers every origin with ``*`` takes
        no rows.
        """
        policy = self.policies.get(name)
        return policy is not None and policy.takes_rows

    @property
    def reads_database(self) -> bool:
        """Whether any policy reads ``AllowedOrigin`` rows."""
        return any(policy.use_database for policy in self.policies.values())

    @property
    def policy_names(self) -> tuple[str, ...]:
        """Every policy a view or row may name, the default first."""
        return tuple(self.policies)

    @property
    def trusts_any_for_csrf(self) -> bool:
        """Whether ``TRUST_FOR_CSRF`` trusts any origin of any policy."""
        return any(policy.csrf_origins or policy.trust_rows for policy in self.policies.values())

    @property
    def views_name_policies(self) -> bool:
        """Whether a view's policy can be other than the default (``POLICIES`` names one)."""
        return len(self.policies) > 1


def parse_config(raw: object, caches: Mapping[str, Any] | None = None, *, debug: bool = False) -> Config:
    """Validate a CREDCORS value; never raises, records problems instead.

    ``caches`` is ``settings.CACHES``, which ``CACHE_ALIAS`` must name;
    ``debug`` is ``settings.DEBUG``, under which ``http://localhost:*`` allows
    any port.
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
        closed = replace(_blank_policies()[DEFAULT_POLICY], use_database=False)
        return Config(policies=MappingProxyType({DEFAULT_POLICY: closed}), problems=tuple(problems))
    for name in raw:
        if name not in DEFAULTS and name != "ALLOW_ALL_ORIGINS":  # That one is E019.
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
    allow_insecure = values["ALLOW_INSECURE_ORIGINS"]
    if not isinstance(allow_insecure, bool):
        problems.append(_not_bool("ALLOW_INSECURE_ORIGINS", allow_insecure))
        allow_insecure = False
    if not isinstance(values["RECORD_REFUSED"], bool):
        problems.append(_not_bool("RECORD_REFUSED", values["RECORD_REFUSED"]))
        values["RECORD_REFUSED"] = False
    if "ALLOW_ALL_ORIGINS" in raw:
        problems.append(
            Problem(
                "credcors.E019",
                f"{key('ALLOW_ALL_ORIGINS')} is set at the top level, which is the default policy: "
                "every view without a policy of its own would answer every site.",
                'Put it in a named policy, e.g. "POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True, '
                '"ALLOW_CREDENTIALS": False}}, and mark the public views with @cors_policy("public").',
            )
        )
    response = {name: values[name] for name in POLICY_KEYS if name in values}
    default = parse_policy(response, problems, allow_insecure=allow_insecure, debug=debug)
    policies = parse_policies(raw.get("POLICIES"), default, problems, allow_insecure=allow_insecure, debug=debug)
    every = parse_trust(values["TRUST_FOR_CSRF"], (default, *policies.values()), problems)
    urls_regex = parse_urls_regex(values["URLS_REGEX"], problems)
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
    max_stale = parse_max_stale(values["MAX_STALE_SECONDS"], float(refresh), problems)
    cache_alias = parse_cache_alias(values["CACHE_ALIAS"], caches or {}, problems)
    refused = parse_refused_settings(values, problems)
    if not values["ALLOWED_ORIGINS"] and values["USE_DATABASE"] is False:
        problems.append(
            Problem(
                "credcors.W001",
                'CREDCORS allows no origin: "ALLOWED_ORIGINS" is empty and "USE_DATABASE" is False.',
                "List origins in ALLOWED_ORIGINS, or set USE_DATABASE = True and add AllowedOrigin rows.",
            )
        )
    return Config(
        policies=MappingProxyType({policy.name: policy for policy in every}),
        urls_regex=urls_regex,
        refresh_seconds=float(refresh),
        max_stale_seconds=max_stale,
        allow_insecure=allow_insecure,
        cache_alias=cache_alias,
        refused=refused,
        debug=debug,
        problems=tuple(problems),
    )


def _not_bool(name: str, value: object) -> Problem:
    return Problem(
        "credcors.E015",
        f"{key(name)} must be True or False, not {value!r}.",
        f"Write {key(name)} = {DEFAULTS[name]!r}.",
    )
