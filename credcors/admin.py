"""``AllowedOrigin`` in the Django admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credcors.models import AllowedOrigin, RefusedOrigin, canonicalize_origin
from credcors.report import explain_request
from credcors.signals import invalidate_on_commit


class TestOriginForm(forms.Form):
    """The inputs of ``manage.py credcors explain``, as a form."""

    # Not stripped: a stray space is one of the things being diagnosed.
    origin = forms.CharField(label=_("Origin"), max_length=2000, strip=False)
    method = forms.CharField(label=_("Method"), max_length=100, initial="GET")
    headers = forms.CharField(
        label=_("Request headers"),
        max_length=5000,
        required=False,
        help_text=_("Headers the page's script sets, separated by commas."),
    )
    path = forms.CharField(label=_("Path"), max_length=2000, required=False, strip=False)


@admin.register(AllowedOrigin)
class AllowedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("origin", "enabled", "note", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("origin", "note")
    readonly_fields = ("created_at", "updated_at")
    actions = ("enable_selected", "disable_selected")

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_test_origin"
        view = self.admin_site.admin_view(self.test_origin_view)
        return [path("test-origin/", view, name=name), *super().get_urls()]

    def test_origin_view(self, request: HttpRequest) -> HttpResponse:
        """The admin face of ``manage.py credcors explain``: same inputs, same explanation."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = TestOriginForm(request.GET if "origin" in request.GET else None)
        explanation = None
        if form.is_valid():
            data = form.cleaned_data
            explanation = explain_request(
                data["origin"], method=data["method"], headers=[data["headers"]], path=data["path"] or None
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Test an origin"),
            "form": form,
            "explanation": explanation,
        }
        return TemplateResponse(request, "admin/credcors/allowedorigin/test_origin.html", context)

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


@admin.register(RefusedOrigin)
class RefusedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Origins the middleware refused (``RECORD_REFUSED``), most seen first: allow them or dismiss them."""

    list_display = ("origin", "count", "last_seen", "first_seen", "last_path", "policy")
    list_filter = ("policy",)
    search_fields = ("origin", "last_path")
    ordering = ("-count", "-last_seen")
    actions = ("allow_selected", "dismiss_selected")

    # Written only by the middleware's background flush.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RefusedOrigin | None = None) -> bool:
        return False

    def has_allow_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("credcors.add_allowedorigin") and user.has_perm("credcors.change_allowedorigin"))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "Dismiss" is this list's delete.
        return actions

    @admin.action(description=_("Allow selected origins"), permissions=["allow"])
    def allow_selected(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> None:
        allowed = []
        for refused in queryset:
            # The one validator decides: an insecure origin (without
            # ALLOW_INSECURE_ORIGINS), a host that ends in a number, and
            # whatever else it refuses stay refused, with its reason.
            try:
                origin = canonicalize_origin(refused.origin)
            except ValidationError as exc:
                self.message_user(request, _("Still refused: %s") % exc.messages[0], messages.ERROR)
                continue
            with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
                self._allow(request, origin, refused)
                refused.delete()
            allowed.append(origin)
        if allowed:
            count = len(allowed)
            self.message_user(
                request,
                ngettext("Allowed %(count)d origin: %(origins)s.", "Allowed %(count)d origins: %(origins)s.", count)
                % {"count": count, "origins": ", ".join(allowed)},
                messages.SUCCESS,
            )

    def _allow(self, request: HttpRequest, origin: str, refused: RefusedOrigin) -> None:
        # Saved through the model (the validator again, and the signals that
        # reload the allow-list); logged in the row's admin History.
        row = AllowedOrigin.objects.filter(origin=origin).first()
        if row is None:
            row = AllowedOrigin(origin=origin, note=f"allowed from the refused origins ({refused.count} refused)")
            row.save()
            self.log_addition(request, row, f"Allowed from the refused origins ({refused.count} refused requests).")
        elif not row.enabled:
            row.enabled = True
            row.save()
            self.log_change(request, row, f"Enabled from the refused origins ({refused.count} refused requests).")

    @admin.action(description=_("Dismiss selected origins"), permissions=["delete"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> None:
        count, _deleted = queryset.delete()
        self.message_user(
            request, ngettext("Dismissed %d origin.", "Dismissed %d origins.", count) % count, messages.SUCCESS
        )
