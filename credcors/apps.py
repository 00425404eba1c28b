"""App configuration: connects signals and registers system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CredCorsConfig(AppConfig):
    name = "credcors"
    verbose_name = _("Credentialed CORS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credcors import checks, signals

        checks.register()
        signals.connect()
