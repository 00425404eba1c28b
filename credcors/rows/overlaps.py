"""Warnings about a row that overlaps the allow-list; they never block a save.

Three cases, each found by the diagnosis code ``explain`` uses
(:func:`~credcors.core.diagnose.row_candidates` for what covers an origin,
:func:`~credcors.core.diagnose.nearby.near_misses` for near misses) and the
matcher itself for what a pattern covers:

- a row that a settings entry or an enabled pattern already covers;
- an enabled pattern that covers disabled or expired rows (listed, bounded);
- an origin that differs from an allowed one only by scheme, port or ``www.``.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from credcors.core.catalogue import allow_all_takes_no_rows, shadowed_trust
from credcors.core.compile import compile_settings
from credcors.core.config import Config
from credcors.core.diagnose import describe_source, row_candidates
from credcors.core.diagnose.nearby import near_misses
from credcors.core.matcher import compile_index
from credcors.core.origins import OriginError, Rule, parse_rule
from credcors.core.quoting import scrub
from credcors.core.snapshot import Snapshot
from credcors.store.reads import read_rows

__all__ = ["MAX_LISTED", "overlap_warnings", "unused_row_warnings"]

#: How many covered disabled rows a warning names before "and N more".
MAX_LISTED = 10
#: How many disabled rows under a pattern are looked at, at most.
_SCANNED = 1000
# The near misses that are usually typos, of those explain knows.
_TYPO_CAUSES = ("scheme-differs", "www-differs", "port-differs")


class _Probe(NamedTuple):
    # What the matcher indexes: a rule and its serialization.
    rule: Rule
    origin: str


def overlap_warnings(config: Config, snapshot: Snapshot, origin: str, enabled: bool, pk: int | None) -> list[str]:
    """What the saved row ``origin`` (row ``pk``) overlaps, in words; empty when nothing.

    ``snapshot`` is this process's current allow-list.  A database that
    cannot be read gives one line saying the rows were not compared.
    """
    try:
        rule = parse_rule(origin, allow_insecure=True)
    except OriginError:
        return []  # Only valid rows are saved; a row written around the model allows nothing.
    try:
        warnings = _covered(config, rule, origin, enabled, pk)
        if rule.wildcard and enabled:
            warnings += _covers_disabled(rule, origin)
    except DatabaseError as exc:
        return [f"Could not compare {origin} with the other rows ({type(exc).__name__})."]
    # An origin already allowed is no typo, though its www. twin may be allowed too.
    if enabled and not rule.wildcard and not warnings:
        near = near_misses(snapshot, origin, rule, came_from="this row allows", skip=pk)
        warnings += [
            f"Is this a typo? {message[0].upper()}{message[1:]}" for cause, message, _ in near if cause in _TYPO_CAUSES
        ]
    return warnings


def unused_row_warnings(config: Config, origin: str, policy: str, trust_for_csrf: bool) -> list[str]:
    """What of the row ``origin`` of ``policy`` is not in force, in words: the checks W010 and W009, for one row.

    A row of an ``ALLOW_ALL_ORIGINS`` policy allows nothing; a row that
    repeats a settings origin of its policy is never compiled, so its CSRF
    trust is the settings entry's.
    """
    named = config.policies.get(policy)
    if named is not None and named.allow_all:
        return [f"{allow_all_takes_no_rows(policy)}: this row allows nothing, and its CSRF trust counts nowhere."]
    credentials = (named or config.default_policy).credentials
    grant = compile_settings(config).exact_grant(origin, policy)
    if grant is None or (trust_for_csrf and credentials) == grant.csrf:
        return []
    return [shadowed_trust(origin, policy, grant.csrf).msg]


def _covered(config: Config, rule: Rule, origin: str, enabled: bool, pk: int | None) -> list[str]:
    # An exact origin is covered by itself in settings and by each pattern
    # above it; a pattern by itself in settings and by each broader pattern.
    if rule.wildcard:
        base = Rule(rule.scheme, rule.host, rule.port).serialize()
        candidates = [origin, *row_candidates(base)[1:]]
    else:
        candidates = row_candidates(origin)
    settings = {entry.serialize() for entry in config.default_policy.rules}
    covering = [(candidate, describe_source(None)) for candidate in candidates if candidate in settings]
    if config.reads_database:
        # A covering row counts where its policy takes rows, whichever policy that is.
        rows = read_rows(origins=candidates[1:], fields=("pk", "origin", "enabled", "policy"))
        covering += [
            (row_origin, describe_source(row_pk))
            for row_pk, row_origin, on, policy in rows
            if on and row_pk != pk and config.takes_rows(policy)
        ]
    what = f"every origin {origin} covers" if rule.wildcard else origin
    if enabled:
        return [
            f"Already allowed: {by} ({source}) allows {what}, so this row changes nothing while that entry stays."
            for by, source in covering
        ]
    return [
        f"Still allowed: {by} ({source}) allows {what}, so disabling this row does not refuse it."
        for by, source in covering
    ]


def _covers_disabled(rule: Rule, origin: str) -> list[str]:
    # The database narrows by prefix and suffix; the matcher decides.
    from credcors.models import AllowedOrigin

    suffix = "" if rule.port is None else f":{rule.port}"
    index = compile_index([_Probe(rule, origin)])
    # Disabled or expired: rows someone turned off, which the pattern turns back on.
    off = Q(enabled=False) | Q(expires_at__lte=timezone.now())
    rows = AllowedOrigin.objects.filter(
        off, origin__startswith=f"{rule.scheme}://", origin__endswith=f".{rule.host}{suffix}"
    ).order_by("origin")
    # A savepoint: a failed read must not poison the admin's transaction.
    with transaction.atomic(using=rows.db):
        found = list(rows.values_list("origin", flat=True)[:_SCANNED])
    covered = [row for row in found if index.lookup(row) is not None]
    if not covered:
        return []
    named = ", ".join(scrub(row, 300) for row in covered[:MAX_LISTED])
    more = f" and {len(covered) - MAX_LISTED} more" if len(covered) > MAX_LISTED else ""
    rows_word = "row" if len(covered) == 1 else "rows"
    return [
        f"Covers disabled or expired rows: {origin} allows the origins of {len(covered)} disabled or expired "
        f"{rows_word}, which stay as they are but are allowed through the pattern: {named}{more}."
    ]
