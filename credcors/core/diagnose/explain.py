"""Say exactly why an origin is allowed or refused, and what would be sent.

The verdict always comes from :func:`credcors.core.decide.decide` run on the real
snapshot, exactly as the middleware runs it; this module only adds the words
around it: which rule allowed it, the near miss behind a refusal (scheme,
port, ``www.``, a pattern's apex, a trailing slash ...), disabled or ignored
database rows, and the response headers the middleware would write.  Why a
refused request was refused is :mod:`credcors.core.diagnose.refusal` (methods,
headers, policies), which leaves the origin diagnosis (near misses, rows) to
:mod:`credcors.core.diagnose.nearmiss`.

:func:`explain` is pure (plain values in, an :class:`Explanation` out);
:func:`credcors.explain.explain_request` is the thin Django-facing wrapper that
reads the current settings, snapshot and the few database rows that matter.
Every piece of request input in the text is quoted with
:func:`credcors.core.quoting.safe`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Decision, Kind
from credcors.core.diagnose.nearmiss import Row
from credcors.core.diagnose.reasons import describe_source
from credcors.core.diagnose.refusal import refusal_verdict
from credcors.core.fetch import SAFELISTED_METHODS, SAFELISTED_REQUEST_HEADERS, normalize_method
from credcors.core.quoting import safe, scrub
from credcors.core.scopes import covers
from credcors.core.snapshot import ANY_ORIGIN, Snapshot
from credcors.core.trust import RowTrust, TrustReason, row_trust, settings_trust

__all__ = ["Exchange", "Explanation", "explain"]

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
    ``hints`` say what to do.  ``cookies`` is the cookie verdict (will the
    browser send the API's cookies from there?), when there is one.  All
    text is printable and quotes request input safely.
    """

    origin: str
    allowed: bool
    cause: str
    message: str
    hints: tuple[str, ...] = ()
    rule: str | None = None
    source: str | None = None
    exchanges: tuple[Exchange, ...] = field(default=())
    cookies: tuple[str, ...] = ()
    policy: str = DEFAULT_POLICY
    policy_reason: str = ""
    #: For an allowed origin: whether Django's CSRF check trusts it on the
    #: policy's views (with CredCorsCsrfViewMiddleware), and why in words.
    csrf_trusted: bool | None = None
    csrf_trust_reason: str = ""
    #: The API host the request goes to, as decided (``None``: unknown, so
    #: only what is allowed on every host applies; ``""``: Django refuses it).
    host: str | None = None

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
            "cookies": list(self.cookies),
            "policy": self.policy,
            "policy_reason": self.policy_reason,
            "csrf_trusted": self.csrf_trusted,
            "csrf_trust_reason": self.csrf_trust_reason,
            "host": None if self.host is None else scrub(self.host, 300),
        }


def explain(
    snapshot: Snapshot,
    config: Config,
    origin: str,
    *,
    method: str = "GET",
    headers: Iterable[str] = (),
    path: str | None = None,
    rows: Sequence[Row] = (),
    cookies: Sequence[str] = (),
    policy: str = DEFAULT_POLICY,
    policy_reason: str = "",
    host: str | None = None,
) -> Explanation:
    """Explain a browser's credentialed call from ``origin``.

    ``method`` and ``headers`` are what the page's script uses; like a
    browser, this sends a preflight first when the method or a header is not
    CORS-safelisted, then the actual request.  ``rows`` are the database rows
    :func:`row_candidates` names (enabled or not), used to explain disabled and
    ignored rows.  ``cookies`` is the cookie verdict on ``origin``
    (:meth:`credcors.core.same_site.CookieVerdict.lines`), kept only when a rule
    matched the origin and credentials are on.  ``policy`` is the policy of
    the view at ``path``, and ``policy_reason`` says why in words.  ``host``
    is the request's host, as :func:`~credcors.core.decide.decide` takes it
    (no port; ``None``: unknown, ``""``: one ``ALLOWED_HOSTS`` refuses): an
    origin allowed only on some hosts is explained with them.
    """
    result = _explain(snapshot, config, origin, method, headers, path, rows, cookies, policy, host)
    trust = _csrf_trust(snapshot, config, result, rows, policy, host)
    return replace(
        result,
        policy=policy,
        policy_reason=policy_reason,
        csrf_trusted=None if trust is None else trust.trusted,
        csrf_trust_reason="" if trust is None else trust.sentence,
        host=host,
    )


