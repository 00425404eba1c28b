"""The CSRF trust an ``AllowedOrigin`` row has, and why: one rule for every place staff look.

The snapshot decides trust per grant when it is compiled
(:mod:`credcors.core.snapshot`), for the rows in force only.  The admin's
column, filter and form, ``credcors list`` and ``credcors explain`` must say
the same thing for every row, also a disabled, expired or not yet loaded one,
so they ask :func:`row_trust`, which restates the compiler's rule from the
settings alone; a test holds the two to the same answer for every row in
force.  The rule (unchanged since 0.2): a row is trusted when its box is
ticked, or, on the default policy, when ``TRUST_FOR_CSRF`` is ``True``;
a pattern never is; a policy that sends no credentials, or takes no rows,
trusts nobody; and a settings entry of the same origin in the row's policy
shadows the row, so the settings decide.  Pure: never imports Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

from credcors.core.config import Config
from credcors.core.origins import ANY_PORT

__all__ = ["PolicyTrust", "RowTrust", "TrustReason", "policy_trust", "row_trust", "settings_trust"]


class TrustReason(Enum):
    """Why a row is, or is not, trusted for CSRF; the value is a stable code for machines."""

    TICKED = "ticked"
    POLICY = "policy-trusts-every-row"
    SETTINGS_TRUSTED = "settings-entry-trusted"
    NOT_TICKED = "not-ticked"
    PATTERN = "pattern"
    NO_CREDENTIALS = "no-credentials"
    TAKES_NO_ROWS = "policy-takes-no-rows"
    NO_POLICY = "policy-not-configured"
    SETTINGS_UNTRUSTED = "settings-entry-not-trusted"


#: What the admin's column says in its cell: short, beside four other columns.
LABELS: Mapping[TrustReason, str] = MappingProxyType(
    {
        TrustReason.TICKED: "yes (ticked)",
        TrustReason.POLICY: "yes (by TRUST_FOR_CSRF)",
        TrustReason.SETTINGS_TRUSTED: "yes (the settings entry decides)",
        TrustReason.NOT_TICKED: "no",
        TrustReason.PATTERN: "no (a pattern: never)",
        TrustReason.NO_CREDENTIALS: "no (the policy sends no credentials)",
        TrustReason.TAKES_NO_ROWS: "no (the policy takes no rows)",
        TrustReason.NO_POLICY: "no (the policy is not configured)",
        TrustReason.SETTINGS_UNTRUSTED: "no (the settings entry decides)",
    }
)

#: Why, in a sentence: the column's hover text, ``list`` and ``explain``.
SENTENCES: Mapping[TrustReason, str] = MappingProxyType(
    {
        TrustReason.TICKED: "its trust_for_csrf box is ticked",
        TrustReason.POLICY: "CREDCORS['TRUST_FOR_CSRF'] is True, which trusts every exact row of the default "
        "policy, ticked or not",
        TrustReason.SETTINGS_TRUSTED: "the settings entry of this origin in its policy decides, and "
        "TRUST_FOR_CSRF trusts it",
        TrustReason.NOT_TICKED: "its trust_for_csrf box is not ticked",
        TrustReason.PATTERN: "a pattern is never trusted for CSRF: it covers hosts nobody has reviewed",
        TrustReason.NO_CREDENTIALS: "its policy sends no credentials, so it trusts nobody for CSRF",
        TrustReason.TAKES_NO_ROWS: "its policy takes no rows (ALLOW_ALL_ORIGINS, or USE_DATABASE is False)",
        TrustReason.NO_POLICY: "its policy is not in CREDCORS['POLICIES']",
        TrustReason.SETTINGS_UNTRUSTED: "the settings entry of this origin in its policy decides, and "
        "TRUST_FOR_CSRF does not trust it",
    }
)


#: Who trusts a trusted row, as a listing says it after "trusted for CSRF" (the box: nothing to add).
_BY: Mapping[TrustReason, str] = MappingProxyType(
    {TrustReason.POLICY: " by TRUST_FOR_CSRF", TrustReason.SETTINGS_TRUSTED: " by its settings entry"}
)


class RowTrust(NamedTuple):
    """A row's CSRF trust while in force (``trusted``), and why (``reason``)."""

    trusted: bool
    reason: TrustReason

    @property
    def label(self) -> str:
        """The admin cell's words, e.g. ``yes (by TRUST_FOR_CSRF)``."""
        return LABELS[self.reason]

    @property
    def sentence(self) -> str:
        """Why, in words: ``trusted for CSRF: its trust_for_csrf box is ticked``."""
        return f"{'trusted' if self.trusted else 'not trusted'} for CSRF: {SENTENCES[self.reason]}"

    def words(self, ticked: bool) -> str:
        """What ``credcors list`` says of a row whose box is ``ticked``; empty for a row neither trusted nor ticked.

        ``trusted for CSRF``, ``trusted for CSRF by TRUST_FOR_CSRF``, or, for
        a ticked box that counts for nothing, why not.
        """
        if self.trusted:
            return f"trusted for CSRF{_BY.get(self.reason, '')}"
        return f"ticked for CSRF but not trusted: {SENTENCES[self.reason]}" if ticked else ""


