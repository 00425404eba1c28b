"""The two formats ``credcors export`` writes, and ``credcors import`` reads back.

One home for both, so the command and the admin's export action write the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.utils import timezone

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.quoting import safe, scrub
from credcors.models import AllowedOrigin
from credcors.rows.import_format import TEXT_HEADER_PREFIX
from credcors.rows.lifetime import describe

__all__ = ["export_json", "export_text", "text_header"]


def text_header(policy: str) -> str:
    """The comment line a text export starts with."""
    return f"{TEXT_HEADER_PREFIX}{safe(policy, 64)} (enabled rows that have not expired), one per line"


def export_text(rows: Iterable[AllowedOrigin], policy: str = DEFAULT_POLICY) -> str:
    """The origins of ``policy``'s enabled, unexpired rows, one a line, under a comment line.

    One policy per text file, named in its header: importing it (the
    command and the admin read the header) puts its origins back in that
    policy, never a partner's into the credentialed default one.  An expiry
    and the hosts follow as comments on the row's own line, which ``import``
    reads back (:func:`credcors.rows.import_format.split_line`): a row
    scoped to hosts comes back scoped to them, never to every host.  The
    expiry comes first, where a credcors without hosts still reads it.
    """
    now = timezone.now()
    lines = [text_header(policy)]
    for row in rows:
        if row.enabled and row.policy == policy and not row.is_expired(now):
            until = "" if row.expires_at is None else f"  # expires {describe(row.expires_at)}"
            # host_list: canonical again, so no value written around the model (raw SQL) breaks the line.
            scope = f"  # hosts {' '.join(row.host_list)}" if row.hosts else ""
            lines.append(f"{scrub(row.origin, 300)}{until}{scope}")
    return "\n".join(lines) + "\n"


def export_json(rows: Iterable[AllowedOrigin]) -> str:
    """Every row with all it says (``import`` reads each key back), as a JSON list."""
    return json.dumps(
        [
            {
                "origin": row.origin,
                "enabled": row.enabled,
                "note": row.note,
                "policy": row.policy,
                "trust_for_csrf": row.trust_for_csrf,
                "expires_at": None if row.expires_at is None else describe(row.expires_at),
                # [] is every host, as importing it says.
                "hosts": list(row.host_list),
            }
            for row in rows
        ],
        indent=2,
    )
