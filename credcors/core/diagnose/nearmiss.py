"""Diagnose a refused origin: the near miss behind the refusal.

Given an origin :func:`credcors.core.decide.decide` refused, say why in words: a
malformed or non-serialized spelling (trailing slash, default port,
upper case, Unicode host), a disabled, ignored or not-yet-loaded database
row, a listed rule it nearly matches (scheme, ``www.``, a pattern's apex,
the port), or a grant scoped to other hosts than the request's ("allowed
on api.customer-a.com, not on this host").  It works on the snapshot's grants and their
:class:`~credcors.core.origins.Rule`, never on re-parsed strings.  Pure: plain
values in, a :class:`Verdict` out.  Request input in the text is quoted with
:func:`credcors.core.quoting.safe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY, PolicyConfig
from credcors.core.decide import decide
from credcors.core.decision import Reason
from credcors.core.diagnose.nearby import near_misses
from credcors.core.diagnose.reasons import REASON_TEXT, describe_source, in_policy
from credcors.core.origin_header import DEFAULT_PORTS, MAX_ORIGIN_LENGTH
from credcors.core.origins import OriginError, Rule, parse_rule
from credcors.core.quoting import safe, scrub
from credcors.core.scopes import covers
from credcors.core.snapshot import Snapshot

__all__ = ["Row", "Verdict", "origin_verdict", "row_candidates"]


@dataclass(frozen=True, slots=True)
class Row:
    """An ``AllowedOrigin`` row as explanations need it."""

    pk: object
    origin: str
    enabled: bool
    note: str = ""
    #: When the row expired, as the command line writes it, if it has: the snapshot left it out.
    expired: str | None = None
    #: Its ``trust_for_csrf`` box: one of the two ways a row is trusted (:mod:`credcors.core.trust`).
    trust_for_csrf: bool = False
    #: The policy it belongs to: only rows of the policy asked about explain its refusal.
    policy: str = DEFAULT_POLICY
    #: The host scope entries it applies on (:mod:`credcors.core.scopes`); empty: every host.
    hosts: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """How explanations name the row: its id, its origin, and its hosts when it has some."""
        scope = f", on hosts {' '.join(self.hosts)}" if self.hosts else ""
        return f"database row {self.pk} ({self.origin}{scope})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """An answer in words: allowed or not, a stable cause code, a message and hints."""

    allowed: bool
    cause: str
    message: str
    hints: tuple[str, ...] = ()


def origin_verdict(
    snapshot: Snapshot,
    config: Config,
    origin: str,
    reason: Reason,
    rows: Sequence[Row],
    policy: str = DEFAULT_POLICY,
    host: str | None = None,
) -> Verdict:
    """Why ``origin`` was refused for ``reason`` under ``policy``, with the near miss behind it.

    Every policy is diagnosed the same way: its rows, its list, its near
    misses.  ``host`` is the request's host as :func:`~credcors.core.decide.decide`
    took it (``None``: unknown): an origin allowed only on other hosts is
    said to be so, with those hosts.
    """
    quoted = safe(origin)
    if reason is Reason.ORIGIN_TOO_LONG:
        return Verdict(
            False,
            "origin-too-long",
            f"{REASON_TEXT[reason]}: it is {len(origin)} characters long, and no origin is longer than "
            f"{MAX_ORIGIN_LENGTH}, so credcors refuses it without looking further.",
            ("A browser sends only scheme://host[:port] in Origin.",),
        )
    if reason is Reason.NULL_ORIGIN:
        return Verdict(
            False,
            "null-origin",
            "the origin is 'null', which sandboxed iframes, file: pages, data: URLs and redirected requests "
            "send; any site can produce it, so credcors never allows it.",
            ("Serve the page from a real https:// origin and list that; call the final URL, not one that redirects.",),
        )
    if reason is Reason.MULTIPLE_ORIGINS:
        return Verdict(
            False,
            "multiple-origins",
            f"{quoted} contains a comma or a space, so it looks like several origins; "
            "a browser sends exactly one, with nothing around it.",
            ("Test one origin at a time, exactly as the browser's Origin header shows it.",),
        )
    if reason is Reason.MALFORMED_ORIGIN:
        return _malformed_verdict(snapshot, config, origin, rows, policy, host)
    # From here on the origin passed the wire-form checks (printable ASCII,
    # bounded), so it is shown as is.
    quoted = origin
    settings = config.policy(policy) or config.default_policy
    compiled = snapshot.policies.get(policy, snapshot.default)
    # Allowed, but only on other hosts: the scope is the whole story (one lookup per entry of the policy).
    scopes = compiled.scopes_of(origin)
    if scopes:
        grant = compiled.scoped[scopes[0]].lookup(origin)
        return _scope_verdict(origin, host, scopes, describe_source(None if grant is None else grant.source), policy)
    from_rows = _rows_verdict(config, settings, origin, [row for row in rows if row.policy == policy], host)
    if from_rows is not None:
        return from_rows
    rule = _parsed(origin)
    near = [] if rule is None else near_misses(snapshot, origin, rule, index=compiled.index)
    insecure = None
    if rule is not None and rule.scheme == "http" and settings.credentials and not config.allow_insecure:
        try:
            parse_rule(origin, allow_insecure=False, credentials=True)
        except OriginError as exc:
            insecure = exc
    if near:
        cause, message, fix = near[0]
        hints = tuple(text for text in (fix, *(other[1] for other in near[1:])) if text)
        if insecure is not None:
            hints += (
                "Plain http:// origins other than localhost cannot be allowed while credentials are on "
                "(unless CREDCORS['ALLOW_INSECURE_ORIGINS'] = True): serve the front end over https://.",
            )
        return Verdict(False, cause, message, hints)
    if insecure is not None:
        return Verdict(
            False,
            "insecure-origin",
            f"{quoted} is a plain http:// origin; credcors cannot allow it while credentials are on, because "
            "anyone on the network path can impersonate it and read your users' credentialed responses.",
            (
                "Serve the front end over https:// and allow that origin, or set "
                "CREDCORS['ALLOW_INSECURE_ORIGINS'] = True if you accept the risk.",
            ),
        )
    index = compiled.index
    exact = len(index.exact) + len(index.rows)
    patterns = len(index) - exact
    counts = f"{_count(exact, 'exact origin')}, {_count(patterns, 'pattern')}"
    # Another policy that lists it (not one that answers every origin with "*"): a view in the wrong policy?
    elsewhere = [
        name
        for name, other in snapshot.policies.items()
        if name != policy
        and other.any_origin is None
        and decide(snapshot, "GET", origin, policy=name, host=host).allowed
    ]
    if policy == DEFAULT_POLICY:
        where, flag = "CREDCORS['ALLOWED_ORIGINS']", ""
    else:
        where, flag = f"CREDCORS['POLICIES'][{policy!r}]['ALLOWED_ORIGINS']", f" --policy {policy}"
    hints = (f"Allow it with 'manage.py credcors add {quoted}{flag}', in the admin, or in {where}.",)
    if elsewhere:
        names = " and ".join(", ".join(repr(name) for name in elsewhere).rsplit(", ", 1))
        which = f"policy {names} allows" if len(elsewhere) == 1 else f"policies {names} allow"
        hints += (f"The {which} it: this view's policy decides, not theirs.",)
    return Verdict(
        False,
        "not-listed",
        f"{quoted} is not in the allow-list{in_policy(policy)} ({counts}) and nothing listed is a near miss.",
        hints,
    )


def _parsed(origin: str) -> Rule | None:
    # The wire form lets through a few hosts the validator refuses (one that
    # ends in a number, "https://app.1", which no browser sends); near misses
    # do not apply to them.
    try:
        return parse_rule(origin, allow_insecure=True)
    except OriginError:
        return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _malformed_verdict(
    snapshot: Snapshot, config: Config, origin: str, rows: Sequence[Row], policy: str, host: str | None
) -> Verdict:
    quoted = safe(origin)
    credentials = (config.policy(policy) or config.default_policy).credentials
    try:
        rule = parse_rule(origin, allow_insecure=True, credentials=credentials)
    except OriginError as exc:
        return Verdict(
            False,
            "malformed-origin",
            f"{quoted} is not an origin a browser would send: {scrub(exc.problem)}.",
            (scrub(exc.hint),),
        )
    canonical = rule.serialize()
    if rule.wildcard:
        return Verdict(
            False,
            "pattern-not-origin",
            f"{quoted} is a pattern; browsers send one concrete origin.",
            (f"Test a concrete origin, e.g. {rule.scheme}://app.{rule.host}.",),
        )
    slips = []
    if origin.endswith("/"):
        slips.append(("trailing-slash", "a trailing slash"))
    default_port = DEFAULT_PORTS.get(rule.scheme)  # None for an app's scheme.
    if rule.port is None and default_port and origin.lower().rstrip("/").endswith(f":{default_port}"):
        slips.append(("default-port", f"the default port :{default_port} spelled out"))
    if origin != origin.lower() and origin.isascii():
        slips.append(("uppercase", "upper-case letters"))
    if not origin.isascii():
        slips.append(("unicode-host", "a host written in Unicode (browsers send the punycode xn-- form)"))
    cause = slips[0][0] if slips else "not-serialized"
    what = " and ".join(text for _, text in slips) or "its spelling"
    then = _origin_only(snapshot, config, canonical, rows, policy, host)
    follow = (
        f"A browser on that page sends {canonical}, which credcors allows ({then.message})"
        if then.allowed
        else f"A browser on that page sends {canonical}, which credcors refuses too: {then.message}"
    )
    return Verdict(
        False,
        cause,
        f"browsers never send {quoted}: it differs from the origin's serialization {canonical} only by {what}.",
        (follow, *then.hints),
    )


def _origin_only(
    snapshot: Snapshot, config: Config, origin: str, rows: Sequence[Row], policy: str, host: str | None
) -> Verdict:
    # The origin part of a verdict: allowed by which rule, or why not.
    decision = decide(snapshot, "GET", origin, policy=policy, host=host)
    if decision.allowed:
        return Verdict(True, "allowed", f"by {decision.rule}, {describe_source(decision.source)}")
    return origin_verdict(snapshot, config, origin, decision.reason, rows, policy, host)


def _scope_verdict(origin: str, host: str | None, scopes: Sequence[str], source: str, policy: str) -> Verdict:
    # An origin allowed under host scope entries that do not cover the request's host.
    listed = " ".join(scopes)
    if host is None:
        example = scopes[0].lstrip(".")
        return Verdict(
            False,
            "host-scoped",
            f"{origin} is allowed only on hosts {listed} ({source}), and no host was given: a request to an "
            "unknown host gets only what is allowed on every host.",
            (
                "Name the API host the page calls to explain a request to it, e.g. "
                f"'manage.py credcors explain {origin} --host {example}'.",
            ),
        )
    here = scrub(host, 300)
    if source == "settings":
        where = "CREDCORS['HOSTS']" if policy == DEFAULT_POLICY else f"CREDCORS['POLICIES'][{policy!r}]['HOSTS']"
        widen = f"add it to {where}"
    else:
        flags = " ".join(f"--host {scope}" for scope in (*scopes, here))
        widen = f"add it to the row's hosts: 'manage.py credcors add {origin} {flags}', or in the admin"
    return Verdict(
        False,
        "other-host",
        f"{origin} is allowed on {listed}, not on this host ({here}); {source} scopes it to those hosts.",
        (f"If {here} serves the same tenant, {widen}; otherwise this refusal is what the scope is for.",),
    )


def _rows_verdict(
    config: Config, policy: PolicyConfig, origin: str, rows: Sequence[Row], host: str | None
) -> Verdict | None:
    # Only rows equal to a canonical candidate are looked at, and the origin
    # passed the wire-form checks: both are printable ASCII and bounded.
    covering = set(row_candidates(origin))
    for row in sorted((row for row in rows if row.origin in covering), key=lambda row: not row.enabled):
        name = row.name
        note = f" Note on the row: {safe(row.note, 200)}." if row.note else ""
        if not row.enabled:
            return Verdict(
                False,
                "disabled-row",
                f"{name} would allow {origin}, but it is disabled.",
                (f"Enable it in the admin or with 'manage.py credcors enable {row.origin}'.{note}",),
            )
        if row.expired is not None:
            return Verdict(
                False,
                "expired-row",
                f"{name} would allow {origin}, but it expired at {row.expired}.",
                (
                    f"Give it a later expiry in the admin or with 'manage.py credcors add {row.origin} --expires 7d' "
                    f"(or --expires never).{note}",
                ),
            )
        try:
            parse_rule(row.origin, allow_insecure=config.allow_insecure, credentials=policy.credentials)
        except OriginError as exc:
            return Verdict(
                False,
                "ignored-row",
                f"{name} would allow {origin}, but credcors ignores it: {scrub(exc.problem)}.",
                (scrub(exc.hint),),
            )
        if not policy.use_database:
            where = "CREDCORS" if policy.name == DEFAULT_POLICY else f"CREDCORS['POLICIES'][{policy.name!r}]"
            return Verdict(
                False,
                "database-off",
                f"{name} would allow {origin}, but {where}['USE_DATABASE'] is False.",
                (f"Set {where}['USE_DATABASE'] = True, or list the origin in ALLOWED_ORIGINS.",),
            )
        if row.hosts and not (host and any(covers(scope, host) for scope in row.hosts)):
            return _scope_verdict(origin, host, row.hosts, f"database row {row.pk}", policy.name)
        return Verdict(
            False,
            "not-loaded-yet",
            f"{name} allows {origin}, but this process has not loaded it yet.",
            (f"Every process picks it up within REFRESH_SECONDS ({config.refresh_seconds:g} s).",),
        )
    return None


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
