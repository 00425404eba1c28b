"""Who changed the allow-list, when and how: entries in Django's own admin history (``LogEntry``).

Admin form edits are logged by Django itself.  Everything else that changes
rows through credcors logs here, one entry per row: the admin's bulk
actions, and ``manage.py credcors`` (``add``, ``remove``, ``enable``,
``disable``, ``import``, ``prune``), so each row's History page in the admin
tells its whole story.

``LogEntry`` needs a user.  The command line names one with ``--by NAME``
(default: the operating-system user).  A Django user with that username is
used as is; for a name with no Django user, an *inactive* user with an
unusable password is created once: it cannot log in and holds no permission,
and the History's "user" column then names the person, not a shared account
(nor the superuser, who did not make the change).  The command says so on
stderr when it creates one.  Deleting such a user deletes its history
entries (``LogEntry.user`` cascades), so keep them.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, router, transaction
from django.db.models import Field

from credcors.models import AllowedOrigin

__all__ = ["ADDITION", "CHANGE", "DELETION", "AuditError", "default_actor", "is_enabled", "log", "resolve_actor"]

# The action flags of django.contrib.admin.models, without importing it
# where the admin is not installed.
ADDITION, CHANGE, DELETION = 1, 2, 3


class AuditError(Exception):
    """A ``--by`` name that cannot be recorded, in words ready to show."""


def is_enabled() -> bool:
    """Whether there is an admin history to write to."""
    return apps.is_installed("django.contrib.admin")


def default_actor() -> str:
    """The operating-system user, or ``uid-N`` where it has no name (a container's bare uid)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # No LOGNAME/USER and no passwd entry (KeyError before Python 3.13).
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def resolve_actor(name: str) -> tuple[Any, bool]:
    """The Django user that ``name`` stands for, created inactive and unusable if there is none.

    Returns ``(user, created)``, as ``get_or_create`` does, so that the caller
    can say it created one.  Raises :class:`AuditError` when ``name`` is not
    a valid username.
    """
    model = get_user_model()
    field = model._meta.get_field(model.USERNAME_FIELD)
    assert isinstance(field, Field)  # A username is a concrete field.
    name = name.strip()
    try:
        field.clean(name, None)
    except ValidationError as exc:
        raise AuditError(f"--by {name!r} is not a valid user name: {' '.join(exc.messages)}") from None
    manager = model._default_manager.db_manager(router.db_for_write(model))
    user = manager.filter(**{model.USERNAME_FIELD: name}).first()
    if user is not None:
        return user, False
    user = model(**{model.USERNAME_FIELD: name})
    # A plain attribute where a custom user model has no such field: harmless.
    user.is_active = False
    user.set_unusable_password()
    try:
        # A savepoint: a failed insert must not poison the caller's transaction.
        with transaction.atomic(using=manager.db):
            user.save(using=manager.db)
    except DatabaseError:
        # A custom user model that needs more than a username, or the same
        # name created at this very moment by another command.
        raise AuditError(
            f"cannot create a user {name!r} to record this change under; run the command again, "
            "or pass --by with the username of an existing user."
        ) from None
    return user, True


def log(user: Any, flag: int, entries: Iterable[tuple[AllowedOrigin, str]]) -> None:
    """Write one history entry per (row, message), as ``user``; nothing where the admin is not installed.

    Call it inside the transaction that makes the change (before a delete:
    a deleted row has no primary key), so the history and the change are
    saved, or rolled back, together.
    """
    if not is_enabled():
        return
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(AllowedOrigin)
    logged: Sequence[Any] = [
        LogEntry(
            user=user,
            content_type=content_type,
            object_id=str(row.pk),
            object_repr=str(row)[:200],
            action_flag=flag,
            change_message=message,
        )
        for row, message in entries
    ]
    if logged:
        LogEntry.objects.bulk_create(logged)
