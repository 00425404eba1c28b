"""The admin's "Import origins" page and its "Export" actions: the command's format, the command's code."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from credcors import import_file
from credcors.exporting import text_header
from credcors.models import AllowedOrigin

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
    carried = previewed.context["text"]

    response = admin_client.post(IMPORT, {"text": carried, "format": "text", "_confirm": "1"}, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert _state() == [
        ("https://new.example.net", True, ""),
        ("https://off.example.net", True, ""),
        ("https://present.example.net", True, "kept"),
    ]
    messages = _messages(response)
    assert "Imported: added 1, updated 1, unchanged 1; 3 refused lines were left out." in messages
    assert any(message.startswith("Live at once in this process") for message in messages)


def test_import_of_only_present_lines_offers_no_confirmation(admin_client: Client, rows: None) -> None:
    response = admin_client.post(IMPORT, {"text": "https://present.example.net\n", "format": "text"})

    assert [line[2] for line in _lines(response)] == ["present"]
    assert 'name="_confirm"' not in response.content.decode()
    confirmed = admin_client.post(
        IMPORT, {"text": "https://present.example.net\n", "format": "text", "_confirm": "1"}, follow=True
    )
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
    assert response.context["fmt"] == "json"
    confirmed = admin_client.post(IMPORT, {"text": response.context["text"], "format": "json", "_confirm": "1"})
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


def test_oversized_upload_is_refused(monkeypatch: pytest.MonkeyPatch, admin_client: Client) -> None:
    from credcors.control import import_view

    monkeypatch.setattr(import_view, "MAX_IMPORT_BYTES", 10)

    response = admin_client.post(IMPORT, {"upload": SimpleUploadedFile("o.txt", b"https://a.example.net\n")})

    assert "The file is 22 bytes; the limit is 10." in response.context["form"].non_field_errors()
    assert not AllowedOrigin.objects.exists()


def test_concurrent_writer_during_confirmation_rolls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, admin_client: Client
) -> None:
    # Another process inserting the same origin between the check and the
    # insert cannot be timed from one test thread; the insert is made to lose.
    def lose(*args: Any, **kwargs: Any) -> Any:
        raise import_file.ImportProblem("the pasted list: another process added some of these origins ...")

    monkeypatch.setattr("credcors.control.import_view.import_entries", lose)

    response = admin_client.post(IMPORT, {"text": "https://a.example.net", "format": "text", "_confirm": "1"})

    assert response.status_code == 200
    assert "another process added" in " ".join(response.context["form"].non_field_errors())
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


def test_import_needs_the_add_permission() -> None:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_allowedorigin", "change_allowedorigin"]))
    client = Client()
    client.force_login(user)

    assert client.get(IMPORT).status_code == 403
    assert client.post(IMPORT, {"text": "https://a.example.net", "_confirm": "1"}).status_code == 403
    assert not AllowedOrigin.objects.exists()
    user.user_permissions.add(Permission.objects.get(codename="add_allowedorigin"))
    assert client.get(IMPORT).status_code == 200


# -- Export -----------------------------------------------------------------------------


ROW_DEFAULTS = {"enabled": True, "note": "", "policy": "default", "trust_for_csrf": False, "expires_at": None}


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
