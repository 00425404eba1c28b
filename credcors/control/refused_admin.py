"""The admin of refused origins (``RECORD_REFUSED``): allow them through the one validator, or dismiss them.

The list is filled by whoever sends requests, so everything it shows is
request input: bidirectional controls in a path are shown escaped
(:func:`~credcors.quoting.without_bidi`).

Registered when :mod:`credcors.admin` imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credcors.models import AllowedOrigin, RefusedOrigin, canonicalize_origin, validate_policy
from credcors.policy_conf import DEFAULT_POLICY
from credcors.quoting import without_bidi

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices
    from django.contrib.admin.views.main import ChangeList

__all__ = ["RefusedOriginAdmin"]


class _PolicyFilter(admin.AllValuesFieldListFilter):
    """The policy filter, its choices shown as :func:`~credcors.quoting.without_bidi` shows them."""

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        for choice in super().choices(changelist):
            choice["display"] = without_bidi(str(choice["display"]))
            yield choice


@admin.register(RefusedOrigin)
class RefusedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Origins the middleware refused (``RECORD_REFUSED``), most seen first: allow them or dismiss them."""

    list_display = ("shown_origin", "count", "last_seen", "first_seen", "shown_path", "shown_policy")
    list_filter = (("policy", _PolicyFilter),)
    search_fields = ("origin", "last_path")
    ordering = ("-count", "-last_seen")
    fields = ("shown_origin", "count", "first_seen", "last_seen", "shown_path", "shown_policy")
    readonly_fields = fields
    # Named "delete_selected", this list's Dismiss takes the place of
    # Django's site-wide delete action, which asks for a confirmation page
    # about objects nobody created by hand.
    actions = ("allow_selected", "delete_selected")

    # Request input, shown as text (the page escapes HTML) with nothing
    # that could reorder the row around it: "/api/\u202etxt.exe" shows
    # as "/api/\\u202etxt.exe".
    @admin.display(description=_("origin"), ordering="origin")
    def shown_origin(self, obj: RefusedOrigin) -> str:
        return without_bidi(obj.origin)

    @admin.display(description=_("last path"), ordering="last_path")
    def shown_path(self, obj: RefusedOrigin) -> str:
        return without_bidi(obj.last_path)

    @admin.display(description=_("policy"), ordering="policy")
    def shown_policy(self, obj: RefusedOrigin) -> str:
        return without_bidi(obj.policy)

    # Written only by the middleware's background flush.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RefusedOrigin | None = None) -> bool:
        return False

    def has_allow_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("credcors.add_allowedorigin") and user.has_perm("credcors.change_allowedorigin"))

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
            # Into the policy that refused it, when that policy takes rows.
            policy = refused.policy
            try:
                validate_policy(policy)
            except ValidationError:
                policy = DEFAULT_POLICY
            row = AllowedOrigin(
                origin=origin, note=f"allowed from the refused origins ({refused.count} refused)", policy=policy
            )
            row.save()
            self.log_addition(request, row, f"Allowed from the refused origins ({refused.count} refused requests).")
        elif not row.enabled:
            row.enabled = True
            row.save()
            self.log_change(request, row, f"Enabled from the refused origins ({refused.count} refused requests).")

    @admin.action(description=_("Dismiss selected origins"), permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> None:
        count, _deleted = queryset.delete()
        self.message_user(
            request, ngettext("Dismissed %d origin.", "Dismissed %d origins.", count) % count, messages.SUCCESS
        )
