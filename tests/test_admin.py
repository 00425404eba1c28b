"""AllowedOrigin in the Django admin: add, refuse, edit, search, filter, bulk actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from credcors.models import AllowedOrigin
from tests.conftest import Clock

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/credcors/allowedorigin/"
ADD = CHANGELIST + "add/"


def _change(pk: int) -> str:
    return f"{CHANGELIST}{pk}/change/"


def _form_data(origin: str, *, enabled: bool = True, note: str = "") -> dict[str, str]:
    data = {"origin": origin, "note": note, "policy": "default"}
    if enabled:
        data["enabled"] = "on"
    return data


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _origin_errors(response: Any) -> list[str]:
    return list(response.context["adminform"].form.errors.get("origin", []))


def _allowed(client: Client, origin: str) -> bool:
    response = client.get("/api/echo", headers={"Origin": origin})
    return response.headers.get("Access-Control-Allow-Origin") == origin


def _bulk(admin_client: Client, action: str, *rows: AllowedOrigin) -> Any:
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )


def test_changelist_lists_origin_enabled_note_and_updated(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://partner.example.net", note="Partner portal")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert "https://partner.example.net" in content
    assert "Partner portal" in content
    for column in ("column-origin", "column-enabled", "column-note", "column-updated_at"):
        assert column in content


def test_add_canonical_origin_is_stored_without_notice(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://app2.example.com", note="second app"), follow=True)

    assert response.status_code == 200
    row = AllowedOrigin.objects.get()
    assert (row.origin, row.note, row.enabled) == ("https://app2.example.com", "second app", True)
    assert not any("was stored as" in message for message in _messages(response))


def test_add_non_canonical_origin_stores_canonical_form_and_says_so(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://Partner.Example.NET:443/"), follow=True)

    assert response.status_code == 200
    assert AllowedOrigin.objects.get().origin == "https://partner.example.net"
    assert "'https://Partner.Example.NET:443/' was stored as 'https://partner.example.net'" in " ".join(
        _messages(response)
    )


def test_add_internationalized_origin_stores_punycode(admin_client: Client) -> None:
    admin_client.post(ADD, _form_data("https://bücher.example"))

    assert AllowedOrigin.objects.get().origin == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("https://*.com", "would cover a whole top-level domain"),
        ("https://*.co.uk", "wildcards over a public suffix are refused"),
        ("null", "sandboxed frames"),
        ("http://evil.com", "ALLOW_INSECURE_ORIGINS"),
        ("*", "every site on the internet"),
        ("https://app.example.com/callback", "it has a path"),
        ("app.example.com", "it has no scheme"),
        ("https://app.example.com,https://b.example.com", "comma"),
    ],
)
def test_add_invalid_origin_shows_validator_message_once_and_stores_nothing(
    admin_client: Client, typed: str, fragment: str
) -> None:
    response = admin_client.post(ADD, _form_data(typed))

    assert response.status_code == 200  # the form again, not a redirect
    errors = _origin_errors(response)
    assert len(errors) == 1
    assert fragment in errors[0]
    assert f"{typed!r} is not an allowed origin" in errors[0]
    assert not AllowedOrigin.objects.exists()


def test_add_empty_origin_shows_required_error_only(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data(""))

    assert _origin_errors(response) == ["This field is required."]


def test_add_origin_already_stored_in_another_spelling_is_refused(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.com")

    response = admin_client.post(ADD, _form_data("https://A.example.com:443/"))

    errors = _origin_errors(response)
    assert len(errors) == 1
    assert "already exists" in errors[0]
    assert AllowedOrigin.objects.count() == 1


def test_add_insecure_origin_allowed_when_settings_accept_the_risk(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"ALLOW_INSECURE_ORIGINS": True}

    admin_client.post(ADD, _form_data("http://intranet.example.com"))

    assert AllowedOrigin.objects.get().origin == "http://intranet.example.com"


def test_edit_changes_origin_note_and_enabled(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://old.example.net", note="old")

    response = admin_client.post(
        _change(row.pk), _form_data("https://New.example.net", enabled=False, note="renamed"), follow=True
    )

    row.refresh_from_db()
    assert (row.origin, row.enabled, row.note) == ("https://new.example.net", False, "renamed")
    assert "was stored as 'https://new.example.net'" in " ".join(_messages(response))


def test_edit_to_invalid_origin_is_refused_and_row_unchanged(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://ok.example.net")

    response = admin_client.post(_change(row.pk), _form_data("https://*.github.io"))

    assert "public suffix" in _origin_errors(response)[0]
    row.refresh_from_db()
    assert row.origin == "https://ok.example.net"


def test_change_page_shows_timestamps_read_only(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://ok.example.net")

    response = admin_client.get(_change(row.pk))

    assert response.status_code == 200
    form_fields = set(response.context["adminform"].form.fields)
    assert {"origin", "enabled", "note"} <= form_fields
    assert not {"created_at", "updated_at"} & form_fields


def test_search_matches_origin_and_note(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://acme.example.net", note="ACME storefront")
    AllowedOrigin.objects.create(origin="https://globex.example.net", note="Globex billing")

    by_origin = admin_client.get(CHANGELIST, {"q": "acme"})
    by_note = admin_client.get(CHANGELIST, {"q": "billing"})

    assert [r.origin for r in by_origin.context["cl"].result_list] == ["https://acme.example.net"]
    assert [r.origin for r in by_note.context["cl"].result_list] == ["https://globex.example.net"]


def test_filter_by_enabled_lists_matching_rows_only(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://on.example.net")
    AllowedOrigin.objects.create(origin="https://off.example.net", enabled=False)

    enabled = admin_client.get(CHANGELIST, {"enabled__exact": "1"})
    disabled = admin_client.get(CHANGELIST, {"enabled__exact": "0"})

    assert [r.origin for r in enabled.context["cl"].result_list] == ["https://on.example.net"]
    assert [r.origin for r in disabled.context["cl"].result_list] == ["https://off.example.net"]


def test_bulk_disable_then_enable_updates_rows_and_reports_count(admin_client: Client) -> None:
    a = AllowedOrigin.objects.create(origin="https://a.example.net")
    b = AllowedOrigin.objects.create(origin="https://b.example.net")
    c = AllowedOrigin.objects.create(origin="https://c.example.net")

    disabled = _bulk(admin_client, "disable_selected", a, b)
    assert "Disabled 2 origins." in _messages(disabled)
    assert set(AllowedOrigin.objects.filter(enabled=False).values_list("origin", flat=True)) == {
        "https://a.example.net",
        "https://b.example.net",
    }

    enabled = _bulk(admin_client, "enable_selected", a)
    assert "Enabled 1 origin." in _messages(enabled)
    assert list(AllowedOrigin.objects.filter(enabled=False).values_list("pk", flat=True)) == [b.pk]
    assert AllowedOrigin.objects.get(pk=c.pk).enabled


def test_bulk_disable_refuses_origin_on_next_request_after_commit(
    admin_client: Client, client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    row = AllowedOrigin.objects.create(origin="https://partner.example.net")
    assert _allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _bulk(admin_client, "disable_selected", row)

    # The clock is frozen: only the commit hook can have reloaded the list.
    assert callbacks
    assert not _allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        _bulk(admin_client, "enable_selected", row)
    assert _allowed(client, "https://partner.example.net")


def test_admin_add_allows_origin_on_next_request_after_commit(
    admin_client: Client, client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    assert not _allowed(client, "https://new.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(ADD, _form_data("https://New.example.net"))

    assert _allowed(client, "https://new.example.net")


def test_admin_delete_refuses_origin_on_next_request_after_commit(
    admin_client: Client, client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    row = AllowedOrigin.objects.create(origin="https://partner.example.net")
    assert _allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"})

    assert not AllowedOrigin.objects.exists()
    assert not _allowed(client, "https://partner.example.net")
