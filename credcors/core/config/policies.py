"""Validate the keys that describe a response, for the default policy and each of ``POLICIES``.

The top level of ``settings.CREDCORS`` is the policy named ``"default"``;
``CREDCORS["POLICIES"]`` names others.  A named policy takes only the keys
in :data:`POLICY_KEYS`.  Of those, the ones that say what an allowed response
looks like (:data:`INHERITED`) come from the default policy when the named
policy does not set them.  Who may call (``ALLOWED_ORIGINS``,
``ALLOW_ALL_ORIGINS``, ``USE_DATABASE``) and whether credentials are allowed
are never inherited: a named policy allows nobody, and no credentials, unless
it says so itself (:data:`NAMED_DEFAULTS`).  Whatever is invalid is left
out, so a mistake can only make a policy refuse more.  Pure: no Django.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from credcors.core.catalogue import Problem, key
from credcors.core.config.entries import parse_allow_headers, parse_expose_headers, parse_methods, parse_origins
from credcors.core.origins import Rule
from credcors.core.scopes import ScopeError, parse_scopes

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_PREFLIGHT_MAX_AGE",
    "INHERITED",
    "MAX_PREFLIGHT_AGE",
    "NAMED_DEFAULTS",
    "POLICY_KEYS",
    "PolicyConfig",
    "is_policy_name",
    "parse_policies",
    "parse_policy",
]

#: The name of the policy the top-level keys describe; views without one use it.
DEFAULT_POLICY = "default"

#: The most PREFLIGHT_MAX_AGE may say: Firefox's cap (Chromium caps at 7200 s).
MAX_PREFLIGHT_AGE = 86400
#: While a preflight is cached the browser sends preflighted writes without
#: asking again, so a short default bounds how long a disabled origin can
#: keep doing that.
DEFAULT_PREFLIGHT_MAX_AGE = 600

#: The keys a named policy takes.
POLICY_KEYS = (
    "ALLOWED_ORIGINS",
    "ALLOW_ALL_ORIGINS",
    "ALLOW_CREDENTIALS",
    "ALLOW_METHODS",
    "ALLOW_HEADERS",
    "EXPOSE_HEADERS",
    "PREFLIGHT_MAX_AGE",
    "USE_DATABASE",
    "WEBSOCKET_ALLOW_NO_ORIGIN",
    "HOSTS",
)
#: The lists a named policy takes from the default policy when it does not
#: set them: each key's parser, and the PolicyConfig field it fills.
_INHERITED_LISTS = {
    "ALLOW_METHODS": (parse_methods, "allow_methods"),
    "ALLOW_HEADERS": (parse_allow_headers, "allow_headers"),
    "EXPOSE_HEADERS": (parse_expose_headers, "expose_headers"),
}
#: What a named policy takes from the default policy when it does not set it.
INHERITED = (*_INHERITED_LISTS, "PREFLIGHT_MAX_AGE")
#: What a named policy has when it does not say: nobody, and no credentials.
NAMED_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "ALLOWED_ORIGINS": [],
        "ALLOW_ALL_ORIGINS": False,
        "ALLOW_CREDENTIALS": False,
        "USE_DATABASE": False,
        "WEBSOCKET_ALLOW_NO_ORIGIN": False,
    }
)

_LIST_KEYS = ("ALLOWED_ORIGINS", "ALLOW_METHODS", "ALLOW_HEADERS", "EXPOSE_HEADERS")
_BOOL_KEYS = ("ALLOW_ALL_ORIGINS", "ALLOW_CREDENTIALS", "USE_DATABASE", "WEBSOCKET_ALLOW_NO_ORIGIN")
#: Booleans whose invalid value falls back to False in the default policy too
#: (fail closed), where the others keep 0.1's True.
_FALSE_FALLBACK = ("ALLOW_ALL_ORIGINS", "WEBSOCKET_ALLOW_NO_ORIGIN")
# Short enough for a database column and a log line; no spaces or quotes.
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_EXAMPLES = {
    "ALLOWED_ORIGINS": "https://app.example.com",
    "ALLOW_METHODS": "GET",
    "ALLOW_HEADERS": "content-type",
    "EXPOSE_HEADERS": "x-request-id",
}


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """One validated policy: who may call, and what an allowed response says."""

    name: str
    rules: tuple[Rule, ...]
    allow_all: bool
    credentials: bool
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int
    use_database: bool
    #: Whether a WebSocket handshake without ``Origin`` (never a browser's:
    #: browsers always send one) reaches the application.
    websocket_allow_no_origin: bool = False
    #: The exact settings origins Django's CSRF check may trust on this
    #: policy's views (``TRUST_FOR_CSRF``); empty without credentials.
    csrf_origins: frozenset[str] = frozenset()
    #: Whether every exact row of this policy is trusted for CSRF, its box
    #: ticked or not (``TRUST_FOR_CSRF: True``, on the default policy).
    trust_rows: bool = False
    #: The request hosts its settings origins apply on (``HOSTS``, see
    #: :mod:`credcors.core.scopes`); ``None``: every host.  Rows carry their own.
    hosts: tuple[str, ...] | None = None

    @property
    def takes_rows(self) -> bool:
        """Whether ``AllowedOrigin`` rows allow anything here: it reads them and lists its origins (not ``*``)."""
        return self.use_database and not self.allow_all


def is_policy_name(value: object) -> bool:
    """Whether ``value`` may name a policy (the default's name included)."""
    return isinstance(value, str) and _NAME_RE.fullmatch(value) is not None


def parse_policy(
    raw: Mapping[str, Any],
    problems: list[Problem],
    *,
    name: str = DEFAULT_POLICY,
    allow_insecure: bool = False,
    base: PolicyConfig | None = None,
    debug: bool = False,
) -> PolicyConfig:
    """Validate one policy's keys; ``base`` is the default policy a named one inherits from.

    For the default policy (``base`` None) ``raw`` must hold every key but
    ``ALLOW_ALL_ORIGINS``, defaults filled in.
    """
    policy = None if base is None else name  # How key() names the setting.
    lists: dict[str, list[str]] = {}
    for item in _LIST_KEYS:
        if item not in raw:
            continue
        value = raw[item]
        if not isinstance(value, (list, tuple)) or not all(isinstance(entry, str) for entry in value):
            problems.append(
                Problem(
                    "credcors.E003",
                    f"{key(item, policy)} must be a list of strings, not {value!r}.",
                    f'Write a list, e.g. {key(item, policy)} = ["{_EXAMPLES[item]}"].',
                )
            )
            # Fail closed: a list we cannot read allows (or exposes) nothing.
            value = []
        lists[item] = list(value)
    flags: dict[str, bool] = {}
    for item in _BOOL_KEYS:
        fallback = NAMED_DEFAULTS[item] if base is not None or item == "ALLOW_ALL_ORIGINS" else raw[item]
        value = raw.get(item, fallback)
        if not isinstance(value, bool):
            problems.append(
                Problem(
                    "credcors.E015",
                    f"{key(item, policy)} must be True or False, not {value!r}.",
                    f"Write {key(item, policy)} = {_bool_fallback(item, base)!r}.",
                )
            )
            value = _bool_fallback(item, base)
        flags[item] = value
    credentials = flags["ALLOW_CREDENTIALS"]
    allow_all = flags["ALLOW_ALL_ORIGINS"]
    if allow_all and credentials:
        problems.append(
            Problem(
                "credcors.E019",
                f"{key('ALLOW_ALL_ORIGINS', policy)} is True together with {key('ALLOW_CREDENTIALS', policy)}: "
                "browsers never send credentials to a response that allows every origin ('*'), "
                "and echoing any origin with credentials would let every site read your users' data.",
                f"Set {key('ALLOW_CREDENTIALS', policy)} = False for a public policy, "
                "or list the origins in ALLOWED_ORIGINS instead.",
            )
        )
        allow_all = False  # Fail closed: the policy allows only what it lists.
    rules = parse_origins(lists.get("ALLOWED_ORIGINS", []), credentials, allow_insecure, problems, policy, debug=debug)
    inherited: dict[str, tuple[str, ...]] = {
        field: parse(lists[item], credentials, problems, policy)
        if item in lists or base is None
        else getattr(base, field)
        for item, (parse, field) in _INHERITED_LISTS.items()
    }
    return PolicyConfig(
        name=name,
        rules=rules,
        allow_all=allow_all,
        credentials=credentials,
        max_age=_parse_max_age(raw, problems, policy, base),
        use_database=flags["USE_DATABASE"],
        websocket_allow_no_origin=flags["WEBSOCKET_ALLOW_NO_ORIGIN"],
        allow_methods=inherited["allow_methods"],
        allow_headers=inherited["allow_headers"],
        expose_headers=inherited["expose_headers"],
        hosts=_parse_hosts(raw.get("HOSTS"), problems, policy),
    )


def _parse_hosts(value: object, problems: list[Problem], policy: str | None) -> tuple[str, ...] | None:
    # None (the default): every host.  Invalid entries are left out, so a
    # mistake narrows the policy's origins to fewer hosts, never to all.
    if value is None:
        return None
    example = f'{key("HOSTS", policy)} = ["api.example.com", ".customer.example.com"]'
    if not isinstance(value, (list, tuple)) or not all(isinstance(entry, str) for entry in value):
        problems.append(
            Problem(
                "credcors.E029",
                f"{key('HOSTS', policy)} must be a list of hosts, not {value!r}; its origins apply on no host.",
                f"Write {example}, or None for every host.",
            )
        )
        return ()
    if not value:
        problems.append(
            Problem(
                "credcors.E029",
                f"{key('HOSTS', policy)} is empty, so its origins apply on no host.",
                f"Remove the key (or set it to None) for every host, or write {example}.",
            )
        )
        return ()
    hosts: list[str] = []
    for entry in value:
        try:
            hosts.extend(parse_scopes([entry]))
        except ScopeError as exc:
            problems.append(
                Problem(
                    "credcors.E029",
                    f"{key('HOSTS', policy)} has {entry[:80]!r}: {exc.problem}; it is left out.",
                    exc.hint,
                )
            )
    return tuple(sorted(set(hosts)))


def _bool_fallback(item: str, base: PolicyConfig | None) -> bool:
    # A named policy falls back to refusing; the default keeps 0.1's defaults.
    if base is not None or item in _FALSE_FALLBACK:
        return bool(NAMED_DEFAULTS[item])
    return True


def _parse_max_age(
    raw: Mapping[str, Any], problems: list[Problem], policy: str | None, base: PolicyConfig | None
) -> int:
    if "PREFLIGHT_MAX_AGE" not in raw:
        assert base is not None  # The default policy's raw holds every key.
        return base.max_age
    max_age = raw["PREFLIGHT_MAX_AGE"]
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= MAX_PREFLIGHT_AGE:
        problems.append(
            Problem(
                "credcors.E008",
                f"{key('PREFLIGHT_MAX_AGE', policy)} must be a whole number of seconds from 0 to "
                f"{MAX_PREFLIGHT_AGE}, not {max_age!r}.",
                f"Browsers cap it anyway (Chromium 7200, Firefox {MAX_PREFLIGHT_AGE}); "
                f"the default is {DEFAULT_PREFLIGHT_MAX_AGE}.",
            )
        )
        return DEFAULT_PREFLIGHT_MAX_AGE if base is None else base.max_age
    return max_age


def parse_policies(
    raw: object, default: PolicyConfig, problems: list[Problem], *, allow_insecure: bool = False, debug: bool = False
) -> Mapping[str, PolicyConfig]:
    """Validate ``CREDCORS["POLICIES"]`` into {name: policy}; invalid policies are left out."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping):
        problems.append(
            Problem(
                "credcors.E017",
                f'CREDCORS["POLICIES"] must be a dict of policy name to settings, not {type(raw).__name__}.',
                'Write "POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}}.',
            )
        )
        return MappingProxyType({})
    policies: dict[str, PolicyConfig] = {}
    for name, body in raw.items():
        if not is_policy_name(name) or name == DEFAULT_POLICY:
            why = (
                'the top-level keys of CREDCORS are the policy "default"'
                if name == DEFAULT_POLICY
                else "a policy's name is 1 to 64 letters, digits, '_', '-' or '.'"
            )
            problems.append(
                Problem(
                    "credcors.E017",
                    f'CREDCORS["POLICIES"] has a policy named {name!r}: {why}.',
                    'Rename it, e.g. "public" or "partners".',
                )
            )
            continue
        if not isinstance(body, Mapping):
            problems.append(
                Problem(
                    "credcors.E017",
                    f'CREDCORS["POLICIES"][{name!r}] must be a dict of settings, not {type(body).__name__}.',
                    f'Write "POLICIES": {{{name!r}: {{"ALLOWED_ORIGINS": ["https://partner.example.net"]}}}}.',
                )
            )
            continue
        for item in body:
            if item not in POLICY_KEYS:
                problems.append(_unknown_key(name, item))
        known = {item: value for item, value in body.items() if item in POLICY_KEYS}
        policies[name] = parse_policy(
            known, problems, name=name, allow_insecure=allow_insecure, base=default, debug=debug
        )
    return MappingProxyType(policies)


def _unknown_key(name: str, item: object) -> Problem:
    close = difflib.get_close_matches(str(item), POLICY_KEYS, n=1)
    suggestion = f"Did you mean {close[0]!r}? " if close else ""
    return Problem(
        "credcors.E018",
        f'Unknown key {item!r} in CREDCORS["POLICIES"][{name!r}]: it is ignored.',
        f"{suggestion}A policy takes {', '.join(POLICY_KEYS)}; the other settings apply to every policy "
        "and stay at the top level.",
    )
