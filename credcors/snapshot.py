"""The compiled allow-list: one grant per allowed origin or pattern, answers prebuilt.

A :class:`Snapshot` is built once per change of settings or rows, never per
request, and never changes afterwards.  Each :class:`Grant` carries its rule,
its source and, for an exact origin, the very decisions the
middleware returns for an allowed actual request and an allowed preflight,
headers included; so deciding an allowed request is a dict lookup and a few
comparisons, with nothing built (the way whitenoise prepares each file once
at start-up).  A pattern's grant cannot know the origin it will echo, so its
decisions share the prebuilt header tails and add the one
``Access-Control-Allow-Origin`` pair per request.  The answers' vocabulary
(:class:`~credcors.answers.Decision`, its kinds and reasons, the per-policy
:class:`~credcors.answers.Headers`) lives in :mod:`credcors.answers`.  Pure:
never imports Django.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from credcors.answers import Decision, Headers, Kind, Reason
from credcors.fetch import ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN
from credcors.matcher import Index, compile_index
from credcors.origins import ANY_PORT, Rule

__all__ = [
    "ANY_ORIGIN",
    "DEFAULT_POLICY",
    "Grant",
    "Policy",
    "Snapshot",
    "compile_policy",
    "compile_snapshot",
]

#: A database row to compile: its rule, the rule's serialization, its id, its expiry (epoch seconds) or None.
Row = tuple[Rule, str, int, float | None]

#: The name of the policy of views that name none (the top-level settings).
DEFAULT_POLICY = "default"
#: The rule of an ``ALLOW_ALL_ORIGINS`` policy's one grant; it is in no index.
ANY_ORIGIN = Rule("*", "*", None)


class Grant(NamedTuple):
    """One allowed origin or pattern, with everything its answers need.

    ``actual`` and ``preflight`` are the prebuilt allowed decisions of an
    exact origin from settings.  A pattern cannot prebuild them (it echoes
    the origin it matched), and neither does a database row: there may be a
    million, and building two decisions each tripled the load of 100,000
    rows (see :func:`compile_snapshot`); :meth:`allow` builds theirs, one
    tuple per request.  ``csrf`` says whether Django's CSRF origin check may
    trust it.  ``expires`` is a row's expiry in seconds since the epoch
    (``None``: never); the request path never reads it, the snapshot that
    holds the grant is replaced by one without it when it passes (see
    :meth:`Snapshot.without_expired`).  A tuple: a million of them load
    several times faster than frozen dataclasses.
    """

    rule: Rule
    origin: str  # the rule's serialization
    source: int | None
    headers: Headers
    csrf: bool = False
    actual: Decision | None = None
    preflight: Decision | None = None
    expires: float | None = None

    @classmethod
    def build(
        cls,
        rule: Rule,
        source: int | None,
        headers: Headers,
        csrf: bool = False,
        origin: str | None = None,
        *,
        prebuilt: bool = True,
    ) -> Grant:
        """The grant for ``rule``; ``origin`` is its serialization, when the caller has it already."""
        origin = rule.serialize() if origin is None else origin
        # A pattern and an any-port rule echo the origin they matched.
        if rule.wildcard or rule.port == ANY_PORT or not prebuilt:
            return cls(rule, origin, source, headers, csrf and not rule.wildcard and rule.port != ANY_PORT)
        echo = (ACCESS_CONTROL_ALLOW_ORIGIN, origin)
        return cls(
            rule,
            origin,
            source,
            headers,
            csrf,
            Decision(Kind.ACTUAL, True, Reason.ALLOWED, (echo, *headers.actual), rule, source),
            Decision(Kind.PREFLIGHT, True, Reason.ALLOWED, (echo, *headers.preflight), rule, source),
        )

    def allow(self, kind: Kind, origin: str) -> Decision:
        """The allowed decision for ``origin``, which this grant matched."""
        prebuilt = self.actual if kind is Kind.ACTUAL else self.preflight
        if prebuilt is not None:
            return prebuilt
        tail = self.headers.actual if kind is Kind.ACTUAL else self.headers.preflight
        return Decision(
            kind, True, Reason.ALLOWED, ((ACCESS_CONTROL_ALLOW_ORIGIN, origin), *tail), self.rule, self.source
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """A named policy, compiled: its own grants and headers.

    ``any_origin`` is set for an ``ALLOW_ALL_ORIGINS`` policy: the one grant
    that answers ``Access-Control-Allow-Origin: *`` (never with credentials)
    to every origin; its ``index`` is then empty.
    """

    name: str
    index: Index[Grant]
    headers: Headers
    any_origin: Grant | None = None
    rows: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision needs, compiled once per change and never mutated.

    ``index`` and ``headers`` are the default policy's, so that its decisions
    cost what they cost before named policies existed; ``policies`` holds
    the named ones.
    """

    index: Index[Grant]
    headers: Headers
    rows: int = field(default=0)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    #: The earliest expiry of a grant it holds (seconds since the epoch), or
    #: ``None``: the store swaps in :meth:`without_expired` when it passes.
    next_expiry: float | None = None

    def lookup(self, origin: str) -> Grant | None:
        """The grant allowing a (length-bounded) wire origin in the default policy, else ``None``."""
        return self.index.lookup(origin)

    def headers_of(self, policy: str) -> Headers:
        """The response headers of ``policy``; the default's for an unknown name."""
        named = self.policies.get(policy)
        return self.headers if named is None else named.headers

    def trusts_for_csrf(self, origin: str) -> bool:
        """Whether Django's CSRF origin check may accept ``origin``.

        Exact origins only: a pattern covers hosts nobody has reviewed (any
        subdomain, including one taken over or user-controlled); nor does a
        policy that allows every origin trust any.  Which exact origins are
        trusted was decided per grant when the snapshot was compiled.
        """
        grant = self.index.exact.get(origin)
        if grant is not None and grant.csrf:
            return True
        for named in self.policies.values():
            grant = named.index.exact.get(origin)
            if grant is not None and grant.csrf:
                return True
        return False

    def without_expired(self, now: float) -> Snapshot:
        """This snapshot without the grants expired at ``now`` (itself when none has).

        Built from the grants already compiled: nothing is parsed or read
        again, so a store can swap it in the moment an expiry passes.
        Settings grants never expire, and a row shadowed by a settings entry
        was never in the index, so this is what compiling the rows again
        at ``now`` would give.
        """
        if self.next_expiry is None or now < self.next_expiry:
            return self
        index, rows = _unexpired(self.index, self.rows, now)
        policies = {}
        for name, policy in self.policies.items():
            kept, count = _unexpired(policy.index, policy.rows, now)
            policies[name] = Policy(name, kept, policy.headers, policy.any_origin, count)
        return Snapshot(index, self.headers, rows, MappingProxyType(policies), _next_expiry(index, policies.values()))

    @property
    def settings_rules(self) -> tuple[Rule, ...]:
        return tuple(grant.rule for grant in self.index if grant.source is None)


