"""``AllowedOrigin`` in the Django admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credcors.admin import refused  # noqa: F401 - registers the refused origins' admin
from credcors.admin.cells import shortened
from credcors.admin.effective import settings_entries, settings_total
from credcors.admin.filters import CsrfTrustFilter, HostFilter, StateFilter
from credcors.admin.forms import HostsField, TestOriginForm
from credcors.admin.import_view import import_view
from credcors.admin.propagation import propagation_message
from credcors.admin.status import read_status
from credcors.conf import get_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.trust import policy_trust, row_trust
from credcors.explain import explain_request
from credcors.models import AllowedOrigin
from credcors.rows import audit
from credcors.rows.edit import save_row
from credcors.rows.export_format import export_json, export_text
from credcors.rows.overlaps import overlap_warnings, unused_row_warnings
from credcors.signals import invalidate_on_commit
from credcors.store.current import get_store

# Bulk actions that change rows, and say when the change is live.
_CHANGING_ACTIONS = ("enable_selected", "disable_selected")
#: How much of a note the change list shows: two or three lines of its cell at 1280 px.
NOTE_CELL_LENGTH = 60
#: How much of a row's hosts the change list shows: two customers' API hosts.
HOSTS_CELL_LENGTH = 40


#: Beside the box on the row's page, while ``TRUST_FOR_CSRF = True`` trusts every default-policy row.
POLICY_TRUST_NOTE = _(
    "Now: CREDCORS['TRUST_FOR_CSRF'] is True, so every exact row of the default policy is trusted for CSRF, "
    "ticked or not; the box decides for rows of the other policies."
)

#: Where save_model() leaves the row's history message for log_addition()/log_change().
_HISTORY = "_credcors_history"


@admin.register(AllowedOrigin)
class AllowedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # Five columns fit beside the admin's sidebar and the filters at 1280 px:
    # the state says enabled and expiry in one cell, the note is shortened
    # (whole on hover), and "updated" is on the row's page and its History.
    list_display = ("origin", "state", "policy", "shown_hosts", "csrf_trust", "shown_note")
    list_filter = (StateFilter, "enabled", "policy", HostFilter, CsrfTrustFilter)
    search_fields = ("origin", "hosts", "note")
    readonly_fields = ("created_at", "updated_at")
    actions = ("enable_selected", "disable_selected", "export_text", "export_json")

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "policy":
            # A choice of the configured policies, read when the form is built.
            names = get_config().policy_names
            return forms.ChoiceField(
                # As Django's own form fields label themselves: "Policy", not "policy".
                label=capfirst(db_field.verbose_name),
                choices=[(name, name) for name in names],
                initial=db_field.default,
                help_text=db_field.help_text,
            )
        if db_field.name == "hosts":
            # A couple of lines: most rows name a host or two; a box of ten would suggest a list.
            kwargs.update(form_class=HostsField, widget=widgets.AdminTextareaWidget(attrs={"rows": 2}))
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if (
            db_field.name == "trust_for_csrf"
            and field is not None
            and policy_trust(get_config(), DEFAULT_POLICY).every_row
        ):
            # What the settings say now, next to the box whose tick they override.
            field.help_text = format_html("{}<br>{}", db_field.help_text, POLICY_TRUST_NOTE)
        return field

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        # With the default policy alone, every row's policy is "default": a
        # column that says nothing (the filter and the row's page still do).
        if len(get_config().policy_names) > 1:
            return self.list_display
        return tuple(name for name in self.list_display if name != "policy")

    def get_fields(self, request: HttpRequest, obj: AllowedOrigin | None = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        # A row not yet saved has no times: the add form leaves out their empty boxes.
        return fields if obj is not None else [name for name in fields if name not in self.readonly_fields]

    @admin.display(description=_("state"), ordering="enabled")
    def state(self, obj: AllowedOrigin) -> str:
        """Active, active until its expiry, expired, or disabled: the words of the "By state" filter."""
        if not obj.enabled:
            return format_html("{} {}", _icon("no"), _("Disabled"))
        if obj.expires_at is None:
            return format_html("{} {}", _icon("yes"), _("Active"))
        moment = date_format(timezone.localtime(obj.expires_at), "DATETIME_FORMAT")
        if obj.is_expired():
            return format_html("{} {}", _icon("alert"), _("Expired %(moment)s") % {"moment": moment})
        return format_html("{} {}", _icon("yes"), _("Active until %(moment)s") % {"moment": moment})

    @admin.display(description=_("note"), ordering="note")
    def shown_note(self, obj: AllowedOrigin) -> str:
        """The note, shortened to what a list cell reads across; whole on hover and on the row's page."""
        return shortened(obj.note, NOTE_CELL_LENGTH)

    @admin.display(description=_("hosts"), ordering="hosts")
    def shown_hosts(self, obj: AllowedOrigin) -> str:
        """The API hosts the row allows its origin on, shortened (whole on hover); "every host" when it names none."""
        if not obj.hosts:
            return str(_("every host"))
        return shortened(obj.hosts, HOSTS_CELL_LENGTH)

    @admin.display(description=_("trusted for CSRF"), ordering="trust_for_csrf")
    def csrf_trust(self, obj: AllowedOrigin) -> str:
        """The CSRF trust the row has in force, and why; for a row not in force, the trust it would have.

        The rule of :func:`credcors.core.trust.row_trust`, the one the
        filter beside it and ``credcors list`` apply: a row under
        ``TRUST_FOR_CSRF = True`` is trusted whether its box is ticked or not.
        """
        trust = row_trust(get_config(), obj.origin, obj.policy, obj.trust_for_csrf)
        grant = get_store().get().exact_grant(obj.origin, obj.policy)
        # In force: a grant of this row, or the settings entry that shadows it.
        in_force = grant is not None and grant.source in (None, obj.pk)
        hint = trust.sentence if in_force else _("%(why)s, once the row is in force") % {"why": trust.sentence}
        return format_html('<span title="{}">{} {}</span>', hint, _icon("yes" if trust.trusted else "no"), trust.label)

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view(self.test_origin_view)
        imports = self.admin_site.admin_view(self.import_view)
        checks_page = self.admin_site.admin_view(self.checks_view)
        return [
            path("test-origin/", view, name=f"{prefix}_test_origin"),
            path("import/", imports, name=f"{prefix}_import"),
            path("checks/", checks_page, name=f"{prefix}_checks"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Paste or upload origins, preview each line, confirm (add and change permissions decide per line)."""
        return import_view(self, request)

    def checks_view(self, request: HttpRequest) -> HttpResponse:
        """Every credcors check id and what it means, with the messages this project gets now."""
        from credcors.admin.checks_page import checks_context

        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts, **checks_context()}
        return TemplateResponse(request, "admin/credcors/allowedorigin/checks.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        config = get_config()
        context = {
            # The settings half of the effective allow-list, filtered by the same search.
            "credcors_settings": settings_entries(config, request.GET.get("q", "")),
            "credcors_settings_total": settings_total(config),
            # A callable: the template reads it once, and only when it renders the page.
            "credcors_status": lambda: read_status(config),
            "credcors_can_import": self.has_add_permission(request) or self.has_change_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # Say what a change does ---------------------------------------------

    def _say_live(self, request: HttpRequest, origins: list[str]) -> None:
        self.message_user(request, propagation_message(get_config(), origins), messages.INFO)

    def _warn_overlaps(self, request: HttpRequest, obj: AllowedOrigin) -> None:
        config = get_config()
        for text in overlap_warnings(config, get_store().get(), obj.origin, obj.enabled, obj.pk):
            self.message_user(request, text, messages.WARNING)
        for text in unused_row_warnings(config, obj.origin, obj.policy, obj.trust_for_csrf):
            self.message_user(request, text, messages.WARNING)

    def response_add(
        self, request: HttpRequest, obj: AllowedOrigin, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        self._say_live(request, [obj.origin])
        self._warn_overlaps(request, obj)
        return response

    def response_change(self, request: HttpRequest, obj: AllowedOrigin) -> HttpResponse:
        response = super().response_change(request, obj)
        self._say_live(request, [obj.origin])
        self._warn_overlaps(request, obj)
        return response

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        response = super().response_delete(request, obj_display, obj_id)
        self._say_live(request, [obj_display])
        return response

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[AllowedOrigin], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        action = request.POST.get("action", "")
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        origins = list(queryset.filter(pk__in=selected).values_list("origin", flat=True)) if selected else []
        response = super().response_action(request, queryset, *args, **kwargs)
        # delete_selected changes rows only on its confirming POST ("post"); an
        # export answers with the file, never a redirect.
        changing = action in _CHANGING_ACTIONS or (action == "delete_selected" and request.POST.get("post"))
        if changing and origins and isinstance(response, HttpResponseRedirect):
            self._say_live(request, origins)
        return response

    def test_origin_view(self, request: HttpRequest) -> HttpResponse:
        """The admin face of ``manage.py credcors explain``: same inputs, same explanation."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = TestOriginForm(request.GET if "origin" in request.GET else None)
        explanation = None
        if form.is_valid():
            data = form.cleaned_data
            explanation = explain_request(
                data["origin"],
                method=data["method"],
                headers=[data["headers"]],
                path=data["path"] or None,
                websocket=form.websocket,
                policy_name=data["policy"] or DEFAULT_POLICY,
                # explain_request checks it against ALLOWED_HOSTS, as the middleware does.
                host=data["host"] or None,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Test an origin"),
            "form": form,
            "explanation": explanation,
            "websocket": form.websocket,
        }
        return TemplateResponse(request, "admin/credcors/allowedorigin/test_origin.html", context)

    def save_model(self, request: HttpRequest, obj: AllowedOrigin, form: ModelForm[Any], change: bool) -> None:
        typed = form.data.get("origin", obj.origin)
        # Through the one write path; Django writes the history entry after
        # this, in the words it gives (the command line's, the import's).
        vars(obj)[_HISTORY] = save_row(obj, user=None).message
        if typed != obj.origin:
            self.message_user(
                request,
                _("%(typed)r was stored as %(stored)r, the form browsers send.")
                % {"typed": typed, "stored": obj.origin},
                messages.INFO,
            )

    # The form's history entry, in the words save_model() had credcors.rows.edit give.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> LogEntry:
        return super().log_addition(request, obj, vars(obj).pop(_HISTORY, message))

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> LogEntry:
        return super().log_change(request, obj, vars(obj).pop(_HISTORY, message))

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin], enabled: bool) -> None:
        word = "Enabled" if enabled else "Disabled"
        with transaction.atomic(using=queryset.db):
            # Each row that changes gets its own entry in the admin's history,
            # as a form edit would; update() itself logs nothing.
            changing = list(queryset.exclude(enabled=enabled).select_for_update())
            count = queryset.update(enabled=enabled, updated_at=timezone.now())
            audit.log(request.user, audit.CHANGE, [(row, f"{word} with the bulk action.") for row in changing])
        # QuerySet.update() sends no model signals, so ask for the reload here.
        invalidate_on_commit(queryset.db)
        template = (
            ngettext("Enabled %d origin.", "Enabled %d origins.", count)
            if enabled
            else ngettext("Disabled %d origin.", "Disabled %d origins.", count)
        )
        self.message_user(request, template % count, messages.SUCCESS)

    @admin.action(description=_("Enable selected origins"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected origins"), permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(
        description=_("Export selected origins (text: the enabled ones, of one policy)"), permissions=["view"]
    )
    def export_text(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> HttpResponse | None:
        # A text file names no policy (see credcors.rows.export_format): one per file.
        policies = sorted(set(queryset.values_list("policy", flat=True)))
        if len(policies) > 1:
            self.message_user(
                request,
                _(
                    "A text export lists one policy; these rows belong to %(policies)s. Select rows of one policy, "
                    "or export JSON."
                )
                % {"policies": ", ".join(policies)},
                messages.ERROR,
            )
            return None
        policy = policies[0] if policies else DEFAULT_POLICY
        return _download(export_text(queryset.order_by("origin"), policy), "text/plain", "allowed-origins.txt")

    @admin.action(description=_("Export selected origins (JSON: every row)"), permissions=["view"])
    def export_json(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> HttpResponse:
        return _download(export_json(queryset.order_by("origin")) + "\n", "application/json", "allowed-origins.json")


def _icon(name: str) -> str:
    # The admin's own icons, as its boolean columns show them; the words
    # beside it say the same, so the image is left out of what is read aloud.
    return format_html('<img src="{}" alt="">', static(f"admin/img/icon-{name}.svg"))


def _download(content: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
