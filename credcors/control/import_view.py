"""The admin's "Import origins" page: paste or upload, preview each line, then confirm.

The format is the one ``manage.py credcors import`` reads; parsing, checking
and writing are :mod:`credcors.importing`, as for the command.  The first
POST only previews (:func:`~credcors.control.preview.preview`); the entries
are written when the staff member confirms, and then only the valid ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from credcors.conf import get_config
from credcors.control.preview import ADDED, PRESENT, REFUSED, UPDATED, preview
from credcors.control.propagation import propagation_message
from credcors.import_file import MAX_IMPORT_BYTES, ImportProblem, format_of, parse_entries
from credcors.importing import import_entries
from credcors.quoting import safe

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

__all__ = ["ImportForm", "import_view"]

PASTED = "the pasted list"


class ImportForm(forms.Form):
    """Paste or upload a list, in the format ``credcors import`` reads."""

    text = forms.CharField(
        label=_("Origins"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "spellcheck": "false"}),
        help_text=_(
            'One origin a line ("#" starts a comment), or a JSON list as "credcors export --format json" writes.'
        ),
    )
    upload = forms.FileField(label=_("Or upload a file"), required=False)
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[
            ("auto", _("auto (JSON for a *.json file or a pasted list starting with [)")),
            ("text", _("text")),
            ("json", "JSON"),
        ],
        initial="auto",
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        upload = data.get("upload")
        if upload is not None:
            if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError(
                    _("The file is %(size)d bytes; the limit is %(limit)d.")
                    % {"size": upload.size, "limit": MAX_IMPORT_BYTES}
                )
            try:
                data["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError(
                    _("The file is not UTF-8 text (byte %(at)d).") % {"at": exc.start}
                ) from None
            data["name"] = safe(upload.name or "upload", 200)
            data["fmt"] = format_of(upload.name or "", data.get("format", "auto"))
        elif not data.get("text", "").strip():
            raise forms.ValidationError(_("Paste a list of origins or choose a file."))
        else:
            data["name"] = PASTED
            fmt = data.get("format", "auto")
            data["fmt"] = ("json" if data["text"].lstrip().startswith("[") else "text") if fmt == "auto" else fmt
        return data


def import_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:  # type: ignore[type-arg]
    """Preview on the first POST; import the valid entries on the confirming one."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    opts = model_admin.opts
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entries = parse_entries(data["text"], data["fmt"], data["name"])
            result = preview(entries, data["name"])
            if "_confirm" in request.POST:
                # The same code as the command, and the same history, as this user.
                report = import_entries(result.valid, data["name"], user=request.user, via="in the admin")
        except ImportProblem as exc:
            form.add_error(None, str(exc))
            result = None
        else:
            if "_confirm" in request.POST:
                skipped = result.count(REFUSED)
                text = f"Imported: added {report.created}, updated {report.updated}, unchanged {report.unchanged}"
                text += (
                    f"; {skipped} refused {'line was' if skipped == 1 else 'lines were'} left out." if skipped else "."
                )
                model_admin.message_user(request, text, messages.SUCCESS)
                if report.created or report.updated:
                    origins = [line.origin for line in result.lines if line.status in (ADDED, UPDATED)]
                    model_admin.message_user(request, propagation_message(get_config(), origins), messages.INFO)
                return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": _("Import origins"),
        "form": form,
        "preview": result,
        "counts": None
        if result is None
        else {status: result.count(status) for status in (ADDED, UPDATED, PRESENT, REFUSED)},
        "text": form.cleaned_data.get("text", "") if result is not None else "",
        "fmt": form.cleaned_data.get("fmt", "") if result is not None else "",
    }
    return TemplateResponse(request, "admin/credcors/allowedorigin/import.html", context)