def _grants(
    headers: Headers,
    settings_rules: Iterable[Rule],
    rows: Iterable[Row],
    trusted: Callable[[str], bool],
    trusted_rows: Container[int],
    rows_trusted: bool,
    now: float,
) -> tuple[list[Grant], int]:
    grants = [Grant.build(rule, None, headers, trusted(rule.serialize())) for rule in settings_rules]
    count = len(grants)
    # Measured on 100,000 rows (2 cores, Python 3.11): 1.4 s with both
    # decisions prebuilt per row, against the 0.5 s a cold load may take.
    grants += (
        Grant(rule, origin, pk, headers, (rows_trusted or pk in trusted_rows) and not rule.wildcard, None, None, at)
        for rule, origin, pk, at in rows
        if at is None or at > now
    )
    return grants, len(grants) - count


def _unexpired(index: Index[Grant], rows: int, now: float) -> tuple[Index[Grant], int]:
    kept = [grant for grant in index if grant.expires is None or grant.expires > now]
    return compile_index(kept), rows - (len(index) - len(kept))


def _next_expiry(index: Index[Grant], policies: Iterable[Policy]) -> float | None:
    # The earliest expiry among the rows of every policy: settings never expire.
    grants = itertools.chain(index, *(policy.index for policy in policies))
    return min((grant.expires for grant in grants if grant.expires is not None), default=None)


def compile_policy(
    name: str,
    headers: Headers,
    settings_rules: Iterable[Rule] = (),
    rows: Iterable[Row] = (),
    *,
    allow_all: bool = False,
    trusted_rows: Container[int] = frozenset(),
    now: float = -math.inf,
) -> Policy:
    """Compile a named policy: its settings rules, then its rows (see :data:`Row`).

    ``trusted_rows`` are the ids of rows whose ``trust_for_csrf`` is set;
    rows expired at ``now`` are left out.
    """
    if allow_all:
        # Fetch §3.2.5: "*" is the one answer that needs no echo, and the
        # browser refuses it on a credentialed request: never send
        # Access-Control-Allow-Credentials with it.
        star = (ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        actual = tuple(pair for pair in headers.actual if pair[0] != ACCESS_CONTROL_ALLOW_CREDENTIALS)
        preflight = tuple(pair for pair in headers.preflight if pair[0] != ACCESS_CONTROL_ALLOW_CREDENTIALS)
        any_origin = Grant(
            ANY_ORIGIN,
            "*",
            None,
            headers,
            False,
            Decision(Kind.ACTUAL, True, Reason.ALLOWED, (star, *actual), ANY_ORIGIN),
            Decision(Kind.PREFLIGHT, True, Reason.ALLOWED, (star, *preflight), ANY_ORIGIN),
        )
        return Policy(name, compile_index(()), headers, any_origin)
    grants, count = _grants(headers, settings_rules, rows, lambda origin: False, trusted_rows, False, now)
    return Policy(name, compile_index(grants), headers, rows=count)


def compile_snapshot(
    headers: Headers,
    settings_rules: Iterable[Rule],
    rows: Iterable[Row] = (),
    *,
    trust_for_csrf: bool = False,
    csrf_origins: Container[str] | None = None,
    trusted_rows: Container[int] = frozenset(),
    policies: Iterable[Policy] = (),
    now: float = -math.inf,
) -> Snapshot:
    """Compile the default policy's settings rules, then its database rows, into a :class:`Snapshot`.

    A row is (rule, its serialization, row id, expiry in seconds since the
    epoch or ``None``); rows expired at ``now`` are left out.  When a rule
    appears in both, the settings entry wins, so explanations name it.
    With ``trust_for_csrf``, the exact origins in ``csrf_origins`` (every
    one when it is ``None``) are trusted for CSRF, and so are all rows when
    it is ``None``; rows whose id is in ``trusted_rows`` are trusted either
    way.
    """

    def trusted(origin: str) -> bool:
        return trust_for_csrf and (csrf_origins is None or origin in csrf_origins)

    rows_trusted = trust_for_csrf and csrf_origins is None
    grants, count = _grants(headers, settings_rules, rows, trusted, trusted_rows, rows_trusted, now)
    index = compile_index(grants)
    named = {policy.name: policy for policy in policies}
    return Snapshot(index, headers, count, MappingProxyType(named), _next_expiry(index, named.values()))
