"""Convert django-cors-headers' origin settings: ``CORS_ALLOWED_ORIGINS`` and its regexes.

:class:`OriginConverter` is the part of :func:`credcors.convert.convert_settings`
that turns ``CORS_ALLOWED_ORIGINS`` and ``CORS_ALLOWED_ORIGIN_REGEXES`` (and
their legacy names) into ``ALLOWED_ORIGINS`` entries.  Every origin goes
through :func:`credcors.core.origins.parse_rule`, the validator the middleware
uses; whatever it refuses is left out (fail closed) and reported.  Regular
expressions are translated only when they have an exact or clearly described
``*.`` pattern equivalent (:mod:`credcors.convert.regex`); the rest are
reported, never guessed.
"""

from __future__ import annotations

import re

from credcors.convert.reading import MISSING, SettingsReader
from credcors.convert.regex import WiderPattern, regex_to_patterns
from credcors.core.origins import OriginError, parse_rule

__all__ = ["OriginConverter"]


class OriginConverter(SettingsReader):
    """Reads the origin settings of django-cors-headers into canonical ``ALLOWED_ORIGINS`` entries."""

    def origins(self, credentials: bool) -> list[str]:
        name, values = self.get_aliased("CORS_ALLOWED_ORIGINS")
        if values is MISSING:
            return []
        if isinstance(values, str) or not isinstance(values, (list, tuple)):
            self.find(name, values, "refused", "Not a list or tuple of origins; nothing converted.", "Write a list.")
            return []
        converted: list[str] = []
        for value in values:
            origin = self.origin(name, value, credentials)
            if origin is not None:
                converted.append(origin)
        return converted

    def origin(self, name: str, value: object, credentials: bool, *, source: object = None) -> str | None:
        try:
            rule = parse_rule(value, credentials=credentials)
        except OriginError as exc:
            self.find(name, value if source is None else source, "refused", f"{value!r}: {exc.problem}.", exc.hint)
            return None
        canonical = rule.serialize()
        if source is None and canonical != value:
            self.find(name, value, "note", f"Written as {canonical!r}, the form browsers send in Origin.")
        return canonical

    def regexes(self, credentials: bool) -> list[str]:
        name, values = self.get_aliased("CORS_ALLOWED_ORIGIN_REGEXES")
        if values is MISSING:
            return []
        if isinstance(values, (str, re.Pattern)) or not isinstance(values, (list, tuple)):
            self.find(name, values, "refused", "Not a list or tuple of regexes; nothing converted.", "Write a list.")
            return []
        converted: list[str] = []
        for value in values:
            pattern = value.pattern if isinstance(value, re.Pattern) else value
            if not isinstance(pattern, str):
                self.find(name, value, "refused", "Not a regular expression string.", "")
                continue
            try:
                translation = regex_to_patterns(pattern)
            except WiderPattern as exc:
                self.find(name, pattern, "refused", exc.problem, self._wider_hint(exc.origins, credentials))
                continue
            if translation is None:
                self.find(
                    name,
                    pattern,
                    "refused",
                    "credcors takes no regular expressions (each request would run them; a loose one such as "
                    r"r'^https://.*example\.com' also matches https://evilexample.com), and this one has no "
                    "exact-origin or *. pattern equivalent.",
                    'Rewrite it as exact origins or "https://*.example.com" patterns in ALLOWED_ORIGINS, '
                    "or add the origins as AllowedOrigin rows.",
                )
                continue
            origins, caveats = translation
            kept = [o for o in (self.origin(name, o, credentials, source=pattern) for o in origins) if o is not None]
            converted.extend(kept)
            if kept:
                self.find(
                    name,
                    pattern,
                    "changed" if caveats else "note",
                    f"Rewritten as {', '.join(repr(o) for o in kept)}." + "".join(f" {c}" for c in caveats),
                )
        return converted

    @staticmethod
    def _wider_hint(patterns: list[str], credentials: bool) -> str:
        # The converter never widens (issue 21, finding 3); the operator may,
        # with the patterns credcors would take.
        taken: list[str] = []
        refusal = ""
        for pattern in patterns:
            try:
                taken.append(parse_rule(pattern, credentials=credentials).serialize())
            except OriginError as exc:
                refusal = refusal or f"; {pattern!r} itself is refused: {exc.problem}"
        if not taken:
            return f"List the exact origins it was meant to allow{refusal}."
        return (
            "List the exact origins it was meant to allow, or, if every host at every depth under it is yours, "
            f"write {' and '.join(repr(pattern) for pattern in taken)} in ALLOWED_ORIGINS yourself."
        )

    def duplicates(self, origins: list[str]) -> None:
        seen: set[str] = set()
        for origin in origins:
            if origin in seen:
                self.find("ALLOWED_ORIGINS", origin, "note", "Listed more than once; kept once.")
            seen.add(origin)
