"""Say why a refused request was refused: its method, its headers, its policy, or its origin.

:func:`refusal_verdict` turns a refused :class:`~credcors.core.decision.Decision`
into a :class:`~credcors.core.diagnose.nearmiss.Verdict` for
:func:`credcors.core.diagnose.explain`: the method or request headers a preflight
asked for beyond the policy's lists (with case and forbidden-name hints),
malformed or over-long lists, an unknown policy name; a refused origin goes to
:func:`~credcors.core.diagnose.nearmiss.origin_verdict` for its near miss.  Pure;
request input in the text is quoted with :func:`credcors.core.quoting.safe`.
"""

from __future__ import annotations

from collections.abc import Sequence

from credcors.core.config import Config
from credcors.core.decision import Decision, Headers, Reason
from credcors.core.diagnose.nearmiss import Row, Verdict, origin_verdict
from credcors.core.diagnose.reasons import REASON_TEXT
from credcors.core.fetch import (
    MAX_REQUEST_HEADER_NAMES,
    MAX_REQUEST_HEADERS_LENGTH,
    is_forbidden_request_header,
    parse_request_headers,
)
from credcors.core.quoting import safe
from credcors.core.snapshot import Snapshot

__all__ = ["refusal_verdict"]


def refusal_verdict(
    snapshot: Snapshot,
    config: Config,
    origin: str,
    decision: Decision,
    rows: Sequence[Row],
    request_headers: str | None,
    policy: str,
    host: str | None = None,
) -> Verdict:
    """Why ``decision``, a refusal of a call from ``origin`` under ``policy``, refused it, in words.

    ``host`` is the request's host as the decision took it (see :func:`credcors.core.decide.decide`).
    """
    reason = decision.reason
    if reason is Reason.METHOD_NOT_ALLOWED:
        return _method_verdict(snapshot.headers_of(policy), decision.detail or "")
    if reason is Reason.MALFORMED_METHOD:
        return Verdict(
            False,
            "malformed-method",
            f"{REASON_TEXT[reason]} (a token of at most 64 characters); credcors refuses it.",
            ("Pass a method such as GET, POST, PUT, PATCH or DELETE.",),
        )
    if reason is Reason.HEADER_NOT_ALLOWED:
        return _header_verdict(snapshot.headers_of(policy), request_headers or "")
    if reason is Reason.REQUEST_HEADERS_TOO_LONG:
        return Verdict(
            False,
            "request-headers-too-long",
            f"{REASON_TEXT[reason]}: longer than {MAX_REQUEST_HEADERS_LENGTH} characters "
            f"or {MAX_REQUEST_HEADER_NAMES} names or more; credcors refuses it unread.",
            ("Send fewer custom headers.",),
        )
    if reason is Reason.MALFORMED_REQUEST_HEADERS:
        return Verdict(
            False,
            "malformed-request-headers",
            f"{REASON_TEXT[reason]}.",
            ("A header name is an HTTP token: letters, digits and !#$%&'*+-.^_`|~, no spaces.",),
        )
    if reason is Reason.UNKNOWN_POLICY:
        return Verdict(
            False,
            "unknown-policy",
            f"{REASON_TEXT[reason]}: {policy!r}.",
            (f"Add {policy!r} to CREDCORS['POLICIES'], or fix the name in @cors_policy / cors_policy.",),
        )
    if reason is Reason.DISALLOWED_HOST:
        return Verdict(
            False,
            "disallowed-host",
            f"{REASON_TEXT[reason]}.",
            ("Add the API's host to ALLOWED_HOSTS (behind a proxy, see USE_X_FORWARDED_HOST).",),
        )
    return origin_verdict(snapshot, config, origin, reason, rows, policy, host)


def _method_verdict(headers: Headers, method: str) -> Verdict:
    allowed = headers.allow_methods_value or "none"
    if method.upper() in headers.allow_methods:
        return Verdict(
            False,
            "method-case",
            f"the preflight asks for method {safe(method)}, but CREDCORS['ALLOW_METHODS'] has "
            f"{method.upper()}: methods are case-sensitive and browsers upper-case only DELETE, GET, "
            "HEAD, OPTIONS, POST and PUT.",
            (f"Write method: '{method.upper()}' in the fetch() call.",),
        )
    return Verdict(
        False,
        "method-not-allowed",
        f"the preflight asks for method {safe(method)}, which is not in CREDCORS['ALLOW_METHODS'] ({allowed}).",
        (f"Add {safe(method)} to CREDCORS['ALLOW_METHODS'] if your views accept it.",),
    )


def _header_verdict(headers: Headers, request_headers: str) -> Verdict:
    names = parse_request_headers(request_headers) or []
    missing = [name for name in dict.fromkeys(names) if name not in headers.allow_headers]
    quoted = ", ".join(safe(name, 60) for name in missing[:10])
    if len(missing) > 10:
        quoted += f" and {len(missing) - 10} more"
    allowed = ", ".join(sorted(headers.allow_headers)) or "none"
    forbidden = [name for name in missing if is_forbidden_request_header(name)]
    plural = "s" if len(missing) != 1 else ""
    message = f"the preflight asks for request header{plural} {quoted}, not in CREDCORS['ALLOW_HEADERS'] ({allowed})."
    if forbidden:
        return Verdict(
            False,
            "forbidden-header",
            message,
            (
                f"{safe(forbidden[0])} is a forbidden request-header name (Fetch §2.2.2): scripts cannot set it "
                "and browsers drop it silently. Cookies travel with fetch(url, {credentials: 'include'}).",
            ),
        )
    return Verdict(
        False,
        "header-not-allowed",
        message,
        (f"Add {quoted} to CREDCORS['ALLOW_HEADERS'], or stop sending {'them' if plural else 'it'}.",),
    )
