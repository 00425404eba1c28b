"""Say exactly why an origin is allowed or refused, and what would be sent.

The verdict always comes from :func:`credcors.policy.decide` run on the real
snapshot, exactly as the middleware runs it; this module only adds the words
around it: which rule allowed it, the near miss behind a refusal (scheme,
port, ``www.``, a pattern's apex, a trailing slash ...), disabled or ignored
database rows, and the response headers the middleware would write.  The
origin diagnosis (near misses, rows) lives in :mod:`credcors.nearmiss`.

:func:`explain` is pure (plain values in, an :class:`Explanation` out);
:func:`explain_request` is the thin Django-facing wrapper that reads the
current settings, snapshot and the few database rows that matter.  The
``credcors explain`` command and the admin's "Test an origin" page both
render what :func:`explain_request` returns.  Every piece of request input in
the text is quoted with :func:`credcors.log.safe`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from credcors.conf import Config, is_forbidden_request_header
from credcors.log import safe, scrub
from credcors.nearmiss import Row, _origin_verdict, _Verdict, row_candidates
from credcors.nearmiss import explain_origin_only as explain_origin_only  # Re-exported: it lived here.
from credcors.policy import (
    MAX_REQUEST_HEADER_NAMES,
    MAX_REQUEST_HEADERS_LENGTH,
    Decision,
    Kind,
    Policy,
    Reason,
    decide,
    parse_request_headers,
)

__all__ = ["Exchange", "Explanation", "Row", "explain", "explain_request", "row_candidates"]

# Fetch §2.2.2 "CORS-safelisted method" and "CORS-safelisted request-header"
# (content-type is safelisted only for form encodings, so it is treated as
# the application/json it usually is).
_SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language"})
# Fetch §2.2.1 "normalize a method": browsers upper-case only these.
_NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
_VARY = ("vary", "Origin")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the browser would send and what credcors answers."""

    kind: Kind
    method: str
    request_headers: str | None
    decision: Decision

    @property
    def status(self) -> int | None:
        """The middleware's status for a preflight; None when the view answers."""
        return self.decision.status

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """Exactly what the middleware writes (``Vary`` is merged into the view's)."""
        return (*self.decision.headers, _VARY)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "method": self.method,
            "request_headers": self.request_headers,
            "allowed": self.decision.allowed,
            "reason": self.decision.reason.value,
            "status": self.status,
            "response_headers": [list(pair) for pair in self.response_headers],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The verdict on one simulated browser call, in words and headers.

    ``cause`` is a stable code (``allowed``, ``scheme-differs``,
    ``header-not-allowed`` ...); ``message`` says it in one sentence and
    ``hints`` say what to do.  All text is printable and quotes request
    input safely.
    """

    origin: str
    allowed: bool
    cause: str
    message: str
    hints: tuple[str, ...] = ()
    rule: str | None = None
    source: str | None = None
    exchanges: tuple[Exchange, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": scrub(self.origin, 300),
            "allowed": self.allowed,
            "verdict": "allowed" if self.allowed else "refused",
            "cause": self.cause,
            "message": self.message,
            "hints": list(self.hints),
            "rule": self.rule,
            "source": self.source,
            "exchanges": [exchange.to_dict() for exchange in self.exchanges],
        }


def browser_method(method: str) -> str:
    """The method as ``fetch()`` sends it: only the six standard names are upper-cased."""
    return method.upper() if method.upper() in _NORMALIZED_METHODS else method


def explain(
    policy: Policy,
    config: Config,
    origin: str,
    *,
    method: str = "GET",
    headers: Iterable[str] = (),
    path: str | None = None,
    rows: Sequence[Row] = (),
) -> Explanation:
    """Explain a browser's credentialed call from ``origin``.

    ``method`` and ``headers`` are what the page's script uses; like a
    browser, this sends a preflight first when the method or a header is not
    CORS-safelisted, then the actual request.  ``rows`` are the database rows
    :func:`row_candidates` names (enabled or not), used to explain disabled and
    ignored rows.
    """
    if path is not None and not config.applies_to(path):
        pattern = config.urls_regex.pattern if config.urls_regex is not None else ""
        return Explanation(
            origin,
            allowed=False,
            cause="path-not-covered",
            message=(
                f"credcors does not handle the path {safe(path)}: CREDCORS['URLS_REGEX'] {safe(pattern)} "
                "does not match it, so responses there carry no CORS headers and the browser refuses them."
            ),
            hints=("Call a path that URLS_REGEX matches, or widen URLS_REGEX (it is matched with re.match).",),
        )
    method = browser_method(method)
    names = _split_headers(headers)
    unsafe = sorted(dict.fromkeys(name for name in names if name not in _SAFELISTED_HEADERS))
    request_headers = ",".join(unsafe) or None
    exchanges: list[Exchange] = []
    if method not in _SAFELISTED_METHODS or unsafe:
        preflight = decide(policy, "OPTIONS", origin, method, request_headers)
        exchanges.append(Exchange(Kind.PREFLIGHT, method, request_headers, preflight))
        if not preflight.allowed:
            verdict = _explain_refusal(policy, config, origin, preflight, rows, request_headers)
            refusal_hints = (*verdict.hints, "The browser never sends the actual request after a refused preflight.")
            return Explanation(
                origin,
                False,
                verdict.cause,
                verdict.message,
                refusal_hints,
                preflight.rule,
                preflight.source,
                tuple(exchanges),
            )
    actual = decide(policy, method, origin)
    exchanges.append(Exchange(Kind.ACTUAL, method, None, actual))
    if not actual.allowed:
        verdict = _explain_refusal(policy, config, origin, actual, rows, None)
        return Explanation(origin, False, verdict.cause, verdict.message, verdict.hints, exchanges=tuple(exchanges))
    hints: tuple[str, ...] = ()
    if len(exchanges) == 1:
        hints += (f"No preflight: {method} with only CORS-safelisted headers is sent directly.",)
    if not config.credentials:
        hints += (
            "CREDCORS['ALLOW_CREDENTIALS'] is False, so no Access-Control-Allow-Credentials is sent: "
            "a fetch() with credentials: 'include' is still refused by the browser.",
        )
    return Explanation(
        origin,
        True,
        "allowed",
        f"{origin} is allowed by {actual.rule} ({actual.source}).",
        hints,
        actual.rule,
        actual.source,
        tuple(exchanges),
    )


def _split_headers(headers: Iterable[str]) -> list[str]:
    names: list[str] = []
    for value in headers:
        names.extend(part.strip(" \t").lower() for part in value.split(",") if part.strip(" \t"))
    return names


def _explain_refusal(
    policy: Policy,
    config: Config,
    origin: str,
    decision: Decision,
    rows: Sequence[Row],
    request_headers: str | None,
) -> _Verdict:
    reason = decision.reason
    if reason is Reason.METHOD_NOT_ALLOWED:
        return _method_verdict(policy, decision.detail or "")
    if reason is Reason.MALFORMED_METHOD:
        return _Verdict(
            False,
            "malformed-method",
            "the preflight's Access-Control-Request-Method is not an HTTP method name "
            "(a token of at most 64 characters); credcors refuses it.",
            ("Pass a method such as GET, POST, PUT, PATCH or DELETE.",),
        )
    if reason is Reason.HEADER_NOT_ALLOWED:
        return _header_verdict(policy, request_headers or "")
    if reason is Reason.REQUEST_HEADERS_TOO_LONG:
        return _Verdict(
            False,
            "request-headers-too-long",
            f"the preflight's Access-Control-Request-Headers is longer than {MAX_REQUEST_HEADERS_LENGTH} characters "
            f"or lists {MAX_REQUEST_HEADER_NAMES} names or more; credcors refuses it unread.",
            ("Send fewer custom headers.",),
        )
    if reason is Reason.MALFORMED_REQUEST_HEADERS:
        return _Verdict(
            False,
            "malformed-request-headers",
            "the preflight's Access-Control-Request-Headers is not a comma-separated list of header names.",
            ("A header name is an HTTP token: letters, digits and !#$%&'*+-.^_`|~, no spaces.",),
        )
    return _origin_verdict(policy, config, origin, reason, rows)


def _method_verdict(policy: Policy, method: str) -> _Verdict:
    allowed = policy.allow_methods_value or "none"
    if method.upper() in policy.allow_methods:
        return _Verdict(
            False,
            "method-case",
            f"the preflight asks for method {safe(method)}, but CREDCORS['ALLOW_METHODS'] has "
            f"{method.upper()}: methods are case-sensitive and browsers upper-case only DELETE, GET, "
            "HEAD, OPTIONS, POST and PUT.",
            (f"Write method: '{method.upper()}' in the fetch() call.",),
        )
    return _Verdict(
        False,
        "method-not-allowed",
        f"the preflight asks for method {safe(method)}, which is not in CREDCORS['ALLOW_METHODS'] ({allowed}).",
        (f"Add {safe(method)} to CREDCORS['ALLOW_METHODS'] if your views accept it.",),
    )


def _header_verdict(policy: Policy, request_headers: str) -> _Verdict:
    names = parse_request_headers(request_headers) or []
    missing = [name for name in dict.fromkeys(names) if name not in policy.allow_headers]
    quoted = ", ".join(safe(name, 60) for name in missing[:10])
    if len(missing) > 10:
        quoted += f" and {len(missing) - 10} more"
    allowed = ", ".join(sorted(policy.allow_headers)) or "none"
    forbidden = [name for name in missing if is_forbidden_request_header(name)]
    plural = "s" if len(missing) != 1 else ""
    message = f"the preflight asks for request header{plural} {quoted}, not in CREDCORS['ALLOW_HEADERS'] ({allowed})."
    if forbidden:
        return _Verdict(
            False,
            "forbidden-header",
            message,
            (
                f"{safe(forbidden[0])} is a forbidden request-header name (Fetch §2.2.2): scripts cannot set it "
                "and browsers drop it silently. Cookies travel with fetch(url, {credentials: 'include'}).",
            ),
        )
    return _Verdict(
        False,
        "header-not-allowed",
        message,
        (f"Add {quoted} to CREDCORS['ALLOW_HEADERS'], or stop sending {'them' if plural else 'it'}.",),
    )


def explain_request(
    origin: str,
    *,
    method: str = "GET",
    headers: Iterable[str] = (),
    path: str | None = None,
) -> Explanation:
    """Explain ``origin`` against this process's real settings, snapshot and rows."""
    from django.db import DatabaseError, connections, router, transaction

    from credcors.conf import get_config
    from credcors.models import AllowedOrigin
    from credcors.store import store

    config = get_config()
    policy = store.get()
    rows: list[Row] = []
    candidates = row_candidates(origin)
    db_note: tuple[str, ...] = ()
    if candidates:
        alias = router.db_for_read(AllowedOrigin)
        try:
            # A savepoint inside someone's transaction, so a failed read cannot poison it.
            with transaction.atomic(using=alias, savepoint=connections[alias].in_atomic_block):
                found = AllowedOrigin.objects.using(alias).filter(origin__in=candidates)
                rows = [Row(*values) for values in found.values_list("pk", "origin", "enabled", "note")]
        except DatabaseError as exc:
            db_note = (f"Could not read AllowedOrigin rows ({type(exc).__name__}); database rows are not analysed.",)
    result = explain(policy, config, origin, method=method, headers=headers, path=path, rows=rows)
    if db_note:
        result = Explanation(
            result.origin,
            result.allowed,
            result.cause,
            result.message,
            result.hints + db_note,
            result.rule,
            result.source,
            result.exchanges,
        )
    return result
