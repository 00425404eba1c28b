"""The settings half of the effective allow-list, as the change list shows it beside the rows."""

from __future__ import annotations

from dataclasses import dataclass

from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY

__all__ = ["SettingsEntry", "settings_entries", "settings_total"]


@dataclass(frozen=True, slots=True)
class SettingsEntry:
    """One entry of an ``ALLOWED_ORIGINS`` in settings, canonical, with the policy it belongs to."""

    origin: str
    pattern: bool
    policy: str = DEFAULT_POLICY


def settings_entries(config: Config, query: str = "") -> list[SettingsEntry]:
    """The settings' origins and patterns, of every policy, whose text contains every word of ``query`` (any case).

    Words are matched the way the admin's search matches rows: each word
    must appear somewhere, in the origin or the policy's name.  An
    ``ALLOW_ALL_ORIGINS`` policy shows as one entry, ``*``.
    """
    words = query.lower().split()
    entries: list[SettingsEntry] = []
    for policy in config.policies.values():
        if policy.allow_all:
            entries.append(SettingsEntry("*", True, policy.name))
        entries += (SettingsEntry(rule.serialize(), rule.wildcard, policy.name) for rule in policy.rules)
    return [entry for entry in entries if all(word in f"{entry.origin} {entry.policy}" for word in words)]


def settings_total(config: Config) -> int:
    """How many entries :func:`settings_entries` lists without a search."""
    return sum(len(policy.rules) + policy.allow_all for policy in config.policies.values())
