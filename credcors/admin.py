"""``AllowedOrigin`` in the Django admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credcors.models import AllowedOrigin
from credcors.signals import invalidate_on_commit


@admin.register(AllowedOrigin)
class AllowedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("origin", "enabled", "note", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("origin", "note")
    readonly_fields = ("created_at", "updated_at")
    actions = ("enable_selected", "disable_selected")

    def save_model(self, request: HttpRequest, obj: AllowedOrigin, form: ModelForm[Any], change: bool) -> None:
        typed = form.data.get("origin", obj.origin)
        super().save_model(request, obj, form, change)
        if typed != obj.origin:
            self.message_user(
                request,
                _("%(typed)r was stored as %(stored)r, the form browsers send.")
                % {"typed": typed, "stored": obj.origin},
                messages.INFO,
            )

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin], enabled: bool) -> None:
        # QuerySet.update() sends no model signals, so ask for the reload here.
        count = queryset.update(enabled=enabled, updated_at=timezone.now())
        invalidate_on_commit(queryset.db)
        template = (
            ngettext("Enabled %d origin.", "Enabled %d origins.", count)
            if enabled
            else ngettext("Disabled %d origin.", "Disabled %d origins.", count)
        )
        self.message_user(request, template % count, messages.SUCCESS)

    @admin.action(description=_("Enable selected origins"))
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected origins"))
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> None:
        self._set_enabled(request, queryset, False)
