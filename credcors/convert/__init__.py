"""django-cors-headers settings to ``CREDCORS``: :func:`convert_settings` (pure, never imports Django)."""

from credcors.convert.settings import convert_settings

__all__ = ["convert_settings"]
