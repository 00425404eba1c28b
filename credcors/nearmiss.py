"""Diagnose a refused origin: the near miss behind the refusal.

Given an origin :func:`credcors.policy.decide` refused, say why in words: a
malformed or non-serialized spelling (trailing slash, default port,
upper case, Unicode host), a disabled, ignored or not-yet-loaded database
row, or a listed rule it nearly matches (scheme, ``www.``, a pattern's apex,
the port).  Used by :mod:`credcors.explain`.  Pure: plain values in, a
verdict out, and it never imports Django.  Request input in the text is
quoted with :func:`credcors.log.safe`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from credcors.log import safe, scrub
from credcors.origins import DEFAULT_PORTS, MAX_ORIGIN_LENGTH, OriginError, parse_rule, split_wire_origin
from credcors.policy import Policy, Reason, decide

if TYPE_CHECKING:
    from credcors.conf import Config

__all__ = ["Row", "explain_origin_only", "row_candidates"]

_DEFAULT_PORT_RE = re.compile(r"^(https?)://[^/]*:(80|443)/?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Row:
    """An ``AllowedOrigin`` row as explanations need it."""

    pk: object
    origin: str
    enabled: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Verdict:
    allowed: bool
    cause: str
    message: str
    hints: tuple[str, ...] = ()


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
