"""One allowed origin or pattern, with everything its answers need: a :class:`Grant`.

:mod:`credcors.core.snapshot` compiles them; :mod:`credcors.core.matcher` and
:mod:`credcors.core.rowmap` index them.  Pure: never imports Django.
"""

from __future__ import annotations

from typing import NamedTuple

from credcors.core.decision import Decision, Headers, Kind, Reason
from credcors.core.fetch import ACCESS_CONTROL_ALLOW_ORIGIN
from credcors.core.origins import ANY_PORT, Rule

__all__ = ["Grant", "grant_of"]


class Grant(NamedTuple):
    """One allowed origin or pattern, with everything its answers need.

    ``actual`` and ``preflight`` are the prebuilt allowed decisions of an
    exact origin from settings.  A pattern cannot prebuild them (it echoes
    the origin it matched), and neither does a database row: there may be a
    million, whose grants a :class:`~credcors.core.rowmap.RowMap` builds only when
    a request asks; :meth:`allow` builds their decisions, one tuple per
    request.  ``csrf`` says whether Django's CSRF origin check may trust it.
    ``expires`` is a row's expiry in seconds since the epoch (``None``:
    never); the request path never reads it, the snapshot that holds the
    grant is replaced by one without it when it passes (see
    :meth:`~credcors.core.snapshot.Snapshot.without_expired`).  A tuple: cheaper
    to build than a frozen dataclass.
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
    ) -> Grant:
        """The grant for ``rule``; ``origin`` is its serialization, when the caller has it already."""
        origin = rule.serialize() if origin is None else origin
        # A pattern and an any-port rule echo the origin they matched.
        if rule.wildcard or rule.port == ANY_PORT:
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

    def for_origin(self, origin: str) -> Grant:
        """This grant with its answers prebuilt for ``origin``, one wire origin it matched.

        A row's or a pattern's grant cannot prebuild them for every origin
        it allows; the index's cache keeps this one per origin it answered,
        so a repeated request is answered as a settings origin is.
        """
        if self.actual is not None:
            return self
        echo = (ACCESS_CONTROL_ALLOW_ORIGIN, origin)
        headers, rule, source = self.headers, self.rule, self.source
        return self._replace(
            actual=Decision(Kind.ACTUAL, True, Reason.ALLOWED, (echo, *headers.actual), rule, source),
            preflight=Decision(Kind.PREFLIGHT, True, Reason.ALLOWED, (echo, *headers.preflight), rule, source),
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


#: Builds the named tuple from a tuple at C speed (its own ``__new__`` is Python code with keyword handling).
_new = tuple.__new__


def grant_of(rule: Rule, origin: str, pk: int, headers: Headers, csrf: bool, expires: float | None) -> Grant:
    """The grant of one database row: the one place a row becomes a grant.

    Used at compile time (a pattern or any-port row) and per request by
    :class:`~credcors.core.rowmap.RowMap` (an exact row, built when asked), so
    both give the same grant.  Nothing prebuilt: a row's answers are built
    per origin and cached by the index (:meth:`Grant.for_origin`).  The
    caller has decided ``csrf`` from the policy (credentials, trust).
    """
    return _new(Grant, (rule, origin, pk, headers, csrf, None, None, expires))
