"""Validate the list entries of ``settings.CREDCORS``: origins, methods and headers.

Each function takes the raw list, appends a :class:`~credcors.core.catalogue.Problem`
for every entry it refuses, and returns only the entries it accepts, so a bad
entry can only make credcors refuse more.  Pure: no Django.
"""

from __future__ import annotations

from credcors.core.catalogue import Problem, key
from credcors.core.fetch import FORBIDDEN_METHODS, is_forbidden_request_header, is_token, normalize_method
from credcors.core.hosts import is_potentially_trustworthy_host
from credcors.core.origins import ANY_PORT, DEV_ANY_PORT, OriginError, Rule, parse_rule

__all__ = ["parse_allow_headers", "parse_expose_headers", "parse_methods", "parse_origins"]


def parse_origins(
    values: list[str],
    credentials: bool,
    allow_insecure: bool,
    problems: list[Problem],
    policy: str | None = None,
    *,
    debug: bool = False,
) -> tuple[Rule, ...]:
    rules: dict[str, Rule] = {}
    for value in values:
        if value in DEV_ANY_PORT:
            # A development server on any port of this machine: only while
            # DEBUG is on, so a production settings file that kept it allows nothing.
            if not debug:
                problems.append(
                    Problem(
                        "credcors.W008",
                        f"{key('ALLOWED_ORIGINS', policy)} lists {value!r}, which matches nothing while "
                        "settings.DEBUG is off.",
                        "List the exact origins of your front ends for production; keep the any-port entry in "
                        "development settings only.",
                    )
                )
                continue
            host = value[len("http://") : -len(":*")]
            rules[value] = Rule("http", host, ANY_PORT)
            continue
        try:
            rule = parse_rule(value, allow_insecure=allow_insecure, credentials=credentials)
        except OriginError as exc:
            # The problem only: the check's hint says the fix, which exc.message repeats.
            problems.append(
                Problem(
                    "credcors.E004",
                    f"{key('ALLOWED_ORIGINS', policy)}: {exc.value!r} is not an allowed origin: {exc.problem}.",
                    exc.hint,
                )
            )
            continue
        canonical = rule.serialize()
        if canonical in rules:
            problems.append(
                Problem(
                    "credcors.W002",
                    f"{key('ALLOWED_ORIGINS', policy)} lists {canonical!r} more than once (as {value!r}).",
                    "Remove the duplicate.",
                )
            )
            continue
        if rule.scheme == "http" and allow_insecure and credentials and not is_potentially_trustworthy_host(rule.host):
            problems.append(
                Problem(
                    "credcors.W003",
                    f"{key('ALLOWED_ORIGINS', policy)} allows the insecure origin {canonical!r} with credentials.",
                    "Anyone on the network path can impersonate it and read credentialed responses; "
                    "serve it over https://.",
                )
            )
        rules[canonical] = rule
    return tuple(rules.values())


def parse_methods(
    values: list[str], credentials: bool, problems: list[Problem], policy: str | None = None
) -> tuple[str, ...]:
    methods: list[str] = []
    for value in values:
        if value == "*" and credentials:
            problems.append(
                Problem(
                    "credcors.E005",
                    f"{key('ALLOW_METHODS', policy)} contains '*', which is not a wildcard for credentialed requests.",
                    "Fetch treats it as a method literally named '*'; list the methods you serve.",
                )
            )
        elif not is_token(value) or value.upper() in FORBIDDEN_METHODS:
            problems.append(
                Problem(
                    "credcors.E005",
                    f"{key('ALLOW_METHODS', policy)} contains {value!r}, which browsers never send cross-origin.",
                    "Remove it; CONNECT, TRACE and TRACK are forbidden methods, and a method is an HTTP token.",
                )
            )
        else:
            # Browsers upper-case the six standard methods before sending them.
            methods.append(normalize_method(value))
    return tuple(dict.fromkeys(methods))


def parse_allow_headers(
    values: list[str], credentials: bool, problems: list[Problem], policy: str | None = None
) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        name = value.lower()
        if name == "*" and credentials:
            problems.append(
                Problem(
                    "credcors.E006",
                    f"{key('ALLOW_HEADERS', policy)} contains '*', which is not a wildcard for credentialed requests.",
                    "Fetch treats it as a header literally named '*'; list the request headers you accept.",
                )
            )
        elif not is_token(name) or is_forbidden_request_header(name):
            problems.append(
                Problem(
                    "credcors.E006",
                    f"{key('ALLOW_HEADERS', policy)} contains {value!r}, which scripts can never set.",
                    "Remove it: it is a forbidden request-header name (Fetch §2.2.2) or not a header name.",
                )
            )
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))


def parse_expose_headers(
    values: list[str], credentials: bool, problems: list[Problem], policy: str | None = None
) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        name = value.lower()
        if (name == "*" and credentials) or name in ("set-cookie", "set-cookie2") or not is_token(name):
            problems.append(
                Problem(
                    "credcors.E007",
                    f"{key('EXPOSE_HEADERS', policy)} contains {value!r}, which cannot be exposed to scripts.",
                    "Browsers never expose Set-Cookie, and '*' is no wildcard with credentials; "
                    "list the response headers scripts may read.",
                )
            )
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))
