"""The settings half of the effective allow-list, as the change list shows it beside the rows."""

from __future__ import annotations

from dataclasses import dataclass

from credcors.conf import Config

__all__ = ["SettingsEntry", "settings_entries"]


@dataclass(frozen=True, slots=True)
class SettingsEntry:
    """One entry of ``CREDCORS["ALLOWED_ORIGINS"]``, canonical."""

    origin: str
    pattern: bool


def settings_entries(config: Config, query: str = "") -> list[SettingsEntry]:
    """The settings' origins and patterns whose text contains every word of ``query`` (any case).

    Words are matched the way the admin's search matches rows: each word
    must appear somewhere.
    """
    words = query.lower().split()
    entries = [SettingsEntry(rule.serialize(), rule.wildcard) for rule in config.rules]
    return [entry for entry in entries if all(word in entry.origin for word in words)]
