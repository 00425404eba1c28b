"""The two formats ``credcors export`` writes, and ``credcors import`` reads back.

One home for both, so the command and the admin's export action write the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from credcors.models import AllowedOrigin
from credcors.quoting import scrub

__all__ = ["TEXT_HEADER", "export_json", "export_text"]

TEXT_HEADER = "# credcors allowed origins (enabled rows), one per line"


def export_text(rows: Iterable[AllowedOrigin]) -> str:
    """The enabled rows' origins, one a line, under a comment line."""
    return "\n".join([TEXT_HEADER, *(scrub(row.origin, 300) for row in rows if row.enabled)]) + "\n"


def export_json(rows: Iterable[AllowedOrigin]) -> str:
    """Every row with ``origin``, ``enabled`` and ``note``, as a JSON list."""
    return json.dumps([{"origin": row.origin, "enabled": row.enabled, "note": row.note} for row in rows], indent=2)
