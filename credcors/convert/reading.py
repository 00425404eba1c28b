"""Reading django-cors-headers settings, and the result of converting them.

:func:`credcors.convert.convert_settings` returns a :class:`Conversion`;
``manage.py credcors convert-settings`` prints :meth:`Conversion.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from credcors.core.config import parse_config

__all__ = ["CREDCORS_KEY_OF", "KNOWN_SETTINGS", "MISSING", "Conversion", "Finding", "SettingsReader", "Severity"]

#: ``refused``: left out, credcors will not do it.  ``changed``: converted,
#: but behaves differently (narrower or wider).  ``unsupported``: credcors has
#: no equivalent.  ``note``: worth knowing, nothing lost.
Severity = Literal["refused", "changed", "unsupported", "note"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the conversion could not carry over unchanged."""

    setting: str
    value: object
    severity: Severity
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.setting} {self.value!r}: {self.severity}: {self.message}{hint}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """The ``CREDCORS`` dict converted from ``CORS_*`` settings, and the findings."""

    credcors: dict[str, object]
    findings: list[Finding] = field(default_factory=list)

    @property
    def source_text(self) -> str:
        """``CREDCORS = {...}`` as Python source, ready to paste into settings."""
        return _format_setting("CREDCORS", self.credcors)

    @property
    def refused(self) -> list[Finding]:
        """Findings for values left out because credcors refuses them."""
        return [finding for finding in self.findings if finding.severity == "refused"]

    def render(self) -> str:
        """What ``convert-settings`` prints: the setting, then the findings as comments."""
        lines = [
            "# Converted from django-cors-headers settings by credcors.",
            "# Read the findings below before you replace the CORS_* settings with this.",
            self.source_text,
        ]
        if not self.findings:
            lines.append("# No findings: every CORS_* setting has an exact CREDCORS equivalent.")
        else:
            lines.append(f"# {len(self.findings)} finding(s):")
            for finding in self.findings:
                lines.append(f"# - [{finding.severity}] {finding.setting} = {finding.value!r}")
                lines.append(f"#   {finding.message}")
                if finding.hint:
                    lines.append(f"#   {finding.hint}")
        return "\n".join(lines) + "\n"


#: What :meth:`SettingsReader.get` returns for a setting that is not there.
MISSING: Any = object()

# django-cors-headers 4.x settings, with the legacy names it still reads.
_ALIASES = {
    "CORS_ALLOWED_ORIGINS": "CORS_ORIGIN_WHITELIST",
    "CORS_ALLOWED_ORIGIN_REGEXES": "CORS_ORIGIN_REGEX_WHITELIST",
    "CORS_ALLOW_ALL_ORIGINS": "CORS_ORIGIN_ALLOW_ALL",
}
#: Every django-cors-headers setting, with the ``CREDCORS`` key that takes its
#: place (``None``: credcors has no equivalent; convert-settings says why).
CREDCORS_KEY_OF: Mapping[str, str | None] = {
    "CORS_ALLOWED_ORIGINS": "ALLOWED_ORIGINS",
    "CORS_ORIGIN_WHITELIST": "ALLOWED_ORIGINS",
    "CORS_ALLOWED_ORIGIN_REGEXES": "ALLOWED_ORIGINS",
    "CORS_ORIGIN_REGEX_WHITELIST": "ALLOWED_ORIGINS",
    "CORS_ALLOW_ALL_ORIGINS": "ALLOW_ALL_ORIGINS",
    "CORS_ORIGIN_ALLOW_ALL": "ALLOW_ALL_ORIGINS",
    "CORS_URLS_REGEX": "URLS_REGEX",
    "CORS_ALLOW_METHODS": "ALLOW_METHODS",
    "CORS_ALLOW_HEADERS": "ALLOW_HEADERS",
    "CORS_EXPOSE_HEADERS": "EXPOSE_HEADERS",
    "CORS_PREFLIGHT_MAX_AGE": "PREFLIGHT_MAX_AGE",
    "CORS_ALLOW_CREDENTIALS": "ALLOW_CREDENTIALS",
    "CORS_ALLOW_PRIVATE_NETWORK": None,
    "CORS_REPLACE_HTTPS_REFERER": None,
}
KNOWN_SETTINGS = frozenset(CREDCORS_KEY_OF)


class SettingsReader:
    """Reads ``CORS_*`` values from a settings object or mapping, and collects the result and findings."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.result: dict[str, object] = {}
        self.findings: list[Finding] = []

    def get(self, name: str) -> Any:
        if isinstance(self.source, Mapping):
            return self.source.get(name, MISSING)
        return getattr(self.source, name, MISSING)

    def get_aliased(self, name: str) -> tuple[str, Any]:
        """The value django-cors-headers 4.x reads: the new name, else the legacy one."""
        legacy = _ALIASES[name]
        value, legacy_value = self.get(name), self.get(legacy)
        if value is not MISSING:
            if legacy_value is not MISSING:
                self.find(legacy, legacy_value, "note", f"Ignored: {name} is also set and takes precedence.")
            return name, value
        if legacy_value is not MISSING:
            self.find(legacy, legacy_value, "note", f"Legacy name of {name}; converted as such.")
        return legacy, legacy_value

    def find(self, setting: str, value: object, severity: Severity, message: str, hint: str = "") -> None:
        self.findings.append(Finding(setting, value, severity, message, hint))

    def checked(
        self, name: str, key: str, value: object, stored: object, *, credentials: bool = True, shown: object = MISSING
    ) -> bool:
        """Validate ``{key: value}`` with parse_config; store ``stored`` if valid, else report ``shown``."""
        config = parse_config({key: value, "ALLOW_CREDENTIALS": credentials})
        errors = [problem for problem in config.problems if problem.is_error]
        if errors:
            for problem in errors:
                self.find(name, value if shown is MISSING else shown, "refused", problem.msg, problem.hint)
            return False
        if stored is not None:
            self.result[key] = stored
        return True


def _format_setting(name: str, value: dict[str, object]) -> str:
    lines = [f"{name} = {{"]
    for key, item in value.items():
        if isinstance(item, list) and item:
            lines.append(f"    {_literal(key)}: [")
            lines.extend(f"        {_literal(element)}," for element in item)
            lines.append("    ],")
        else:
            lines.append(f"    {_literal(key)}: {_literal(item)},")
    lines.append("}")
    return "\n".join(lines)


def _literal(value: object) -> str:
    if isinstance(value, str):
        if "\\" in value and value.isprintable() and '"' not in value and not value.endswith("\\"):
            return f'r"{value}"'
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1].replace("\\'", "'") + '"'
        return text
    return repr(value)
