"""The CORS protocol, as the WHATWG Fetch standard defines it, for one request.

:func:`decide` is the one decision function: the middleware, the admin's
"test an origin" page and the ``explain`` command all call it.  It is pure:
plain strings and an immutable :class:`~credcors.core.snapshot.Snapshot` in, a
:class:`~credcors.core.decision.Decision` out that says whether the request is
allowed, why, and exactly which response headers to send.  An allowed
request costs a grant lookup, the method and header checks, and headers the
snapshot built in advance.  It never imports Django.
"""

from __future__ import annotations

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decision import Decision, Kind, Reason
from credcors.core.fetch import (
    MAX_METHOD_LENGTH,
    MAX_REQUEST_HEADER_NAMES,
    MAX_REQUEST_HEADERS_LENGTH,
    is_token,
    parse_request_headers,
)
from credcors.core.grants import Grant
from credcors.core.origin_header import MAX_ORIGIN_LENGTH, OriginShape, classify_origin
from credcors.core.snapshot import Snapshot

__all__ = ["classify", "decide", "refusal_reason"]

_NOT_CORS = Decision(Kind.NOT_CORS, allowed=False, reason=Reason.NO_ORIGIN)
# Refusals of an origin say nothing but the kind and the reason: build each once.
_REFUSED = {(kind, reason): Decision(kind, allowed=False, reason=reason) for kind in Kind for reason in Reason}
_SHAPE_REASONS = {
    OriginShape.SERIALIZED: Reason.ORIGIN_NOT_ALLOWED,
    OriginShape.NULL: Reason.NULL_ORIGIN,
    OriginShape.MULTIPLE: Reason.MULTIPLE_ORIGINS,
    OriginShape.TOO_LONG: Reason.ORIGIN_TOO_LONG,
    OriginShape.MALFORMED: Reason.MALFORMED_ORIGIN,
}


def classify(method: str, origin: str | None, request_method: str | None) -> Kind:
    """Fetch §3.2.2: a CORS-preflight request is OPTIONS with Origin and ACRM."""
    if origin is None:
        return Kind.NOT_CORS
    if method == "OPTIONS" and request_method is not None:
        return Kind.PREFLIGHT
    return Kind.ACTUAL


def refusal_reason(origin: str) -> Reason:
    """Why an origin that no grant allows is refused."""
    return _SHAPE_REASONS[classify_origin(origin)]


def decide(
    snapshot: Snapshot,
    method: str,
    origin: str | None,
    request_method: str | None = None,
    request_headers: str | None = None,
    policy: str = DEFAULT_POLICY,
    host: str | None = None,
) -> Decision:
    """Decide one request under ``policy``: allowed or refused, why, and the headers to send.

    ``origin``, ``request_method`` and ``request_headers`` are the raw
    ``Origin``, ``Access-Control-Request-Method`` and
    ``Access-Control-Request-Headers`` values, or ``None`` when absent.
    ``policy`` names the view's policy; a name the snapshot does not know
    is refused (fail closed: system check credcors.E020 reports it).
    ``host`` is the request's host as Django validated it, without its port:
    grants scoped to hosts allow only on theirs; ``None`` (unknown) finds
    only the grants of every host; ``""`` says Django refuses the host
    (``ALLOWED_HOSTS``), and then nothing is allowed.
    """
    kind = classify(method, origin, request_method)
    if origin is None:
        return _NOT_CORS
    # Bound the work before anything else touches a hostile value: hashing a
    # 100 KB header alone would cost microseconds.
    if len(origin) > MAX_ORIGIN_LENGTH:
        return _REFUSED[kind, Reason.ORIGIN_TOO_LONG]
    # Most views name no policy: the default one is an attribute, not a dict lookup.
    if host == "":
        return _REFUSED[kind, Reason.DISALLOWED_HOST]
    compiled = snapshot.default if policy == DEFAULT_POLICY else snapshot.policies.get(policy)
    if compiled is None:
        return _REFUSED[kind, Reason.UNKNOWN_POLICY]
    index = compiled.index
    # Settings origins, and every origin a row, an any-port entry or a
    # pattern allowed before: one lookup, the decision prebuilt (Index.hot).
    grant = index.hot.get(origin)
    if grant is None:
        # An ALLOW_ALL_ORIGINS policy's index is empty, so it always gets here.
        if compiled.any_origin is not None:
            return _decide_any(kind, compiled.any_origin, origin, request_method, request_headers)
        # The first request of such an origin, through the index's bounded
        # cache, which also remembers that a well-formed origin is merely
        # unlisted: that spares classifying it again (0.6 µs of a 3.7 µs refusal).
        # Grants scoped to the request's host first (only policies that have
        # some pay for it): the grants of every host are in ``hot`` once asked.
        if compiled.scoped:
            grant = compiled.scoped_grant(host, origin)
        if grant is None:
            grant, serialized = index.find(origin)
            if grant is None:
                return _REFUSED[kind, Reason.ORIGIN_NOT_ALLOWED if serialized else refusal_reason(origin)]
    if kind is Kind.ACTUAL:
        return grant.allow(kind, origin)
    return _decide_preflight(grant, origin, request_method or "", request_headers)


