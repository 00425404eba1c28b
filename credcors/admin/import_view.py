"""The admin's "Import origins" page: paste or upload, preview each line, then confirm.

The format is the one ``manage.py credcors import`` reads; parsing, checking
and writing are :mod:`credcors.rows.importing`, as for the command.  The first
POST only previews (:func:`~credcors.admin.preview.preview`: nothing is
written or locked); the entries are written when the staff member confirms,
and then only the valid lines they may apply: adding a row needs the add
permission, changing one the change permission (the page needs either).

The confirmation does not post the list back.  The preview page carries it
in a signed, compressed token (:mod:`django.core.signing`, bound to the
user, valid for :data:`CONFIRM_MAX_AGE`): stateless, so the confirming POST
may reach any worker on any server, with no temporary file or shared cache
to set up or clean.  Allow-lists compress well (a 4 MB list of 100,000
origins makes a token of about 0.5 MB); a list whose token would not fit in
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused on the preview, so whatever the
page previews can be confirmed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from credcors.admin.preview import ADDED, PRESENT, REFUSED, UPDATED, Preview, preview
from credcors.admin.propagation import propagation_message
from credcors.conf import get_config
from credcors.core.quoting import safe
from credcors.rows.import_format import (
    MAX_IMPORT_BYTES,
    ImportProblem,
    PolicyConflict,
    decode_import,
    format_of,
    parse_entries,
    resolve_policy,
)
from credcors.rows.importing import CHANGED_SINCE_PREVIEW, import_entries, with_policy

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

__all__ = ["CONFIRM_MAX_AGE", "PREVIEW_LINES", "ImportForm", "import_view"]

PASTED = "the pasted list"
#: How many lines the preview page shows; the counts cover every line.
PREVIEW_LINES = 200
#: How long a preview can be confirmed, in seconds.
CONFIRM_MAX_AGE = 3600
_SALT = "credcors.admin.import_view"
# What the confirming POST holds besides the token: the CSRF token, the field names, their encoding.
_FORM_ROOM = 1024
#: The longest token a confirmation reads: what the largest import makes,
#: base64 of an incompressible MAX_IMPORT_BYTES and then some.  signing
#: checks the signature before it decompresses, so this bounds the work a
#: forged token can cost, even where DATA_UPLOAD_MAX_MEMORY_SIZE is None.
_MAX_TOKEN = 2 * MAX_IMPORT_BYTES
_POLICY_FIELD = "the Policy field"


def row_policies() -> list[str]:
    """The configured policies that take rows (``USE_DATABASE``, not ``ALLOW_ALL_ORIGINS``), the default first."""
    config = get_config()
    return [name for name in config.policy_names if config.takes_rows(name)]


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
    policy = forms.ChoiceField(
        label=_("Policy"),
        required=False,
        help_text=_(
            'The policy of the lines that name none (every text line, JSON entries without "policy"). '
            "Left empty: the policy a text export's header names; without a header, new rows go to the default "
            "policy and existing rows keep theirs."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The configured policies, read when the form is built.
        self.fields["policy"].choices = [  # type: ignore[attr-defined]
            ("", _("as the text's header says")),
            *((name, name) for name in row_policies()),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("upload")
        try:
            if upload is not None:
                data["name"] = safe(upload.name or "upload", 200)
                data["text"] = decode_import(upload.read(MAX_IMPORT_BYTES + 1), data["name"])
                data["fmt"] = format_of(upload.name or "", data.get("format", "auto"))
            elif not data.get("text", "").strip():
                raise forms.ValidationError(_("Paste a list of origins or choose a file."))
            else:
                data["name"] = PASTED
                data["text"] = decode_import(data["text"].encode("utf-8", "surrogatepass"), PASTED)
                fmt = data.get("format", "auto")
                data["fmt"] = ("json" if data["text"].lstrip().startswith("[") else "text") if fmt == "auto" else fmt
        except ImportProblem as exc:
            raise forms.ValidationError(str(exc)) from None
        chosen = data.get("policy") or None
        try:
            data["resolved_policy"] = resolve_policy(data["text"], data["fmt"], chosen, choice=_POLICY_FIELD)
        except PolicyConflict as exc:
            self.add_error("policy", str(exc))
            return data
        except ImportProblem as exc:
            raise forms.ValidationError(str(exc)) from None
        if chosen is None and data["resolved_policy"] not in (None, *row_policies()):
            self.add_error(
                "policy",
                _(
                    "The text's header names the policy %(policy)s, which takes no rows here "
                    "(it is not configured, or its USE_DATABASE is False). Choose a policy."
                )
                % {"policy": safe(data["resolved_policy"], 64)},
            )
        return data


def import_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:  # type: ignore[type-arg]
    """Preview on the first POST; import the valid, permitted entries on the confirming one."""
    may_create = model_admin.has_add_permission(request)
    may_change = model_admin.has_change_permission(request)
    if not (may_create or may_change):
        raise PermissionDenied
    if request.method == "POST" and "_confirm" in request.POST:
        return _confirm(model_admin, request, may_create=may_create, may_change=may_change)
    form = ImportForm(request.POST or None, request.FILES or None)
    result = token = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entries = with_policy(parse_entries(data["text"], data["fmt"], data["name"]), data["resolved_policy"])
        except ImportProblem as exc:
            form.add_error(None, str(exc))
        else:
            result = preview(entries, may_create=may_create, may_change=may_change)
            carried = {key: data[key] for key in ("text", "fmt", "name", "resolved_policy")}
            # What confirming does, as this preview shows it: the confirmation
            # imports nothing if the rows changed meanwhile, or once done.
            carried["plan"] = result.plan
            token = signing.dumps({**carried, "user": str(request.user.pk)}, salt=_SALT, compress=True)
            room = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if room is not None and len(token) + _FORM_ROOM > room:
                form.add_error(
                    None,
                    _(
                        "Even compressed, this list takes %(size)d bytes to carry to the confirmation, more than "
                        "DATA_UPLOAD_MAX_MEMORY_SIZE (%(room)d bytes) lets a form post. Split it, or import it "
                        "with manage.py credcors import."
                    )
                    % {"size": len(token) + _FORM_ROOM, "room": room},
                )
                token = result = None
    return _page(model_admin, request, form, result, token)


def _confirm(
    model_admin: ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    *,
    may_create: bool,
    may_change: bool,
) -> HttpResponse:
    # Import what the signed token carries, as the preview showed it: the
    # posted text, if any, is never read.
    form = ImportForm()
    try:
        token = request.POST.get("token", "")
        carried = None if len(token) > _MAX_TOKEN else signing.loads(token, salt=_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        carried = None
    if not isinstance(carried, dict) or carried.get("user") != str(request.user.pk):
        problem = str(_("This preview has expired or is not yours; nothing was imported. Preview the list again."))
        return _page(model_admin, request, form, None, None, problem)
    name = carried["name"]
    try:
        entries = with_policy(parse_entries(carried["text"], carried["fmt"], name), carried["resolved_policy"])
        result = preview(entries, may_create=may_create, may_change=may_change)
        if result.plan != carried.get("plan"):
            raise ImportProblem(f"{name}: {CHANGED_SINCE_PREVIEW}")
        # The same code as the command, and the same history, as this user;
        # under its locks, the plan must still be the one previewed.
        report = import_entries(
            result.valid,
            name,
            user=request.user,
            may_create=may_create,
            may_change=may_change,
            expect=result.plan,
        )
    except ImportProblem as exc:
        return _page(model_admin, request, form, None, None, str(exc))
    skipped = result.count(REFUSED)
    text = f"Imported: added {report.created}, updated {report.updated}, unchanged {report.unchanged}"
    text += f"; {skipped} refused {'line was' if skipped == 1 else 'lines were'} left out." if skipped else "."
    model_admin.message_user(request, text, messages.SUCCESS)
    if report.created or report.updated:
        origins = [line.origin for line in result.lines if line.status in (ADDED, UPDATED)]
        model_admin.message_user(request, propagation_message(get_config(), origins), messages.INFO)
    opts = model_admin.opts
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))


def _page(
    model_admin: ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    form: ImportForm,
    result: Preview | None,
    token: str | None,
    problem: str = "",
) -> TemplateResponse:
    counts = None if result is None else {status: result.count(status) for status in (ADDED, UPDATED, PRESENT, REFUSED)}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Import origins"),
        "form": form,
        "preview": result,
        "shown": () if result is None else result.lines[:PREVIEW_LINES],
        "hidden": 0 if result is None else max(0, len(result.lines) - PREVIEW_LINES),
        "counts": counts,
        "token": token or "",
        "problem": problem,
    }
    return TemplateResponse(request, "admin/credcors/allowedorigin/import.html", context)
