"""Say when a change saved in the admin is live: here at once, elsewhere within N seconds."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DatabaseError
from django.utils.translation import ngettext

from credcors.core.config import Config
from credcors.store.current import CACHE_CHECK_SECONDS
from credcors.store.reads import read_rows

__all__ = ["propagation_message"]


def propagation_message(config: Config, origins: Sequence[str]) -> str:
    """One sentence on when the change to ``origins`` is live, by this configuration.

    Those rows are read back first (one bounded query, in a savepoint): if
    the database cannot be read, no process can load the change, and the
    message says that instead; if none of their policies takes rows, it says
    which policies those are.
    """
    try:
        policies = {policy for (policy,) in read_rows(origins=origins, fields=("policy",))}
    except DatabaseError as exc:
        return (
            f"Saved, but the database cannot be read back ({type(exc).__name__}): every process keeps serving "
            "the allow-list it loaded last until the database answers, and picks the change up then."
        )
    idle = sorted(policy for policy in policies if not config.takes_rows(policy))
    if idle and len(idle) == len(policies):
        named = ", ".join(repr(policy) for policy in idle)
        return (
            f"Saved, but rows of the {ngettext('policy', 'policies', len(idle))} {named} allow nothing: "
            "a policy takes rows only while it is configured with USE_DATABASE True and does not answer every "
            "origin with '*'; this change takes effect once it does."
        )
    refresh = f"{config.refresh_seconds:g}"
    if config.cache_alias is not None:
        return (
            f"Live at once in this process, and in other processes within about {CACHE_CHECK_SECONDS:g} s "
            f"through the shared cache {config.cache_alias!r} (at the latest within REFRESH_SECONDS, {refresh} s)."
        )
    return f"Live at once in this process, and in other processes within REFRESH_SECONDS ({refresh} s)."