def _decide_any(
    kind: Kind, grant: Grant, origin: str, request_method: str | None, request_headers: str | None
) -> Decision:
    # ALLOW_ALL_ORIGINS: "*" to any one origin but 'null' (sandboxed frames,
    # file: pages, redirects: refused everywhere, as for every policy).
    if origin == "null" or "," in origin or " " in origin:
        return _REFUSED[kind, refusal_reason(origin)]
    if kind is Kind.ACTUAL:
        return grant.allow(kind, origin)
    return _decide_preflight(grant, origin, request_method or "", request_headers)


def _decide_preflight(grant: Grant, origin: str, request_method: str, request_headers: str | None) -> Decision:
    headers = grant.headers
    # Methods are case-sensitive (Fetch §2.2.1: browsers normalize only the
    # standard six, so a script's "patch" stays "patch" and must not match).
    # The length test comes first so a hostile 100 KB value is never hashed.
    if len(request_method) > MAX_METHOD_LENGTH or request_method not in headers.allow_methods:
        if len(request_method) > MAX_METHOD_LENGTH or not is_token(request_method):
            return _refused(grant, Reason.MALFORMED_METHOD)
        return _named_refusal(grant, origin, Reason.METHOD_NOT_ALLOWED, request_method)
    if request_headers:
        # A length test and one count of commas refuse a hostile list (a
        # 100 KB value, or a thousand names) before anything splits it.
        if len(request_headers) > MAX_REQUEST_HEADERS_LENGTH or request_headers.count(",") >= MAX_REQUEST_HEADER_NAMES:
            return _refused(grant, Reason.REQUEST_HEADERS_TOO_LONG)
        if request_headers in headers.allow_headers:
            # The usual preflight: one name, as browsers send it (lowercase),
            # and allowed, so a well-formed list: one set lookup, no parsing.
            return grant.allow(Kind.PREFLIGHT, origin)
        names = parse_request_headers(request_headers)
        if names is None:
            return _refused(grant, Reason.MALFORMED_REQUEST_HEADERS)
        allowed = headers.allow_headers
        for name in names:
            if name not in allowed:
                return _named_refusal(grant, origin, Reason.HEADER_NOT_ALLOWED, name)
    return grant.allow(Kind.PREFLIGHT, origin)


def _refused(grant: Grant, reason: Reason) -> Decision:
    # A preflight from an allowed origin that no browser sends (a malformed
    # or oversized method or header list): refused without any CORS header.
    return Decision(Kind.PREFLIGHT, False, reason, (), grant.rule, grant.source)


def _named_refusal(grant: Grant, origin: str, reason: Reason, detail: str) -> Decision:
    # An allowed origin asks for a method or header outside the lists.  The
    # answer is the allowed preflight's, 2xx with Access-Control-Allow-Origin,
    # -Credentials and the allowed methods and headers, so the browser's own
    # check fails and its console names the method or header ("... is not
    # allowed by Access-Control-Allow-Headers in preflight response") instead
    # of a missing Access-Control-Allow-Origin.  The browser still blocks the
    # request.  Nothing of the request is sent back; ``detail`` is only for
    # logs and explanations.
    return grant.allow(Kind.PREFLIGHT, origin)._replace(allowed=False, reason=reason, detail=detail)
