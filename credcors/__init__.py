"""credcors: credential-safe CORS for Django, with an admin-editable allow-list."""

from __future__ import annotations

__version__ = "0.1.0"
