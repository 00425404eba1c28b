"""The one reader of ``settings.CREDCORS``: the current :class:`~credcors.core.config.Config`, parsed once.

Parsing is pure (:func:`credcors.core.config.parse_config`); this module reads
Django's settings and keeps the result until ``setting_changed`` resets it.
"""

from __future__ import annotations

from credcors.core.config import Config, parse_config

__all__ = ["get_config", "reset"]

_config: Config | None = None


def get_config() -> Config:
    """The current validated config, parsed on first use after a reset."""
    global _config
    config = _config
    if config is None:
        from django.conf import settings

        config = _config = parse_config(
            getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None), debug=bool(settings.DEBUG)
        )
    return config


def reset() -> None:
    """Forget the parsed config (connected to ``setting_changed``)."""
    global _config
    _config = None