class PolicyTrust(NamedTuple):
    """What a policy's settings decide about the CSRF trust of its rows.

    ``rows`` is false when no row of the policy can be trusted (``why``
    says why); ``every_row`` when each exact row is trusted, ticked or not;
    ``settings`` maps the policy's exact settings origins, which shadow a row
    of the same origin, to their own trust.
    """

    rows: bool
    every_row: bool
    settings: Mapping[str, bool]
    why: TrustReason | None = None


_NO_SETTINGS: Mapping[str, bool] = MappingProxyType({})


def policy_trust(config: Config, policy: str) -> PolicyTrust:
    """The CSRF trust ``policy`` gives its rows, as :mod:`credcors.core.compile` compiles it."""
    settings = config.policy(policy)
    if settings is None:
        return PolicyTrust(False, False, _NO_SETTINGS, TrustReason.NO_POLICY)
    if not config.takes_rows(policy):
        return PolicyTrust(False, False, _NO_SETTINGS, TrustReason.TAKES_NO_ROWS)
    if not settings.credentials:
        return PolicyTrust(False, False, _NO_SETTINGS, TrustReason.NO_CREDENTIALS)
    exact = (rule.serialize() for rule in settings.rules if not rule.wildcard and rule.port != ANY_PORT)
    trusted = {origin: origin in settings.csrf_origins for origin in exact}
    return PolicyTrust(True, settings.trust_rows, MappingProxyType(trusted))


def row_trust(config: Config, origin: str, policy: str, ticked: bool) -> RowTrust:
    """The CSRF trust of the row ``origin`` (canonical) of ``policy``, box ``ticked``, while it is in force.

    The same answer for a disabled, expired or not yet loaded row: the trust
    it has once it is in force under these settings.
    """
    facts = policy_trust(config, policy)
    if facts.why is not None:
        return RowTrust(False, facts.why)
    if "*" in origin:  # A *. pattern, or an any-port origin: never exact.
        return RowTrust(False, TrustReason.PATTERN)
    shadowing = facts.settings.get(origin)
    if shadowing is not None:
        return RowTrust(shadowing, TrustReason.SETTINGS_TRUSTED if shadowing else TrustReason.SETTINGS_UNTRUSTED)
    if facts.every_row:
        return RowTrust(True, TrustReason.POLICY)
    return RowTrust(ticked, TrustReason.TICKED if ticked else TrustReason.NOT_TICKED)


def settings_trust(config: Config, origin: str, policy: str) -> RowTrust:
    """The CSRF trust of the settings entry ``origin`` (its serialization) of ``policy``, and why."""
    settings = config.policy(policy)
    if settings is None:
        return RowTrust(False, TrustReason.NO_POLICY)
    if "*" in origin:
        return RowTrust(False, TrustReason.PATTERN)
    if not settings.credentials or settings.allow_all:
        return RowTrust(False, TrustReason.NO_CREDENTIALS)
    trusted = origin in settings.csrf_origins
    return RowTrust(trusted, TrustReason.SETTINGS_TRUSTED if trusted else TrustReason.SETTINGS_UNTRUSTED)