def _csrf_trust(
    snapshot: Snapshot, config: Config, result: Explanation, rows: Sequence[Row], policy: str, host: str | None
) -> RowTrust | None:
    # The trust of the grant that allowed the origin, in the words staff see
    # in the admin and 'credcors list' (credcors.core.trust); nothing to say
    # for a refused origin, which CORS keeps out before CSRF matters.
    actual = next((each.decision for each in result.exchanges if each.kind is Kind.ACTUAL), None)
    if not result.allowed or actual is None or actual.rule is None:
        return None
    if actual.rule is ANY_ORIGIN:
        return RowTrust(False, TrustReason.NO_CREDENTIALS)
    origin = actual.rule.serialize()
    if actual.source is None:
        return settings_trust(config, origin, policy)
    row = next((each for each in rows if each.pk == actual.source), None)
    # A row the caller did not pass: the snapshot's answer stands for its box,
    # which row_trust() then words (the box is all a trusted row can owe it to).
    ticked = row.trust_for_csrf if row is not None else snapshot.trusts_for_csrf(origin, policy, host)
    return row_trust(config, origin, policy, ticked)


def _explain(
    snapshot: Snapshot,
    config: Config,
    origin: str,
    method: str,
    headers: Iterable[str],
    path: str | None,
    rows: Sequence[Row],
    cookies: Sequence[str],
    policy: str,
    host: str | None,
) -> Explanation:
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
    method = normalize_method(method)
    credentials = snapshot.headers_of(policy).credentials
    names = _split_headers(headers)
    unsafe = sorted(dict.fromkeys(name for name in names if name not in SAFELISTED_REQUEST_HEADERS))
    request_headers = ",".join(unsafe) or None
    exchanges: list[Exchange] = []
    if method not in SAFELISTED_METHODS or unsafe:
        preflight = decide(snapshot, "OPTIONS", origin, method, request_headers, policy, host)
        exchanges.append(Exchange(Kind.PREFLIGHT, method, request_headers, preflight))
        if not preflight.allowed:
            verdict = refusal_verdict(snapshot, config, origin, preflight, rows, request_headers, policy, host)
            refusal_hints = (*verdict.hints, "The browser never sends the actual request after a refused preflight.")
            return Explanation(
                origin,
                False,
                verdict.cause,
                verdict.message,
                refusal_hints,
                _rule_text(preflight),
                None if preflight.rule is None else describe_source(preflight.source),
                tuple(exchanges),
                _cookie_lines(credentials, preflight, cookies),
            )
    actual = decide(snapshot, method, origin, policy=policy, host=host)
    exchanges.append(Exchange(Kind.ACTUAL, method, None, actual))
    if not actual.allowed:
        verdict = refusal_verdict(snapshot, config, origin, actual, rows, None, policy, host)
        return Explanation(origin, False, verdict.cause, verdict.message, verdict.hints, exchanges=tuple(exchanges))
    hints: tuple[str, ...] = ()
    if len(exchanges) == 1:
        hints += (f"No preflight: {method} with only CORS-safelisted headers is sent directly.",)
    if not credentials:
        where = "" if policy == DEFAULT_POLICY else f"['POLICIES'][{policy!r}]"
        hints += (
            f"CREDCORS{where}['ALLOW_CREDENTIALS'] is False, so no Access-Control-Allow-Credentials is sent: "
            "a fetch() with credentials: 'include' is still refused by the browser; use credentials: 'omit'.",
        )
    if actual.rule is ANY_ORIGIN:
        message = f"{safe(origin)} is allowed by the policy {policy!r}, which answers every origin with '*'."
        return Explanation(origin, True, "allowed", message, hints, "*", "settings", tuple(exchanges))
    hints += _scope_hints(snapshot, origin, policy, host)
    source = describe_source(actual.source)
    return Explanation(
        origin,
        True,
        "allowed",
        f"{origin} is allowed by {actual.rule} ({source}).",
        hints,
        _rule_text(actual),
        source,
        tuple(exchanges),
        _cookie_lines(credentials, actual, cookies),
    )


def _scope_hints(snapshot: Snapshot, origin: str, policy: str, host: str | None) -> tuple[str, ...]:
    # Allowed on this host through a host scope: say so, and that other hosts refuse it.
    compiled = snapshot.policies.get(policy, snapshot.default)
    if host is None or not compiled.scoped or compiled.index.lookup(origin) is not None:
        return ()
    scopes = " ".join(scope for scope in compiled.scopes_of(origin) if covers(scope, host))
    return (f"Allowed on this host through its host scope {scopes}; a request to another host is refused.",)


def _cookie_lines(credentials: bool, decision: Decision, cookies: Sequence[str]) -> tuple[str, ...]:
    # Whether cookies travel matters only where CORS lets the call through:
    # an origin a rule matched (its preflight may still ask too much), with
    # credentials on.
    return tuple(cookies) if credentials and decision.rule is not None else ()


def _rule_text(decision: Decision) -> str | None:
    return None if decision.rule is None else decision.rule.serialize()


def _split_headers(headers: Iterable[str]) -> list[str]:
    names: list[str] = []
    for value in headers:
        names.extend(part.strip(" \t").lower() for part in value.split(",") if part.strip(" \t"))
    return names
