"""Say exactly why an origin is allowed or refused, and what would be sent.

The verdict always comes from :func:`credcors.policy.decide` run on the real
snapshot, exactly as the middleware runs it; this module only adds the words
around it: which rule allowed it, the near miss behind a refusal (scheme,
port, ``www.``, a pattern's apex, a trailing slash ...), disabled or ignored
database rows, and the response headers the middleware would write.

:func:`explain` is pure (plain values in, an :class:`Explanation` out);
:func:`explain_request` is the thin Django-facing wrapper that reads the
current settings, snapshot and the few database rows that matter.  The
``credcors explain`` command and the admin's "Test an origin" page both
render what :func:`explain_request` returns.  Every piece of request input in
the text is quoted with :func:`credcors.log.safe`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from credcors.conf import _FORBIDDEN_REQUEST_HEADERS, Config
from credcors.log import safe, scrub
from credcors.origins import DEFAULT_PORTS, MAX_ORIGIN_LENGTH, OriginError, parse_rule, split_wire_origin
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
_DEFAULT_PORT_RE = re.compile(r"^(https?)://[^/]*:(80|443)/?$", re.IGNORECASE)
_VARY = ("vary", "Origin")


@dataclass(frozen=True, slots=True)
class Row:
    """An ``AllowedOrigin`` row as explanations need it."""

    pk: object
    origin: str
    enabled: bool
    note: str = ""


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


@dataclass(frozen=True, slots=True)
class _Verdict:
    allowed: bool
    cause: str
    message: str
    hints: tuple[str, ...] = ()


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
    forbidden = [name for name in missing if name in _FORBIDDEN_REQUEST_HEADERS]
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


def _origin_verdict(policy: Policy, config: Config, origin: str, reason: Reason, rows: Sequence[Row]) -> _Verdict:
    quoted = safe(origin)
    if reason is Reason.ORIGIN_TOO_LONG:
        return _Verdict(
            False,
            "origin-too-long",
            f"the origin is {len(origin)} characters long; no origin is longer than {MAX_ORIGIN_LENGTH}, "
            "so credcors refuses it without looking further.",
            ("A browser sends only scheme://host[:port] in Origin.",),
        )
    if reason is Reason.NULL_ORIGIN:
        return _Verdict(
            False,
            "null-origin",
            "the origin is 'null', which sandboxed iframes, file: pages, data: URLs and redirected requests "
            "send; any site can produce it, so credcors never allows it.",
            ("Serve the page from a real https:// origin and list that; call the final URL, not one that redirects.",),
        )
    if reason is Reason.MULTIPLE_ORIGINS:
        return _Verdict(
            False,
            "multiple-origins",
            f"{quoted} contains a comma or a space, so it looks like several origins; "
            "a browser sends exactly one, with nothing around it.",
            ("Test one origin at a time, exactly as the browser's Origin header shows it.",),
        )
    if reason is Reason.MALFORMED_ORIGIN:
        return _malformed_verdict(policy, config, origin, rows)
    # From here on the origin passed the wire-form checks (printable ASCII,
    # bounded), so it is shown as is.
    quoted = origin
    wire = split_wire_origin(origin)
    from_rows = _rows_verdict(policy, config, origin, rows)
    if from_rows is not None:
        return from_rows
    near = _near_misses(policy, origin, wire)
    insecure = None
    if wire is not None and wire[0] == "http" and config.credentials and not config.allow_insecure:
        try:
            parse_rule(origin, allow_insecure=False, credentials=True)
        except OriginError as exc:
            insecure = exc
    if near:
        cause, message = near[0]
        hints = tuple(text for _, text in near[1:])
        if insecure is not None:
            hints += (
                "Plain http:// origins other than localhost cannot be allowed while credentials are on "
                "(unless CREDCORS['ALLOW_INSECURE_ORIGINS'] = True): serve the front end over https://.",
            )
        return _Verdict(False, cause, message, hints)
    if insecure is not None:
        return _Verdict(
            False,
            "insecure-origin",
            f"{quoted} is a plain http:// origin; credcors cannot allow it while credentials are on, because "
            "anyone on the network path can impersonate it and read your users' credentialed responses.",
            (
                "Serve the front end over https:// and allow that origin, or set "
                "CREDCORS['ALLOW_INSECURE_ORIGINS'] = True if you accept the risk.",
            ),
        )
    exact, patterns = len(policy.matcher.exact), len(policy.matcher) - len(policy.matcher.exact)
    return _Verdict(
        False,
        "not-listed",
        f"{quoted} is not in the allow-list ({_count(exact, 'exact origin')}, {_count(patterns, 'pattern')}) "
        "and nothing listed is a near miss.",
        (f"Allow it with 'manage.py credcors add {quoted}', in the admin, or in CREDCORS['ALLOWED_ORIGINS'].",),
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _malformed_verdict(policy: Policy, config: Config, origin: str, rows: Sequence[Row]) -> _Verdict:
    quoted = safe(origin)
    try:
        rule = parse_rule(origin, allow_insecure=True, credentials=config.credentials)
    except OriginError as exc:
        return _Verdict(
            False,
            "malformed-origin",
            f"{quoted} is not an origin a browser would send: {scrub(exc.problem)}.",
            (scrub(exc.hint),),
        )
    canonical = rule.serialize()
    if rule.wildcard:
        return _Verdict(
            False,
            "pattern-not-origin",
            f"{quoted} is a pattern; browsers send one concrete origin.",
            (f"Test a concrete origin, e.g. {rule.scheme}://app.{rule.host}.",),
        )
    slips = []
    if origin.endswith("/"):
        slips.append(("trailing-slash", "a trailing slash"))
    if _DEFAULT_PORT_RE.match(origin):
        slips.append(("default-port", f"the default port :{DEFAULT_PORTS[rule.scheme]} spelled out"))
    if origin != origin.lower() and origin.isascii():
        slips.append(("uppercase", "upper-case letters"))
    if not origin.isascii():
        slips.append(("unicode-host", "a host written in Unicode (browsers send the punycode xn-- form)"))
    cause = slips[0][0] if slips else "not-serialized"
    what = " and ".join(text for _, text in slips) or "its spelling"
    then = explain_origin_only(policy, config, canonical, rows)
    follow = (
        f"A browser on that page sends {canonical}, which credcors allows ({then.message})"
        if then.allowed
        else f"A browser on that page sends {canonical}, which credcors refuses too: {then.message}"
    )
    return _Verdict(
        False,
        cause,
        f"browsers never send {quoted}: it differs from the origin's serialization {canonical} only by {what}.",
        (follow, *then.hints),
    )


def explain_origin_only(policy: Policy, config: Config, origin: str, rows: Sequence[Row]) -> _Verdict:
    """The origin part of a verdict: allowed by which rule, or why not."""
    decision = decide(policy, "GET", origin)
    if decision.allowed:
        return _Verdict(True, "allowed", f"by {decision.rule}, {decision.source}")
    return _origin_verdict(policy, config, origin, decision.reason, rows)


def _rows_verdict(policy: Policy, config: Config, origin: str, rows: Sequence[Row]) -> _Verdict | None:
    # Only rows equal to a canonical candidate are looked at, and the origin
    # passed the wire-form checks: both are printable ASCII and bounded.
    covering = set(row_candidates(origin))
    for row in sorted((row for row in rows if row.origin in covering), key=lambda row: not row.enabled):
        name = f"database row {row.pk} ({row.origin})"
        note = f" Note on the row: {safe(row.note, 200)}." if row.note else ""
        if not row.enabled:
            return _Verdict(
                False,
                "disabled-row",
                f"{name} would allow {origin}, but it is disabled.",
                (f"Enable it in the admin or with 'manage.py credcors enable {row.origin}'.{note}",),
            )
        try:
            parse_rule(row.origin, allow_insecure=config.allow_insecure, credentials=config.credentials)
        except OriginError as exc:
            return _Verdict(
                False,
                "ignored-row",
                f"{name} would allow {origin}, but credcors ignores it: {scrub(exc.problem)}.",
                (scrub(exc.hint),),
            )
        if not config.use_database:
            return _Verdict(
                False,
                "database-off",
                f"{name} would allow {origin}, but CREDCORS['USE_DATABASE'] is False.",
                ("Set CREDCORS['USE_DATABASE'] = True, or list the origin in ALLOWED_ORIGINS.",),
            )
        return _Verdict(
            False,
            "not-loaded-yet",
            f"{name} allows {origin}, but this process has not loaded it yet.",
            (f"Every process picks it up within REFRESH_SECONDS ({config.refresh_seconds:g} s).",),
        )
    return None


def _near_misses(policy: Policy, origin: str, wire: tuple[str, str, int | None] | None) -> list[tuple[str, str]]:
    if wire is None:
        return []
    matcher = policy.matcher
    scheme, host, port = wire
    quoted = origin  # Wire-valid: printable ASCII, bounded.
    suffix = "" if port is None else f":{port}"
    found: list[tuple[str, str]] = []

    def you_allowed(hit: tuple[str, str]) -> str:
        return f"you allowed {hit[0]} ({hit[1]}); this request came from {quoted}"

    other = "https" if scheme == "http" else "http"
    hit = matcher.match(f"{other}://{host}{suffix}")
    if hit is not None:
        found.append(("scheme-differs", f"{you_allowed(hit)}: the scheme differs ({scheme} vs {other})."))
    base_source = matcher.patterns.get((scheme, port), {}).get(host)
    if base_source is not None:
        pattern = f"{scheme}://*.{host}{suffix}"
        found.append(
            (
                "apex-not-covered",
                f"the pattern {pattern} ({base_source}) covers subdomains of {host} but never {host} itself.",
            )
        )
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    hit = None if base_source is not None else matcher.match(f"{scheme}://{twin}{suffix}")
    if hit is not None:
        found.append(
            (
                "www-differs",
                f"{you_allowed(hit)}: one has 'www.' and the other does not, and they are different origins.",
            )
        )
    for rule, source in _same_host_other_port(policy, scheme, host, port):
        theirs = _port_text(rule)
        ours = "the default port" if port is None else f"port {port}"
        found.append(
            (
                "port-differs",
                f"you allowed {rule} ({source}); this request came from {quoted}: the port differs "
                f"({ours} here, {theirs} in the rule).",
            )
        )
    return found


def _port_text(rule: str) -> str:
    parts = split_wire_origin(rule.replace("*.", "x.", 1))
    return "the default port" if parts is None or parts[2] is None else f"port {parts[2]}"


def _same_host_other_port(policy: Policy, scheme: str, host: str, port: int | None) -> list[tuple[str, str]]:
    # One pass over the allow-list: explanations may cost O(n), requests never.
    found: list[tuple[str, str]] = []
    for rule, source in policy.matcher.exact.items():
        parts = split_wire_origin(rule)
        if parts is not None and parts[0] == scheme and parts[1] == host and parts[2] != port:
            found.append((rule, source))
    for (rule_scheme, rule_port), bases in policy.matcher.patterns.items():
        if rule_scheme != scheme or rule_port == port:
            continue
        suffix = "" if rule_port is None else f":{rule_port}"
        for base, source in bases.items():
            if host.endswith(f".{base}"):
                found.append((f"{scheme}://*.{base}{suffix}", source))
    return found[:5]


def row_candidates(origin: str) -> list[str]:
    """Canonical rules that would cover ``origin``: itself and each ``*.`` pattern above it.

    At most one per label of the host, so a lookup stays bounded.
    """
    if len(origin) > MAX_ORIGIN_LENGTH:
        return []
    try:
        rule = parse_rule(origin, allow_insecure=True)
    except OriginError:
        return []
    if rule.wildcard:
        return []
    canonical = rule.serialize()
    suffix = "" if rule.port is None else f":{rule.port}"
    candidates = [canonical]
    labels = rule.host.split(".")
    if not rule.host.startswith("["):
        candidates += [f"{rule.scheme}://*.{'.'.join(labels[i:])}{suffix}" for i in range(1, len(labels))]
    return candidates


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
