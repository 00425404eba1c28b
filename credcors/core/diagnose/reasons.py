"""One text per refusal reason, and how a decision's source is named.

Shared by the log lines, the ``DEBUG`` reason header, ``explain`` and the
admin's test page, so a reason is worded once.  Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decision import Decision, Headers, Reason
from credcors.core.quoting import safe

__all__ = ["REASON_TEXT", "describe_source", "in_policy", "reason_line"]

#: The one sentence per reason.  Request input never appears here; where a
#: refusal names a method or header, :func:`reason_line` adds it, quoted.
REASON_TEXT: Mapping[Reason, str] = {
    Reason.NO_ORIGIN: "the request has no Origin header, so it is not a CORS request",
    Reason.ALLOWED: "allowed",
    Reason.ORIGIN_NOT_ALLOWED: "this origin is not in the allow-list",
    Reason.NULL_ORIGIN: "the origin 'null' (sandboxed frame, file: page or redirect) is never allowed",
    Reason.MULTIPLE_ORIGINS: "the Origin header holds more than one origin",
    Reason.ORIGIN_TOO_LONG: "the Origin header is longer than any origin can be",
    Reason.MALFORMED_ORIGIN: "the Origin header is not a scheme://host[:port] origin as browsers send it",
    Reason.METHOD_NOT_ALLOWED: "the preflight asks for a method that is not in CREDCORS['ALLOW_METHODS']",
    Reason.MALFORMED_METHOD: "Access-Control-Request-Method is not an HTTP method name",
    Reason.HEADER_NOT_ALLOWED: "the preflight asks for a request header that is not in CREDCORS['ALLOW_HEADERS']",
    Reason.REQUEST_HEADERS_TOO_LONG: "Access-Control-Request-Headers is too long",
    Reason.MALFORMED_REQUEST_HEADERS: "Access-Control-Request-Headers is not a comma-separated list of header names",
    Reason.UNKNOWN_POLICY: "the view names a policy that CREDCORS['POLICIES'] does not define",
    Reason.DISALLOWED_HOST: "the request's Host is not in ALLOWED_HOSTS, so Django refuses it and nothing is allowed",
}


def in_policy(policy: str) -> str:
    """What follows "the allow-list" when a view's own policy refused: its name, since the default may allow it."""
    return "" if policy == DEFAULT_POLICY else f" of the policy {policy!r}, which this view uses"


def describe_source(source: int | None) -> str:
    """How a grant's source is named in decisions and explanations."""
    return "settings" if source is None else f"database row {source}"


def reason_line(decision: Decision, headers: Headers, policy: str = DEFAULT_POLICY) -> str:
    """A short, printable-ASCII reason for the browser's network panel and the logs.

    ``policy`` is the policy that decided (the view's).  Request input
    appears only as a bounded, escaped quotation; the fix names the
    setting.  At most 400 characters.
    """
    reason = decision.reason
    if reason is Reason.METHOD_NOT_ALLOWED:
        text = (
            f"method {safe(decision.detail, 40)} is not in CREDCORS['ALLOW_METHODS'] "
            f"({headers.allow_methods_value or 'none'})"
        )
    elif reason is Reason.HEADER_NOT_ALLOWED:
        allowed = ", ".join(sorted(headers.allow_headers)) or "none"
        text = f"request header {safe(decision.detail, 40)} is not in CREDCORS['ALLOW_HEADERS'] ({allowed})"
    else:
        text = REASON_TEXT[reason]
    if reason is Reason.ORIGIN_NOT_ALLOWED:
        text += in_policy(policy)
    if reason in (Reason.ORIGIN_NOT_ALLOWED, Reason.MALFORMED_ORIGIN):
        # A named policy is found from the path, as the middleware found it.
        path = "" if policy == DEFAULT_POLICY else " --path PATH"
        text += f"; run 'manage.py credcors explain ORIGIN{path}' for details"
    line = f"{reason.value}: {text}"
    # Allow-lists can be long; a header has no business being longer.
    return line if len(line) <= 400 else line[:397] + "..."
