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
from dataclasses import dataclass, field

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
    "MAX_REQUEST_HEADER_NAMES",
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
#: send the lowercase, sorted, comma-joined names of the non-safelisted
#: headers a script set (Fetch §4.8 "CORS-preflight fetch"), typically under
#: 100 bytes; 1 KiB holds dozens of real names and keeps a hostile value's
#: cost to one length test.
MAX_REQUEST_HEADERS_LENGTH = 1024

#: Most names an ``Access-Control-Request-Headers`` may list.  A browser lists
#: only the non-safelisted headers a script set; no real page sets 64, and the
#: bound lets a hostile thousand-name list be refused by one count of commas.
MAX_REQUEST_HEADER_NAMES = 64

#: No real method is longer; longer values are refused unread.
_MAX_METHOD_LENGTH = 64
# RFC 9110 token: what a method or header name may be made of.
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TOKEN_CHARS = "!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
# What a list of tokens with optional spaces around each may contain; and the
# one shape that such characters can still get wrong: a space inside a name.
_HEADER_LIST_BYTES = (_TOKEN_CHARS + ", \t").encode("ascii")
_SPACE_IN_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-][ \t]+[!#$%&'*+.^_`|~0-9A-Za-z-]")
#: Decisions kept per snapshot, so a repeated request is one dict lookup.
_MEMO_SIZE = 1024
_MEMO_MAX_HEADERS = 256
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
    # Allowed decisions already made with this policy, keyed by what decides
    # them.  A memo, not state: decide() is pure, so a hit returns exactly
    # what recomputing would.  Refused preflights are not kept (a hostile
    # client varies them at will); refusals are cheap constants anyway.
    _memo: dict[object, Decision] = field(default_factory=dict, init=False, repr=False, compare=False)

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
# Refusals of an origin say nothing but the kind and the reason: build each once.
_REFUSED = {(kind, reason): Decision(kind, allowed=False, reason=reason) for kind in Kind for reason in Reason}


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
    if not _is_header_list(value):
        return None
    return list(filter(None, _lowercase_names(value).split(",")))


def _is_header_list(value: str) -> bool:
    # Whether every comma-separated part is empty or one HTTP token, with
    # optional spaces or tabs around it.  Two scans in C rather than a regex
    # per name.
    if not value.isascii() or value.encode("ascii").translate(None, _HEADER_LIST_BYTES):
        return False
    return (" " not in value and "\t" not in value) or _SPACE_IN_NAME_RE.search(value) is None


def _lowercase_names(value: str) -> str:
    # For a value _is_header_list accepted: names joined by "," without spaces.
    value = value.lower()
    if " " in value or "\t" in value:
        value = value.replace(" ", "").replace("\t", "")
    return value


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
        return _REFUSED[kind, Reason.ORIGIN_TOO_LONG]
    # An actual request's decision depends on its origin alone; a preflight's
    # also on what it asks for.  Long values (never a browser's) are not
    # hashed: that alone would cost a hostile list microseconds.
    key: object = origin
    if kind is Kind.PREFLIGHT:
        if len(request_method or "") > _MAX_METHOD_LENGTH or len(request_headers or "") > _MEMO_MAX_HEADERS:
            key = None
        else:
            key = (origin, request_method, request_headers)
    memo = policy._memo
    decision = memo.get(key)
    if decision is not None:
        return decision
    hit = policy.matcher.match(origin)
    if hit is None:
        decision = _REFUSED[kind, _refusal_reason(origin)]
        if kind is Kind.ACTUAL:
            # Refused actual requests recur with the same few origins (a
            # same-origin POST carries Origin too): keep those constants.
            _remember(memo, key, decision)
        return decision
    rule, source = hit
    if kind is Kind.ACTUAL:
        headers: tuple[tuple[str, str], ...] = ((ACCESS_CONTROL_ALLOW_ORIGIN, origin),)
        if policy.credentials:
            headers += ((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),)
        if policy.expose_headers_value:
            headers += ((ACCESS_CONTROL_EXPOSE_HEADERS, policy.expose_headers_value),)
        decision = Decision(kind, allowed=True, reason=Reason.ALLOWED, headers=headers, rule=rule, source=source)
    else:
        decision = _decide_preflight(policy, origin, rule, source, request_method or "", request_headers)
    if decision.allowed and key is not None:
        _remember(memo, key, decision)
    return decision


def _remember(memo: dict[object, Decision], key: object, decision: Decision) -> None:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()  # Bounded: clients can send endless distinct origins.
    memo[key] = decision


def _decide_preflight(
    policy: Policy,
    origin: str,
    rule: str,
    source: str,
    request_method: str,
    request_headers: str | None,
) -> Decision:
    kind = Kind.PREFLIGHT
    # Methods are case-sensitive (Fetch §4.8: browsers normalize only the
    # standard six, so a script's "patch" stays "patch" and must not match).
    # The length test comes first so a hostile 100 KB value is never hashed.
    if len(request_method) > _MAX_METHOD_LENGTH or request_method not in policy.allow_methods:
        if len(request_method) > _MAX_METHOD_LENGTH or _TOKEN_RE.fullmatch(request_method) is None:
            return _refused_after_match(policy, Reason.MALFORMED_METHOD, rule, source)
        return Decision(
            kind, allowed=False, reason=Reason.METHOD_NOT_ALLOWED, detail=request_method, rule=rule, source=source
        )
    names: list[str] = []
    if request_headers:
        # Bound the work first: a length test and one count of commas refuse
        # a hostile list (a 100 KB value, or a thousand names) before anything
        # splits it.
        if len(request_headers) > MAX_REQUEST_HEADERS_LENGTH or request_headers.count(",") >= MAX_REQUEST_HEADER_NAMES:
            return _refused_after_match(policy, Reason.REQUEST_HEADERS_TOO_LONG, rule, source)
        parsed = parse_request_headers(request_headers)
        if parsed is None:
            return _refused_after_match(policy, Reason.MALFORMED_REQUEST_HEADERS, rule, source)
        allowed_headers = policy.allow_headers
        for name in parsed:
            if name not in allowed_headers:
                return Decision(
                    kind, allowed=False, reason=Reason.HEADER_NOT_ALLOWED, detail=name, rule=rule, source=source
                )
        names = parsed
    headers: tuple[tuple[str, str], ...] = ((ACCESS_CONTROL_ALLOW_ORIGIN, origin),)
    if policy.credentials:
        headers += ((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),)
    headers += ((ACCESS_CONTROL_ALLOW_METHODS, policy.allow_methods_value),)
    if names:
        # Every name is now a member of ALLOW_HEADERS: nothing hostile is echoed.
        headers += ((ACCESS_CONTROL_ALLOW_HEADERS, ", ".join(dict.fromkeys(names))),)
    headers += ((ACCESS_CONTROL_MAX_AGE, policy.max_age_value),)
    return Decision(kind, allowed=True, reason=Reason.ALLOWED, headers=headers, rule=rule, source=source)


def _refused_after_match(policy: Policy, reason: Reason, rule: str, source: str) -> Decision:
    # Refusals that quote nothing from the request are the same for every
    # request matching one rule: build each once per snapshot, so a hostile
    # preflight costs a lookup, not an object.
    key = (reason, rule, source)
    decision = policy._memo.get(key)
    if decision is None:
        decision = Decision(Kind.PREFLIGHT, allowed=False, reason=reason, rule=rule, source=source)
        _remember(policy._memo, key, decision)
    return decision


def _refusal_reason(origin: str) -> Reason:
    if origin == "null":
        return Reason.NULL_ORIGIN
    if "," in origin or " " in origin:
        return Reason.MULTIPLE_ORIGINS
    if split_wire_origin(origin) is None and _IPV6_ORIGIN_RE.fullmatch(origin) is None:
        return Reason.MALFORMED_ORIGIN
    return Reason.ORIGIN_NOT_ALLOWED
