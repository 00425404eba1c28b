"""The listed rules a refused origin nearly matches: scheme, loopback name, apex, ``www.``, port, look-alike host.

Used by :mod:`credcors.core.diagnose.nearmiss`; it walks the snapshot's grants and
their :class:`~credcors.core.origins.Rule`, never re-parsed strings.  Pure.
"""

from __future__ import annotations

from credcors.core.diagnose.reasons import describe_source
from credcors.core.grants import Grant
from credcors.core.matcher import Index
from credcors.core.origins import Rule
from credcors.core.snapshot import Snapshot

__all__ = ["near_misses"]

# Loopback names a developer's page may run on: each is its own origin to a
# browser, and a list with one of them refuses the others.
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def near_misses(
    snapshot: Snapshot,
    origin: str,
    rule: Rule,
    *,
    came_from: str = "this request came from",
    skip: int | None = None,
    index: Index[Grant] | None = None,
) -> list[tuple[str, str, str]]:
    """Listed rules ``origin`` nearly matches, as (cause, message, fix).

    The first one found is the verdict; the others become hints.  ``origin``
    is wire-valid (printable ASCII, bounded) and ``rule`` is its parse.
    The admin asks about a row being saved: ``came_from`` then words the
    origin as a row, and ``skip`` leaves out that row's own grant.
    ``index`` is the policy's allow-list to compare with (default: the
    default policy's).
    """
    index = snapshot.default.index if index is None else index
    scheme, host, port = rule.scheme, rule.host, rule.port
    found: list[tuple[str, str, str]] = []

    def you_allowed(grant: Grant) -> str:
        return f"you allowed {grant.origin} ({describe_source(grant.source)}); {came_from} {origin}"

    def allowed_as(other_scheme: str, other_host: str, other_port: int | None) -> Grant | None:
        candidate = Rule(other_scheme, other_host, other_port)
        grant = index.exact_grant(candidate.serialize()) or index.lookup_pattern(other_scheme, other_host, other_port)
        return None if grant is None or (skip is not None and grant.source == skip) else grant

    other = "https" if scheme == "http" else "http"
    grant = allowed_as(other, host, port)
    if grant is not None:
        found.append(
            (
                "scheme-differs",
                f"{you_allowed(grant)}: the scheme differs ({scheme} vs {other}).",
                f"Allow {origin} itself, or open the page over {other}://.",
            )
        )
    if host in _LOOPBACK_HOSTS:
        for alias in _LOOPBACK_HOSTS:
            grant = None if alias == host else allowed_as(scheme, alias, port)
            if grant is not None:
                found.append(
                    (
                        "loopback-differs",
                        f"{you_allowed(grant)}: localhost, 127.0.0.1 and [::1] all reach this machine, "
                        "but to a browser they are three different origins.",
                        f"Open the page at {grant.origin}, or allow {origin} too.",
                    )
                )
    apex = index.patterns.get((scheme, port), {}).get(host)
    if apex is not None:
        found.append(
            (
                "apex-not-covered",
                f"the pattern {apex.origin} ({describe_source(apex.source)}) covers subdomains of {host} "
                f"but never {host} itself.",
                f"Also allow {origin} exactly: in the admin, with 'manage.py credcors add {origin}', "
                "or in CREDCORS['ALLOWED_ORIGINS'].",
            )
        )
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    grant = None if apex is not None or host.startswith("[") else allowed_as(scheme, twin, port)
    if grant is not None:
        found.append(
            (
                "www-differs",
                f"{you_allowed(grant)}: one has 'www.' and the other does not, and they are different origins.",
                f"Allow {origin} too, or redirect one host name to the other.",
            )
        )
    for grant in _same_host_other_port(index, scheme, host, port, skip):
        theirs = "the default port" if grant.rule.port is None else f"port {grant.rule.port}"
        ours = "the default port" if port is None else f"port {port}"
        found.append(
            (
                "port-differs",
                f"{you_allowed(grant)}: the port differs ({ours} here, {theirs} in the rule).",
                f"Allow {origin} itself: an origin includes its port.",
            )
        )
    for grant, run in _look_alikes(index, scheme, host, port, skip):
        found.append(
            (
                "look-alike-host",
                f"{you_allowed(grant)}: its host contains {run} but is not under it, so it is another site, "
                "whoever registered it.",
                f"Allow {origin} only if it is yours too: anyone can register a name that contains yours.",
            )
        )
    return found


def _look_alikes(
    index: Index[Grant], scheme: str, host: str, port: int | None, skip: int | None
) -> list[tuple[Grant, str]]:
    # An allowed host, or a pattern's base, that appears in ``host`` as whole
    # labels but not at its end: app.example.com.evil.net next to
    # https://app.example.com or https://*.example.com.  At most one lookup
    # per run of labels: bounded by the 253-character host, a handful for a
    # real one.
    if host.startswith("["):
        return []
    labels = host.split(".")
    bases = index.patterns.get((scheme, port), {})
    found: list[tuple[Grant, str]] = []
    for start in range(len(labels) - 1):
        for end in range(start + 1, len(labels)):
            run = ".".join(labels[start:end])
            grant = index.exact_grant(Rule(scheme, run, port).serialize()) or bases.get(run)
            if grant is not None and (skip is None or grant.source != skip):
                found.append((grant, run))
    return found[:5]


def _same_host_other_port(
    index: Index[Grant], scheme: str, host: str, port: int | None, skip: int | None
) -> list[Grant]:
    # One pass over the allow-list: explanations may cost O(n), requests never.
    found: list[Grant] = []
    for grant in index:
        rule = grant.rule
        if rule.scheme != scheme or rule.port == port or (skip is not None and grant.source == skip):
            continue
        if rule.host == host if not rule.wildcard else host.endswith(f".{rule.host}"):
            found.append(grant)
    return found[:5]
