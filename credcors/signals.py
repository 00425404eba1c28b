"""Keep the snapshot in step with saved rows and changed settings."""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from credcors import conf
from credcors.hosting import reset_hosts
from credcors.routing import get_path_policies
from credcors.store.current import get_store

__all__ = ["connect", "invalidate_on_commit"]


def invalidate_on_commit(using: str | None = None) -> None:
    """Reload the allow-list in this process once the current transaction commits.

    Other processes notice within ``REFRESH_SECONDS``, or within a fraction of
    a second when ``CACHE_ALIAS`` names a shared cache.  Call it after changing
    rows in ways that send no model signal (``QuerySet.update()``,
    ``bulk_create()``) to make every process notice as soon as that allows.
    """
    transaction.on_commit(_publish_change, using=using)


def _publish_change() -> None:
    # The store current at commit time, not at save time.
    get_store().publish_change()


def _row_changed(sender: Any, using: str, **kwargs: Any) -> None:
    invalidate_on_commit(using)


def _setting_changed(setting: str, **kwargs: Any) -> None:
    if setting in ("ALLOWED_HOSTS", "USE_X_FORWARDED_HOST", "DEBUG"):
        reset_hosts()
    if setting in ("CREDCORS", "DATABASES", "DATABASE_ROUTERS", "CACHES", "DEBUG"):
        conf.reset()
        get_store().reset()
    # What a path resolves to, and in which language (LocaleMiddleware's place in MIDDLEWARE).
    if setting in ("CREDCORS", "ROOT_URLCONF", "MIDDLEWARE", "USE_I18N", "LANGUAGE_CODE", "LANGUAGES"):
        get_path_policies().clear()


def connect() -> None:
    from credcors.models import AllowedOrigin

    post_save.connect(_row_changed, sender=AllowedOrigin, dispatch_uid="credcors.row_saved")
    post_delete.connect(_row_changed, sender=AllowedOrigin, dispatch_uid="credcors.row_deleted")
    setting_changed.connect(_setting_changed, dispatch_uid="credcors.setting_changed")
