"""The one write path for a row: validate it, save it, diff it, write its history entry.

The admin's form, ``manage.py credcors add``/``enable``/``disable``, the
import (command and admin page) and "Allow selected" on refused origins all
save rows through :func:`save_rows`, so the same change is worded the same
way in the row's History, whoever makes it: ``Added: policy partners,
trusted for CSRF.``, ``Changed: enabled, note.``.  A row's hosts are part of
what it allows, so a change of them is named with the hosts themselves
(``Changed: on hosts api.customer-a.com .customer-b.com.``, ``Changed: on
every host.``): the History shows which tenants' APIs an origin reached,
and when.  Who made it is the entry's user, when is its time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.scopes import ScopeError, join_scopes, parse_scopes
from credcors.hosting import allowed_hosts, unreachable_scopes
from credcors.models import AllowedOrigin
from credcors.rows import audit
from credcors.rows.lifetime import describe

__all__ = ["FIELDS", "Edit", "host_scope", "message", "on_hosts", "save_row", "save_rows"]

#: The columns staff edit, in the order a history entry names them.
FIELDS = ("enabled", "policy", "hosts", "trust_for_csrf", "expires_at", "note")
#: A new row's values: an added row's entry names only those that differ.
_NEW = {
    "enabled": True,
    "policy": DEFAULT_POLICY,
    "hosts": "",
    "trust_for_csrf": False,
    "expires_at": None,
    "note": "",
}


class Edit(NamedTuple):
    """What saving a row did: added it, or changed these fields (none: saved as it was)."""

    row: AllowedOrigin
    created: bool
    changed: tuple[str, ...]
    message: str

    @property
    def flag(self) -> int:
        """The history entry's action flag."""
        return audit.ADDITION if self.created else audit.CHANGE


def on_hosts(hosts: str) -> str:
    """A row's hosts (as stored) in words, the same in its History and on the command line."""
    # The stored form: canonical entries separated by spaces, never commas (phrases are joined with those).
    return f"on hosts {hosts}" if hosts else "on every host"


def _phrase(name: str, value: Any) -> str:
    if name == "enabled":
        return "enabled" if value else "disabled"
    if name == "policy":
        return f"policy {value}"
    if name == "hosts":
        return on_hosts(value)
    if name == "trust_for_csrf":
        return "trusted for CSRF" if value else "not trusted for CSRF"
    if name == "expires_at":
        return "no expiry" if value is None else f"expires {describe(value)}"
    return "note"


def message(row: AllowedOrigin, *, created: bool, changed: Iterable[str]) -> str:
    """The history entry's words for this change: the same change, the same words."""
    phrases = [_phrase(name, getattr(row, name)) for name in FIELDS if name in set(changed)]
    if created:
        return f"Added: {', '.join(phrases)}." if phrases else "Added."
    return f"Changed: {', '.join(phrases)}." if phrases else "No fields changed."


def host_scope(entries: Iterable[object]) -> str:
    """Host entries typed or imported for a row, as its ``hosts`` column stores them; ``""``: every host.

    Raises :class:`~credcors.core.scopes.ScopeError` for an entry that is no
    host, and for one that no host ``ALLOWED_HOSTS`` accepts can match: such
    a row would never be allowed anywhere, which is a typo, not a wish.  The
    command line and the import refuse both, so that nothing is written.
    """
    scopes = parse_scopes(entries)
    dead = unreachable_scopes(scopes)
    if dead:
        shown = ", ".join(allowed_hosts()) or "empty"
        raise ScopeError(
            f"ALLOWED_HOSTS ({shown}) accepts no host that {dead[0]!r} covers, "
            "so the origin would never be allowed there",
            "Correct the host, or add it to ALLOWED_HOSTS first.",
        )
    return join_scopes(scopes)


def save_rows(rows: Iterable[tuple[AllowedOrigin, Mapping[str, Any] | None]], *, user: Any) -> list[Edit]:
    """Save each row under the model's rules and log each change as ``user`` (``None``: no history).

    Each row comes with its stored values by field name (``None`` for a new
    row), read by the caller, under a lock where it needs one.  Raises the
    model's :class:`~django.core.exceptions.ValidationError`; call it in
    the transaction that makes the change, so that the rows and their
    history are saved, or rolled back, together.
    """
    done: list[Edit] = []
    for row, before in rows:
        # The model's rules, as the admin's form applies them (no CSRF trust for a pattern).
        row.clean()
        row.save()
        stored = _NEW if before is None else before
        changed = tuple(name for name in FIELDS if stored[name] != getattr(row, name))
        done.append(Edit(row, before is None, changed, message(row, created=before is None, changed=changed)))
    if user is not None:
        for flag in (audit.ADDITION, audit.CHANGE):
            audit.log(user, flag, [(edit.row, edit.message) for edit in done if edit.flag == flag])
    return done


def save_row(row: AllowedOrigin, *, user: Any, before: Mapping[str, Any] | None = None) -> Edit:
    """:func:`save_rows` for one row; an existing row's stored values are read here when not given."""
    if before is None and row.pk is not None:
        before = AllowedOrigin.objects.filter(pk=row.pk).values(*FIELDS).first()
    return save_rows([(row, before)], user=user)[0]
