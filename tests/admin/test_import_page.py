"""The admin's "Import origins" page and its "Export" actions: the command's format, the command's code."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from credcors.models import AllowedOrigin
from credcors.rows import import_format
from credcors.rows.export_format import text_header
from tests.helpers import staff_client

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/credcors/allowedorigin/"
IMPORT = CHANGELIST + "import/"

PASTED = """# partners
https://new.example.net
https://Present.example.net
https://off.example.net
ftp://bad.example.net

https://*.com
https://new.example.net/
"""


@pytest.fixture
def rows() -> None:
    AllowedOrigin.objects.create(origin="https://present.example.net", note="kept")
    AllowedOrigin.objects.create(origin="https://off.example.net", enabled=False)


def _state() -> list[tuple[str, bool, str]]:
    return list(AllowedOrigin.objects.order_by("origin").values_list("origin", "enabled", "note"))


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _lines(response: Any) -> list[tuple[str, str, str, str, str]]:
    return [
        (line.where, line.written, line.status, line.origin, line.detail) for line in response.context["preview"].lines
    ]


def _confirm(client: Client, previewed: Any, **extra: Any) -> Any:
    """Confirm a preview as its page does: the signed token, never the list itself."""
    assert previewed.status_code == 200, previewed.content[:2000]
    token = previewed.context["token"]
    assert token
    return client.post(IMPORT, {"token": token, "_confirm": "1"}, **extra)


def test_import_page_shows_the_form(admin_client: Client) -> None:
    response = admin_client.get(IMPORT)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="text"' in content
    assert 'name="upload"' in content
    assert "manage.py credcors import" in content


def test_pasted_list_previews_every_line_and_changes_nothing(admin_client: Client, rows: None) -> None:
    before = _state()

    response = admin_client.post(IMPORT, {"text": PASTED, "format": "auto"})

    assert response.status_code == 200
    assert _state() == before
    lines = _lines(response)
    assert lines[:3] == [
        ("line 2", "https://new.example.net", "added", "https://new.example.net", ""),
        ("line 3", "https://Present.example.net", "present", "https://present.example.net", ""),
        ("line 4", "https://off.example.net", "updated", "https://off.example.net", "enabled"),
    ]
    refused = {where: (status, detail) for where, _, status, _, detail in lines[3:]}
    assert set(refused) == {"line 5", "line 7", "line 8"}
    assert all(status == "refused" for status, _ in refused.values())
    assert "'ftp://bad.example.net' is not an allowed origin" in refused["line 5"][1]
    assert "public suffix" in refused["line 7"][1] or "top-level domain" in refused["line 7"][1]
    assert refused["line 8"][1] == "https://new.example.net is already listed at line 2."
    content = response.content.decode()
    assert "Nothing has changed yet." in content
    for status in ("will be added", "already present", "refused"):
        assert status in content
    assert 'name="_confirm"' in content


def test_confirming_imports_the_good_lines_through_the_command_code(admin_client: Client, rows: None) -> None:
    previewed = admin_client.post(IMPORT, {"text": PASTED, "format": "auto"})

    response = _confirm(admin_client, previewed, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert _state() == [
        ("https://new.example.net", True, ""),
        ("https://off.example.net", True, ""),
        ("https://present.example.net", True, "kept"),
    ]
    messages = _messages(response)
    assert "Imported: added 1, updated 1, unchanged 1; 3 refused lines were left out." in messages
    assert any(message.startswith("Live at once in this process") for message in messages)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("https://ok.example.net\nhttps://*.amazonaws.com\n", "text"),
        (json.dumps([{"origin": "https://ok.example.net"}, {"origin": "https://*.amazonaws.com"}]), "json"),
    ],
)
def test_import_refuses_a_pattern_over_private_suffixes_in_preview_and_confirm(
    admin_client: Client, text: str, fmt: str
) -> None:
    preview = admin_client.post(IMPORT, {"text": text, "format": fmt})
    confirmed = _confirm(admin_client, preview)

    [(status, detail)] = [(status, detail) for _, written, status, _, detail in _lines(preview) if "amazon" in written]
    assert status == "refused"
    assert "'https://*.amazonaws.com' is not an allowed origin" in detail
    assert "hosts under 's3.amazonaws.com', a public suffix anyone can register under" in detail
    assert confirmed.status_code == 302
    assert list(AllowedOrigin.objects.values_list("origin", flat=True)) == ["https://ok.example.net"]


def test_import_of_only_present_lines_offers_no_confirmation(admin_client: Client, rows: None) -> None:
    response = admin_client.post(IMPORT, {"text": "https://present.example.net\n", "format": "text"})

    assert [line[2] for line in _lines(response)] == ["present"]
    assert 'name="_confirm"' not in response.content.decode()
    confirmed = _confirm(admin_client, response, follow=True)
    assert "Imported: added 0, updated 0, unchanged 1." in _messages(confirmed)
    assert not any(message.startswith("Live at once") for message in _messages(confirmed))


def test_upload_of_json_export_previews_and_imports(admin_client: Client, rows: None) -> None:
    exported = json.dumps(
        [
            {"origin": "https://present.example.net", "enabled": False, "note": "paused"},
            {"origin": "https://json.example.net"},
            {"origin": 3},
        ]
    ).encode()

    response = admin_client.post(IMPORT, {"upload": SimpleUploadedFile("origins.json", exported), "format": "auto"})

    lines = _lines(response)
    assert [line[2] for line in lines] == ["updated", "added", "refused"]
    assert lines[0][4] == "disabled, note"
    assert lines[2][1] == "(not an origin entry)"
    confirmed = _confirm(admin_client, response)
    assert confirmed.status_code == 302
    assert ("https://present.example.net", False, "paused") in _state()
    assert ("https://json.example.net", True, "") in _state()


def test_pasted_json_is_recognized_by_auto(admin_client: Client) -> None:
    response = admin_client.post(IMPORT, {"text": '  ["https://a.example.net"]', "format": "auto"})

    assert _lines(response) == [("entry 1", "https://a.example.net", "added", "https://a.example.net", "")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"text": "  \n", "format": "auto"}, "Paste a list of origins or choose a file."),
        ({"text": "[1,", "format": "json"}, "the pasted list is not valid JSON (line 1)."),
        ({"upload": SimpleUploadedFile("o.txt", b"\xff\xfe"), "format": "auto"}, "not UTF-8 text (byte 0)"),
    ],
)
def test_unreadable_input_is_a_form_error(admin_client: Client, data: dict[str, Any], error: str) -> None:
    response = admin_client.post(IMPORT, data)

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert any(error in message for message in response.context["form"].non_field_errors())


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"upload": SimpleUploadedFile("o.txt", b"https://a.example.net\n")}, '"o.txt"'),
        ({"text": "https://a.example.net\n"}, "the pasted list"),
    ],
)
def test_oversized_upload_or_paste_is_refused_naming_the_limit(
    monkeypatch: pytest.MonkeyPatch, admin_client: Client, data: dict[str, Any], name: str
) -> None:
    monkeypatch.setattr(import_format, "MAX_IMPORT_BYTES", 10)

    response = admin_client.post(IMPORT, {**data, "format": "auto"})

    assert response.context["form"].non_field_errors() == [
        f"{name} is larger than 10 bytes, the most an import reads; split it into smaller files."
    ]
    assert response.context["preview"] is None
    assert not AllowedOrigin.objects.exists()


def test_concurrent_writer_during_confirmation_rolls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, admin_client: Client
) -> None:
    # Another process inserting the same origin between the check and the
    # insert cannot be timed from one test thread; the insert is made to lose.
    def lose(*args: Any, **kwargs: Any) -> Any:
        raise import_format.ImportProblem("the pasted list: another process added some of these origins ...")

    previewed = admin_client.post(IMPORT, {"text": "https://a.example.net", "format": "text"})
    monkeypatch.setattr("credcors.admin.import_view.import_entries", lose)

    response = _confirm(admin_client, previewed)

    assert response.status_code == 200
    assert "another process added" in response.context["problem"]
    assert "another process added" in response.content.decode()
    assert not AllowedOrigin.objects.exists()


def test_preview_matches_the_commands_dry_run(admin_client: Client, rows: None, tmp_path: Any) -> None:
    good = "https://new.example.net\nhttps://off.example.net\nhttps://present.example.net\n"
    path = tmp_path / "origins.txt"
    path.write_text(good)
    out = StringIO()
    call_command("credcors", "import", str(path), "--dry-run", stdout=out)

    response = admin_client.post(IMPORT, {"text": good, "format": "text"})

    assert "would have added 1, updated 1, unchanged 1." in out.getvalue()
    assert [line[2] for line in _lines(response)] == ["added", "updated", "present"]


# -- Who may do what ----------------------------------------------------------------------

PARTNER_POLICIES: dict[str, Any] = {
    "ALLOWED_ORIGINS": ["https://app.example.com"],
    "POLICIES": {"partners": {"USE_DATABASE": True}, "vendors": {"USE_DATABASE": True}},
}
EXPLOIT = [
    {"origin": "https://disabled.example.org", "enabled": True, "trust_for_csrf": True},
    {"origin": "https://expired.example.org", "expires_at": None},
    {"origin": "https://rowpartner.example.org", "policy": "default"},
]


@pytest.fixture
def exploitable(settings: Any) -> None:
    """A disabled row, an expired row and a partner row: what staff without the change permission must not alter."""
    from datetime import timedelta

    from django.utils import timezone

    settings.CREDCORS = PARTNER_POLICIES
    AllowedOrigin.objects.create(origin="https://disabled.example.org", enabled=False)
    AllowedOrigin.objects.create(origin="https://expired.example.org", expires_at=timezone.now() - timedelta(days=1))
    AllowedOrigin.objects.create(origin="https://rowpartner.example.org", policy="partners")


def _rows() -> list[tuple[str, bool, str, bool, object]]:
    return list(
        AllowedOrigin.objects.order_by("origin").values_list(
            "origin", "enabled", "policy", "trust_for_csrf", "expires_at"
        )
    )


def test_view_and_add_only_staff_cannot_change_existing_rows_with_the_issues_exploit(
    exploitable: None, client: Client
) -> None:
    before = _rows()
    staff = staff_client("view_allowedorigin", "add_allowedorigin")

    # The exact request of issue 21, finding 1: a confirmation carrying the list itself.
    response = staff.post(IMPORT, {"format": "json", "_confirm": "1", "text": json.dumps(EXPLOIT)})

    assert response.status_code == 200
    assert "This preview has expired or is not yours; nothing was imported." in response.content.decode()
    assert _rows() == before
    for origin in ("https://disabled.example.org", "https://expired.example.org", "https://rowpartner.example.org"):
        answer = client.get("/api/echo", headers={"Origin": origin})
        assert "access-control-allow-origin" not in answer.headers, origin


def test_view_and_add_only_staff_see_each_change_refused_and_confirm_only_additions(exploitable: None) -> None:
    before = _rows()
    staff = staff_client("view_allowedorigin", "add_allowedorigin")
    text = json.dumps([*EXPLOIT, "https://new.example.org", "https://rowpartner.example.org"])

    previewed = staff.post(IMPORT, {"format": "json", "text": text})

    lines = _lines(previewed)
    assert [line[2] for line in lines] == ["refused", "refused", "refused", "added", "refused"]
    assert lines[0][4] == (
        "would be updated (enabled, trusted for CSRF), but changing an existing row needs the change permission"
    )
    assert lines[1][4] == "would be updated (expires never), but changing an existing row needs the change permission"
    assert lines[2][4] == (
        "would be updated (policy default), but changing an existing row needs the change permission"
    )
    assert lines[4][4] == "https://rowpartner.example.org is already listed at entry 3."
    confirmed = _confirm(staff, previewed, follow=True)
    assert "Imported: added 1, updated 0, unchanged 0; 4 refused lines were left out." in _messages(confirmed)
    assert [row for row in _rows() if row[0] != "https://new.example.org"] == before


def test_change_only_staff_may_update_rows_but_not_add_them(exploitable: None) -> None:
    staff = staff_client("view_allowedorigin", "change_allowedorigin")

    assert staff.get(IMPORT).status_code == 200
    previewed = staff.post(
        IMPORT, {"text": "https://disabled.example.org\nhttps://new.example.org\n", "format": "text"}
    )

    assert [(line[2], line[4]) for line in _lines(previewed)] == [
        ("updated", "enabled"),
        ("refused", "would be added, but adding a row needs the add permission"),
    ]
    confirmed = _confirm(staff, previewed, follow=True)
    assert "Imported: added 0, updated 1, unchanged 0; 1 refused line was left out." in _messages(confirmed)
    assert AllowedOrigin.objects.get(origin="https://disabled.example.org").enabled
    assert not AllowedOrigin.objects.filter(origin="https://new.example.org").exists()


CHANGED = (
    "the pasted list: the rows this import names changed since it was previewed (someone else added, changed or "
    "removed one, or this preview was confirmed already); nothing was imported. Preview the list again."
)


def test_a_row_added_after_the_preview_stops_the_confirmation_of_add_only_staff() -> None:
    staff = staff_client("view_allowedorigin", "add_allowedorigin")
    previewed = staff.post(IMPORT, {"text": "https://late.example.org\nhttps://new.example.org\n", "format": "text"})
    assert [line[2] for line in _lines(previewed)] == ["added", "added"]
    # Someone else adds one of them, disabled, before the confirmation: confirming would now change it.
    AllowedOrigin.objects.create(origin="https://late.example.org", enabled=False)

    confirmed = _confirm(staff, previewed, follow=True)

    assert confirmed.context["problem"] == CHANGED
    assert _state() == [("https://late.example.org", False, "")]


def test_a_row_disabled_after_the_preview_is_not_enabled_again_by_its_confirmation(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://x.example.net")
    previewed = admin_client.post(IMPORT, {"text": "https://x.example.net\n", "format": "text"})
    assert [line[2] for line in _lines(previewed)] == ["present"]
    # A colleague disables it during an incident, before the confirmation.
    AllowedOrigin.objects.filter(origin="https://x.example.net").update(enabled=False)

    confirmed = _confirm(admin_client, previewed, follow=True)

    assert confirmed.context["problem"] == CHANGED
    assert _state() == [("https://x.example.net", False, "")]


def test_a_confirmation_cannot_be_replayed(admin_client: Client) -> None:
    previewed = admin_client.post(IMPORT, {"text": "https://x.example.net\n", "format": "text"})
    first = _confirm(admin_client, previewed, follow=True)
    assert "Imported: added 1, updated 0, unchanged 0." in _messages(first)
    AllowedOrigin.objects.filter(origin="https://x.example.net").update(enabled=False)

    again = _confirm(admin_client, previewed, follow=True)

    assert again.context["problem"] == CHANGED
    assert _state() == [("https://x.example.net", False, "")]


def test_import_entries_refuses_a_plan_other_than_the_one_expected() -> None:
    # The confirmation's last line of defence: the table changed between its preview and its locks.
    from credcors.rows.import_format import Entry
    from credcors.rows.importing import check_entries, import_entries, plan_digest, plan_import

    entries = [Entry("line 1", "https://a.example.net")]
    expected = plan_digest(plan_import(check_entries(entries)[0]))
    AllowedOrigin.objects.create(origin="https://a.example.net", enabled=False)

    with pytest.raises(import_format.ImportProblem, match="changed since it was previewed"):
        import_entries(entries, "x", expect=expected)

    assert _state() == [("https://a.example.net", False, "")]


@pytest.mark.parametrize(
    ("existing", "may", "reason"),
    [
        (False, {"may_create": False}, "would be added, and adding a row needs the add permission"),
        (True, {"may_change": False}, "would change an existing row, and changing an existing row needs the change"),
    ],
)
def test_import_entries_refuses_a_whole_import_holding_a_forbidden_entry(
    existing: bool, may: dict[str, bool], reason: str
) -> None:
    # What the confirmation relies on when the table changed between its preview and its locks.
    from credcors.rows.import_format import Entry
    from credcors.rows.importing import import_entries

    if existing:
        AllowedOrigin.objects.create(origin="https://a.example.net", enabled=False)
    entries = [Entry("line 1", "https://a.example.net"), Entry("line 2", "https://b.example.net")]
    allowed = {"may_create": True, "may_change": True, **may}
    if existing:
        entries = entries[:1]

    with pytest.raises(import_format.ImportProblem, match=reason):
        import_entries(entries, "x", may_create=allowed["may_create"], may_change=allowed["may_change"])

    assert _state() == ([("https://a.example.net", False, "")] if existing else [])


def test_staff_with_neither_add_nor_change_permission_cannot_import() -> None:
    staff = staff_client("view_allowedorigin", "delete_allowedorigin")

    assert staff.get(IMPORT).status_code == 403
    assert staff.post(IMPORT, {"text": "https://a.example.net", "_confirm": "1"}).status_code == 403
    assert not AllowedOrigin.objects.exists()


@pytest.mark.parametrize("tamper", ["forged", "foreign", "expired", "missing"])
def test_a_confirmation_without_a_valid_token_of_this_user_imports_nothing(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    from credcors.admin import import_view

    previewed = admin_client.post(IMPORT, {"text": "https://a.example.net\n", "format": "text"})
    token = previewed.context["token"]
    client = admin_client
    if tamper == "forged":
        token = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    elif tamper == "foreign":
        client = staff_client("add_allowedorigin", "change_allowedorigin")
    elif tamper == "expired":
        monkeypatch.setattr(import_view, "CONFIRM_MAX_AGE", -1)
    data = {"_confirm": "1", "text": "https://b.example.net\n"}
    if tamper != "missing":
        data["token"] = token

    response = client.post(IMPORT, data)

    assert response.status_code == 200
    assert response.context["problem"].startswith("This preview has expired or is not yours; nothing was imported.")
    assert not AllowedOrigin.objects.exists()


# -- Export -----------------------------------------------------------------------------


ROW_DEFAULTS = {
    "enabled": True,
    "note": "",
    "policy": "default",
    "trust_for_csrf": False,
    "expires_at": None,
    "hosts": [],
}


def _export(client: Client, action: str, *rows: AllowedOrigin) -> Any:
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(row.pk) for row in rows]})


def test_export_text_downloads_the_enabled_selected_rows_as_the_command_writes(admin_client: Client) -> None:
    a = AllowedOrigin.objects.create(origin="https://a.example.net")
    b = AllowedOrigin.objects.create(origin="https://b.example.net", enabled=False)
    AllowedOrigin.objects.create(origin="https://c.example.net")

    response = _export(admin_client, "export_text", b, a)

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="allowed-origins.txt"'
    assert response.content.decode() == f"{text_header('default')}\nhttps://a.example.net\n"
    AllowedOrigin.objects.exclude(pk=a.pk).delete()
    out = StringIO()
    call_command("credcors", "export", stdout=out)
    assert out.getvalue() == response.content.decode()


def test_export_text_of_rows_of_two_policies_is_refused_with_the_way_out(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = {"POLICIES": {"partners": {"USE_DATABASE": True}}}
    a = AllowedOrigin.objects.create(origin="https://a.example.net")
    p = AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")

    response = _export(admin_client, "export_text", a, p)

    assert response.status_code == 302
    shown = _messages(response)
    assert any("one policy" in text and "default, partners" in text for text in shown), shown
    only_partners = _export(admin_client, "export_text", p)
    assert only_partners.content.decode() == f"{text_header('partners')}\nhttps://p.example.net\n"


def test_export_json_downloads_every_selected_row_and_imports_back(admin_client: Client, tmp_path: Any) -> None:
    a = AllowedOrigin.objects.create(origin="https://a.example.net", note="<b>note</b>")
    b = AllowedOrigin.objects.create(origin="https://b.example.net", enabled=False)

    response = _export(admin_client, "export_json", a, b)

    assert response["Content-Disposition"] == 'attachment; filename="allowed-origins.json"'
    assert json.loads(response.content) == [
        {**ROW_DEFAULTS, "origin": "https://a.example.net", "note": "<b>note</b>"},
        {**ROW_DEFAULTS, "origin": "https://b.example.net", "enabled": False},
    ]
    out = StringIO()
    call_command("credcors", "export", "--format", "json", stdout=out)
    assert out.getvalue() == response.content.decode()
    path = tmp_path / "back.json"
    path.write_bytes(response.content)
    out = StringIO()
    call_command("credcors", "import", str(path), stdout=out)
    assert "added 0, updated 0, unchanged 2." in out.getvalue()


# -- Policies ---------------------------------------------------------------------------

POLICY_NAMES = ("default", "partners", "vendors")


def _policies() -> dict[str, str]:
    return dict(AllowedOrigin.objects.values_list("origin", "policy"))


def _import_in_admin(client: Client, content: str, **data: str) -> Any:
    upload = SimpleUploadedFile("export.txt", content.encode())
    return _confirm(client, client.post(IMPORT, {"upload": upload, "format": "auto", **data}), follow=True)


@pytest.mark.parametrize("policy", POLICY_NAMES)
@pytest.mark.parametrize("tool", ["admin", "command"])
def test_text_export_reimported_lands_in_the_policy_it_came_from(
    settings: Any, admin_client: Client, tmp_path: Any, tool: str, policy: str
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    settings.CREDCORS = PARTNER_POLICIES
    later = timezone.now() + timedelta(days=3)
    for name in POLICY_NAMES:
        AllowedOrigin.objects.create(origin=f"https://{name}-a.example.net", policy=name)
        AllowedOrigin.objects.create(origin=f"https://{name}-b.example.net", policy=name, expires_at=later)
    out = StringIO()
    call_command("credcors", "export", "--policy", policy, stdout=out)
    exported = out.getvalue()
    expected = {origin: policy for origin, name in _policies().items() if name == policy}
    AllowedOrigin.objects.all().delete()

    if tool == "admin":
        messages = _messages(_import_in_admin(admin_client, exported))
        assert "Imported: added 2, updated 0, unchanged 0." in messages
    else:
        path = tmp_path / "export.txt"
        path.write_text(exported)
        call_command("credcors", "import", str(path), stdout=StringIO())

    assert _policies() == expected
    assert AllowedOrigin.objects.get(origin=f"https://{policy}-b.example.net").expires_at is not None


def test_text_export_moves_a_row_back_to_its_policy_and_the_preview_says_so(
    settings: Any, admin_client: Client
) -> None:
    settings.CREDCORS = PARTNER_POLICIES
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    exported = admin_client.post(
        CHANGELIST, {"action": "export_text", "_selected_action": [str(AllowedOrigin.objects.get().pk)]}
    ).content.decode()
    AllowedOrigin.objects.update(policy="default")

    previewed = admin_client.post(IMPORT, {"upload": SimpleUploadedFile("p.txt", exported.encode()), "format": "auto"})

    [line] = previewed.context["preview"].lines
    assert (line.status, line.detail, line.policy) == ("updated", "policy partners", "partners")
    assert "<td>partners</td>" in previewed.content.decode()
    _confirm(admin_client, previewed)
    assert _policies() == {"https://p.example.net": "partners"}


def test_import_policy_choices_are_the_policies_that_take_rows(settings: Any, admin_client: Client) -> None:
    settings.CREDCORS = {
        "USE_DATABASE": False,
        "POLICIES": {
            "partners": {"USE_DATABASE": True},
            "public": {"ALLOW_ALL_ORIGINS": True},
            # Reads the database, but answers every origin with '*': its rows allow nothing.
            "open": {"ALLOW_ALL_ORIGINS": True, "USE_DATABASE": True},
        },
    }

    response = admin_client.get(IMPORT)

    choices = [value for value, _ in response.context["form"].fields["policy"].choices]
    assert choices == ["", "partners"]


def test_a_chosen_policy_other_than_the_headers_is_a_form_error(settings: Any, admin_client: Client) -> None:
    settings.CREDCORS = PARTNER_POLICIES
    exported = f"{text_header('partners')}\nhttps://p.example.net\n"

    response = admin_client.post(
        IMPORT, {"upload": SimpleUploadedFile("p.txt", exported.encode()), "format": "auto", "policy": "default"}
    )

    assert response.context["preview"] is None
    assert response.context["form"].errors["policy"] == [
        'the text\'s header says its origins belong to the policy "partners", but the Policy field is "default"; '
        'choose "partners", or leave the Policy field out to follow the header.'
    ]
    agreeing = admin_client.post(IMPORT, {"text": exported, "format": "auto", "policy": "partners"})
    assert [line.policy for line in agreeing.context["preview"].lines] == ["partners"]


@pytest.mark.parametrize(
    ("text", "field", "error"),
    [
        (
            f"{text_header('gone')}\nhttps://p.example.net\n",
            "policy",
            'The text\'s header names the policy "gone", which takes no rows here',
        ),
        (
            f"{text_header('partners')}\nhttps://p.example.net\n{text_header('vendors')}\nhttps://v.example.net\n",
            "__all__",
            'the text holds exports of several policies, "partners" (line 1), "vendors" (line 3); import each',
        ),
        (
            '# credcors allowed origins of the policy "par<b>tners" (...)\nhttps://p.example.net\n',
            "__all__",
            "line 1: this credcors export header names no policy that can be read:",
        ),
    ],
)
def test_a_header_that_cannot_decide_the_policy_is_a_form_error(
    settings: Any, admin_client: Client, text: str, field: str, error: str
) -> None:
    settings.CREDCORS = PARTNER_POLICIES

    response = admin_client.post(IMPORT, {"text": text, "format": "auto"})

    assert response.context["preview"] is None
    assert any(message.startswith(error) for message in response.context["form"].errors[field]), response.context[
        "form"
    ].errors
    assert "<b>" not in response.content.decode()
    assert not AllowedOrigin.objects.exists()


def test_json_entries_keep_their_policy_and_the_chosen_one_fills_the_others(
    settings: Any, admin_client: Client
) -> None:
    settings.CREDCORS = PARTNER_POLICIES
    text = json.dumps([{"origin": "https://v.example.net", "policy": "vendors"}, "https://p.example.net"])

    previewed = admin_client.post(IMPORT, {"text": text, "format": "auto", "policy": "partners"})

    assert [(line.origin, line.policy) for line in previewed.context["preview"].lines] == [
        ("https://v.example.net", "vendors"),
        ("https://p.example.net", "partners"),
    ]
    _confirm(admin_client, previewed)
    assert _policies() == {"https://v.example.net": "vendors", "https://p.example.net": "partners"}


def test_a_list_without_header_or_choice_adds_to_default_and_keeps_existing_policies(
    settings: Any, admin_client: Client
) -> None:
    settings.CREDCORS = PARTNER_POLICIES
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")

    previewed = admin_client.post(IMPORT, {"text": "https://p.example.net\nhttps://n.example.net\n", "format": "text"})

    assert [(line.status, line.policy) for line in previewed.context["preview"].lines] == [
        ("present", "partners"),
        ("added", "default"),
    ]


# -- Large imports ----------------------------------------------------------------------


def _many(count: int, start: int = 0) -> str:
    return "".join(f"https://host-{index}.partner-{index % 97}.example.net\n" for index in range(start, start + count))


def test_preview_of_100000_lines_writes_and_locks_nothing_and_reads_in_chunks(admin_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from credcors.rows.importing import READ_CHUNK

    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://host-7.partner-7.example.net", enabled=False)])
    upload = SimpleUploadedFile("many.txt", _many(100_000).encode())

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(IMPORT, {"upload": upload, "format": "auto"})

    assert response.status_code == 200
    assert response.context["counts"] == {"added": 99_999, "updated": 1, "present": 0, "refused": 0}
    ours = [query["sql"] for query in queries.captured_queries if "credcors_" in query["sql"]]
    assert all(sql.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in sql.upper() for sql in ours)
    assert not any("SAVEPOINT" in query["sql"].upper() for query in queries.captured_queries)
    assert len(ours) <= 100_000 // READ_CHUNK + 2
    assert AllowedOrigin.objects.count() == 1
    content = response.content.decode()
    assert content.count('<tr class="credcors-') == 200
    assert "The first 200 lines are shown; 99800 more lines are counted above but not shown." in content
    assert len(response.content) < 1_000_000


def test_a_4_mb_upload_can_be_confirmed(admin_client: Client) -> None:
    import random

    # A JSON export of 1,000 rows with long notes: more than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), under
    # MAX_IMPORT_BYTES; the confirmation posts a compressed token, never the list.
    rng = random.Random(21)
    words = [f"word{index}" for index in range(500)]
    rows = [
        {"origin": f"https://host-{index}.example.net", "note": " ".join(rng.choices(words, k=600))}
        for index in range(1_000)
    ]
    content = json.dumps(rows).encode()
    assert 4_000_000 < len(content) < import_format.MAX_IMPORT_BYTES
    previewed = admin_client.post(IMPORT, {"upload": SimpleUploadedFile("rows.json", content), "format": "auto"})
    assert previewed.context["counts"] == {"added": 1_000, "updated": 0, "present": 0, "refused": 0}
    assert len(previewed.context["token"]) < 2_500_000

    confirmed = _confirm(admin_client, previewed, follow=True)

    assert confirmed.status_code == 200
    assert "Imported: added 1000, updated 0, unchanged 0." in _messages(confirmed)
    assert AllowedOrigin.objects.get(origin="https://host-999.example.net").note == rows[-1]["note"]


def test_a_list_whose_token_cannot_be_posted_back_is_refused_on_the_preview(
    settings: Any, admin_client: Client
) -> None:
    import random

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    rng = random.Random(21)
    notes = [{"origin": f"https://n{index}.example.net", "note": rng.randbytes(300).hex()} for index in range(20)]
    upload = SimpleUploadedFile("notes.json", json.dumps(notes).encode())

    response = admin_client.post(IMPORT, {"upload": upload, "format": "auto"})

    assert response.context["preview"] is None
    [error] = response.context["form"].non_field_errors()
    assert error.startswith("Even compressed, this list takes ")
    assert "more than DATA_UPLOAD_MAX_MEMORY_SIZE (5000 bytes) lets a form post." in error


@pytest.mark.django_db(transaction=True)
def test_preview_holds_no_lock_a_concurrent_insert_waits_for(admin_client: Client) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer lock for the whole database; the revision row lock is PostgreSQL's")
    inserted: list[str] = []
    failures: list[str] = []
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True

    def insert_from_another_connection(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "credcors_allowedorigin" in sql and len(inserted) + len(failures) < 50:
            origin = f"https://concurrent-{len(inserted) + len(failures)}.example.com"
            try:
                with other.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '1s'")
                    cursor.execute(
                        "INSERT INTO credcors_allowedorigin (origin, enabled, note, policy, trust_for_csrf, "
                        "created_at, updated_at) VALUES (%s, TRUE, '', 'default', FALSE, now(), now())",
                        [origin],
                    )
                inserted.append(origin)
            except Exception as exc:  # a lock timeout, on the code that wrote during the preview
                failures.append(f"{origin}: {exc}")
        return result

    try:
        with connection.execute_wrapper(insert_from_another_connection):
            response = admin_client.post(IMPORT, {"text": _many(1_000), "format": "text"})
    finally:
        other.close()

    assert failures == []
    assert inserted
    assert response.context["counts"]["added"] == 1_000
    assert sorted(AllowedOrigin.objects.values_list("origin", flat=True)) == sorted(inserted)


# -- What the database cannot store -------------------------------------------------------

# JSON escapes: a NUL (PostgreSQL cannot store it) and a lone surrogate (no driver can encode it).
UNSTORABLE = (
    '[{"origin": "https://nul.example.net", "note": "a\\u0000b"},'
    ' {"origin": "https://surrogate.example.net", "note": "\\ud800"},'
    ' {"origin": "https://fine.example.net", "note": "ok"}]'
)


def test_a_note_the_database_cannot_store_is_a_refused_line_never_a_500(admin_client: Client) -> None:
    previewed = admin_client.post(IMPORT, {"text": UNSTORABLE, "format": "auto"})

    assert previewed.status_code == 200
    assert [(line[2], line[4]) for line in _lines(previewed)] == [
        ("refused", "the note holds a NUL character (\\x00), which the database cannot store; remove it."),
        ("refused", "the note holds a lone surrogate (\\ud800), which the database cannot store; remove it."),
        ("added", ""),
    ]
    confirmed = _confirm(admin_client, previewed, follow=True)
    assert "Imported: added 1, updated 0, unchanged 0; 2 refused lines were left out." in _messages(confirmed)
    assert _state() == [("https://fine.example.net", True, "ok")]


def test_a_note_the_database_cannot_store_is_refused_by_the_command(tmp_path: Any) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "notes.json"
    path.write_text(UNSTORABLE)

    for dry_run in (["--dry-run"], []):
        with pytest.raises(CommandError) as info:
            call_command("credcors", "import", str(path), *dry_run, stdout=StringIO())
        message = str(info.value)
        assert "2 invalid entries; nothing was imported." in message
        assert "entry 1: the note holds a NUL character (\\x00)" in message
        assert "entry 2: the note holds a lone surrogate (\\ud800)" in message
    assert not AllowedOrigin.objects.exists()


def test_an_empty_policy_is_a_refused_line_never_stored(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    text = json.dumps(
        [{"origin": "https://p.example.net", "policy": ""}, {"origin": "https://n.example.net", "policy": ""}]
    )

    preview = admin_client.post(IMPORT, {"text": text, "format": "json"})

    assert [status for _, _, status, _, _ in _lines(preview)] == ["refused", "refused"]
    assert list(AllowedOrigin.objects.values_list("origin", "policy")) == [("https://p.example.net", "partners")]


def test_an_import_validates_each_origin_for_its_policys_credentials(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = {
        "ALLOW_CREDENTIALS": False,
        "POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
    }
    text = json.dumps([{"origin": "http://p.example.net", "policy": "partners"}, "http://reader.example.net"])

    preview = admin_client.post(IMPORT, {"text": text, "format": "json"})

    [(first, detail), (second, _)] = [(status, detail) for _, _, status, _, detail in _lines(preview)]
    assert (first, second) == ("refused", "added")
    assert "http://" in detail


def test_a_token_longer_than_any_import_makes_is_refused_unread(admin_client: Client, settings: Any) -> None:
    from credcors.rows.import_format import MAX_IMPORT_BYTES

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    token = "x" * (2 * MAX_IMPORT_BYTES + 1)

    response = admin_client.post(IMPORT, {"token": token, "_confirm": "1"})

    assert response.context["problem"].startswith("This preview has expired or is not yours; nothing was imported.")
    assert _state() == []
