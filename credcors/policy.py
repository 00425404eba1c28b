"""The CORS protocol, as the WHATWG Fetch standard defines it, for one request.

:func:`decide` is the one decision function: the middleware, the admin's
"test an origin" page and the ``explain`` command all call it.  It is pure:
it takes plain strings and an immutable :class:`Policy` and returns a
:class:`Decision` that says whether the request is allowed, why, and exactly
which response headers to send.  It never imports Django.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from credcors.matcher import Matcher
from credcors.origins import MAX_ORIGIN_LENGTH, split_wire_origin

__all__ = [
    "ACCESS_CONTROL_ALLOW_CREDENTIALS",
    "ACCESS_CONTROL_ALLOW_HEADERS",
    "ACCESS_CONTROL_ALLOW_METHODS",
    "ACCESS_CONTROL_ALLOW_ORIGIN",
    "ACCESS_CONTROL_EXPOSE_HEADERS",
    "ACCESS_CONTROL_MAX_AGE",
    "MAX_REQUEST_HEADERS_LENGTH",
    "Decision",
    "Kind",
    "Policy",
    "Reason",
    "decide",
    "parse_request_headers",
]

ACCESS_CONTROL_ALLOW_ORIGIN = "access-control-allow-origin"
ACCESS_CONTROL_ALLOW_CREDENTIALS = "access-control-allow-credentials"
ACCESS_CONTROL_ALLOW_METHODS = "access-control-allow-methods"
ACCESS_CONTROL_ALLOW_HEADERS = "access-control-allow-headers"
ACCESS_CONTROL_EXPOSE_HEADERS = "access-control-expose-headers"
ACCESS_CONTROL_MAX_AGE = "access-control-max-age"

#: Longest ``Access-Control-Request-Headers`` value worth reading.  Browsers
#: send the lowercase, sorted, comma-joined names of non-safelisted headers
#: (Fetch §4.8 "CORS-preflight fetch", step 5); 4 KiB is far beyond any real
#: application and keeps a hostile value's cost to microseconds.
MAX_REQUEST_HEADERS_LENGTH = 4096

# RFC 9110 token: what a method or header name may be made of.
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_IPV6_ORIGIN_RE = re.compile(r"https?://\[[0-9a-f:.]{2,45}\](?::[1-9][0-9]{0,4})?")


class Kind(enum.Enum):
    """What the Fetch standard makes of a request."""

    NOT_CORS = "not-cors"  # No Origin header: not a CORS request at all.
    PREFLIGHT = "preflight"  # OPTIONS + Origin + Access-Control-Request-Method.
    ACTUAL = "actual"  # Any other request carrying Origin.


class Reason(enum.Enum):
    """Machine-readable cause of a decision; stable, used in logs and JSON."""

    NO_ORIGIN = "no-origin"
    ALLOWED = "allowed"
    NULL_ORIGIN = "null-origin"
    MULTIPLE_ORIGINS = "multiple-origins"
    ORIGIN_TOO_LONG = "origin-too-long"
    MALFORMED_ORIGIN = "malformed-origin"
    ORIGIN_NOT_ALLOWED = "origin-not-allowed"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    MALFORMED_METHOD = "malformed-method"
    HEADER_NOT_ALLOWED = "header-not-allowed"
    REQUEST_HEADERS_TOO_LONG = "request-headers-too-long"
    MALFORMED_REQUEST_HEADERS = "malformed-request-headers"


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a decision needs, precompiled once per snapshot."""

    matcher: Matcher
    allow_methods: frozenset[str]
    allow_headers: frozenset[str]
    credentials: bool
    allow_methods_value: str
    max_age_value: str
    expose_headers_value: str

    @classmethod
    def build(
        cls,
        matcher: Matcher,
        *,
        allow_methods: Iterable[str],
        allow_headers: Iterable[str],
        expose_headers: Iterable[str] = (),
        credentials: bool = True,
        max_age: int = 600,
    ) -> Policy:
        """Precompute header values so a request only copies strings."""
        methods = tuple(dict.fromkeys(allow_methods))
        headers = frozenset(name.lower() for name in allow_headers)
        return cls(
            matcher=matcher,
            allow_methods=frozenset(methods),
            allow_headers=headers,
            credentials=credentials,
            allow_methods_value=", ".join(methods),
            max_age_value=str(max_age),
            expose_headers_value=", ".join(dict.fromkeys(expose_headers)),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one request and the exact headers that carry it.

    ``detail`` names the refused method or header when there is one.  It is
    request input: callers that log or display it must quote it safely.
    """

    kind: Kind
    allowed: bool
    reason: Reason
    headers: tuple[tuple[str, str], ...] = ()
    rule: str | None = None
    source: str | None = None
    detail: str | None = None

    @property
    def status(self) -> int | None:
        """The status the middleware answers a preflight with, else None."""
        if self.kind is not Kind.PREFLIGHT:
            return None
        return 204 if self.allowed else 403


_NOT_CORS = Decision(Kind.NOT_CORS, allowed=False, reason=Reason.NO_ORIGIN)


def classify(method: str, origin: str | None, request_method: str | None) -> Kind:
    """Fetch §3.2.2: a CORS-preflight request is OPTIONS with Origin and ACRM."""
    if origin is None:
        return Kind.NOT_CORS
    if method == "OPTIONS" and request_method is not None:
        return Kind.PREFLIGHT
    return Kind.ACTUAL


def parse_request_headers(value: str) -> list[str] | None:
    """Split ``Access-Control-Request-Headers`` into lowercase names.

    Returns ``None`` when a name is not an HTTP token.  Callers bound the
    length first.
    """
    names = []
    for part in value.split(","):
        name = part.strip(" \t")
        if not name:
            continue
        if _TOKEN_RE.fullmatch(name) is None:
            return None
        names.append(name.lower())
    return names


def decide(
    policy: Policy,
    method: str,
    origin: str | None,
    request_method: str | None = None,
    request_headers: str | None = None,
) -> Decision:
    """Decide one request: allowed or refused, why, and the headers to send.

    ``origin``, ``request_method`` and ``request_headers`` are the raw
    ``Origin``, ``Access-Control-Request-Method`` and
    ``Access-Control-Request-Headers`` values, or ``None`` when absent.
    """
    kind = classify(method, origin, request_method)
    if kind is Kind.NOT_CORS or origin is None:
        return _NOT_CORS
    # Bound the work before anything else touches a hostile value.
    if len(origin) > MAX_ORIGIN_LENGTH:
        return Decision(kind, allowed=False, reason=Reason.ORIGIN_TOO_LONG)
    hit = policy.matcher.match(origin)
    if hit is None:
        return Decision(kind, allowed=False, reason=_refusal_reason(origin))
    rule, source = hit
    if kind is Kind.ACTUAL:
        headers: tuple[tuple[str, str], ...] = ((ACCESS_CONTROL_ALLOW_ORIGIN, origin),)
        if policy.credentials:
            headers += ((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),)
        if policy.expose_headers_value:
            headers += ((ACCESS_CONTROL_EXPOSE_HEADERS, policy.expose_headers_value),)
        return Decision(kind, allowed=True, reason=Reason.ALLOWED, headers=headers, rule=rule, source=source)
    return _decide_preflight(policy, origin, rule, source, request_method or "", request_headers)


def _decide_preflight(
    policy: Policy,
    origin: str,
    rule: str,
    source: str,
    request_method: str,
    request_headers: str | None,
) -> Decision:
    kind = Kind.PREFLIGHT
    refused = {"rule": rule, "source": source}
    # Methods are case-sensitive (Fetch §4.8: browsers normalize only the
    # standard six, so a script's "patch" stays "patch" and must not match).
    if request_method not in policy.allow_methods:
        if len(request_method) > 64 or _TOKEN_RE.fullmatch(request_method) is None:
            return Decision(kind, allowed=False, reason=Reason.MALFORMED_METHOD, **refused)
        return Decision(kind, allowed=False, reason=Reason.METHOD_NOT_ALLOWED, detail=request_method, **refused)
    headers: tuple[tuple[str, str], ...] = ((ACCESS_CONTROL_ALLOW_ORIGIN, origin),)
    if policy.credentials:
        headers += ((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),)
    headers += ((ACCESS_CONTROL_ALLOW_METHODS, policy.allow_methods_value),)
    if request_headers:
        if len(request_headers) > MAX_REQUEST_HEADERS_LENGTH:
            return Decision(kind, allowed=False, reason=Reason.REQUEST_HEADERS_TOO_LONG, **refused)
        names = parse_request_headers(request_headers)
        if names is None:
            return Decision(kind, allowed=False, reason=Reason.MALFORMED_REQUEST_HEADERS, **refused)
        allowed_headers = policy.allow_headers
        for name in names:
            if name not in allowed_headers:
                return Decision(kind, allowed=False, reason=Reason.HEADER_NOT_ALLOWED, detail=name, **refused)
        if names:
            # Every name is now a member of ALLOW_HEADERS: nothing hostile is echoed.
            headers += ((ACCESS_CONTROL_ALLOW_HEADERS, ", ".join(dict.fromkeys(names))),)
    headers += ((ACCESS_CONTROL_MAX_AGE, policy.max_age_value),)
    return Decision(kind, allowed=True, reason=Reason.ALLOWED, headers=headers, rule=rule, source=source)


def _refusal_reason(origin: str) -> Reason:
    if origin == "null":
        return Reason.NULL_ORIGIN
    if "," in origin or " " in origin:
        return Reason.MULTIPLE_ORIGINS
    if split_wire_origin(origin) is None and _IPV6_ORIGIN_RE.fullmatch(origin) is None:
        return Reason.MALFORMED_ORIGIN
    return Reason.ORIGIN_NOT_ALLOWED
