"""Compile many allow-list rules into one immutable, size-independent lookup.

Exact origins go into a dict keyed by their serialization, so matching a
request's ``Origin`` is one hash lookup.  Patterns (``https://*.example.com``)
go into a dict keyed by (scheme, port) and then by the host after ``*.``;
matching walks the request host's label suffixes, so its cost is bounded by
the number of labels in the *request* (at most 127), never by the number of
patterns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from credcors.origins import Rule, split_wire_origin

__all__ = ["Matcher", "compile_rules"]


_PATTERN_MEMO_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Matcher:
    """Answers "which rule allows this origin?" in time independent of size.

    ``exact`` maps a canonical origin to the label of the source that listed
    it; ``patterns`` maps (scheme, port) to {base host: source label}.
    """

    exact: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    patterns: Mapping[tuple[str, int | None], Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    # Answers of the pattern walk, per origin: a memo, not state (the walk is
    # pure).  Bounded, since clients choose the origins they send.
    _pattern_memo: dict[str, tuple[str, str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.exact) + sum(len(hosts) for hosts in self.patterns.values())

    def match(self, origin: str) -> tuple[str, str] | None:
        """Return (rule, source) for an allowed wire origin, else ``None``.

        ``origin`` is the request header as received; callers must already
        have refused values longer than ``origins.MAX_ORIGIN_LENGTH``.
        """
        source = self.exact.get(origin)
        if source is not None:
            return origin, source
        if not self.patterns:
            return None
        memo = self._pattern_memo
        if origin in memo:
            return memo[origin]
        if len(memo) >= _PATTERN_MEMO_SIZE:
            memo.clear()
        hit = memo[origin] = self._match_pattern(origin)
        return hit

    def _match_pattern(self, origin: str) -> tuple[str, str] | None:
        parts = split_wire_origin(origin)
        if parts is None:
            return None
        scheme, host, port = parts
        bases = self.patterns.get((scheme, port))
        if bases is None:
            return None
        # Try each proper suffix of the host, shortest prefix first: for
        # "a.b.example.com" that is "b.example.com", then "example.com", ...
        # A pattern never matches its own base host (the apex).
        dot = host.find(".")
        while dot != -1:
            base = host[dot + 1 :]
            source = bases.get(base)
            if source is not None:
                suffix = "" if port is None else f":{port}"
                return f"{scheme}://*.{base}{suffix}", source
            dot = host.find(".", dot + 1)
        return None


def compile_rules(rules: Iterable[tuple[Rule, str]], exact_origins: Iterable[tuple[str, str]] = ()) -> Matcher:
    """Build a :class:`Matcher` from (canonical rule, source label) pairs.

    ``exact_origins`` are (origin, source label) pairs for exact origins that
    are already canonical and validated (see
    :func:`credcors.origins.is_canonical_exact_origin`); they come after
    ``rules``.  When a rule appears twice, the first source wins: callers pass
    settings before database rows so explanations name the settings entry.
    """
    exact: dict[str, str] = {}
    patterns: dict[tuple[str, int | None], dict[str, str]] = {}
    for rule, source in rules:
        if rule.wildcard:
            patterns.setdefault(rule.key, {}).setdefault(rule.host, source)
        else:
            exact.setdefault(rule.serialize(), source)
    for origin, source in exact_origins:
        exact.setdefault(origin, source)
    return Matcher(
        exact=MappingProxyType(exact),
        patterns=MappingProxyType({key: MappingProxyType(hosts) for key, hosts in patterns.items()}),
    )
