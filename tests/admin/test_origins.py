"""AllowedOrigin in the Django admin: add, refuse, edit, search, filter, bulk actions."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.messages import get_messages
from django.test import Client

from credcors.admin.filters import CsrfTrustFilter
from credcors.admin.origins import AllowedOriginAdmin
from credcors.models import AllowedOrigin
from tests.conftest import Clock
from tests.helpers import allowed

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


def _bulk(admin_client: Client, action: str, *rows: AllowedOrigin) -> Any:
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )


def test_changelist_lists_origin_state_csrf_and_note_in_five_columns_at_most(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://partner.example.net", note="Partner portal")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert "https://partner.example.net" in content
    assert "Partner portal" in content
    for column in ("column-origin", "column-state", "column-csrf_trust", "column-shown_note"):
        assert column in content
    # The default policy alone: no column saying "default" on every line. "Updated" is on the row's page.
    for column in ("column-policy", "column-enabled", "column-expiry", "column-updated_at"):
        assert column not in content


def test_changelist_shows_the_policy_column_when_policies_are_configured(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = IN_FORCE
    AllowedOrigin.objects.create(origin="https://reader.example.net", policy="readers")

    content = admin_client.get(CHANGELIST).content.decode()

    assert _cells(content, "policy") == {"https://reader.example.net": "readers"}


def test_changelist_state_says_active_until_expired_or_disabled(admin_client: Client, settings: Any) -> None:
    from datetime import datetime, timezone

    from django.templatetags.static import static

    settings.TIME_ZONE = "UTC"
    AllowedOrigin.objects.create(origin="https://always.example.net")
    AllowedOrigin.objects.create(
        origin="https://until.example.net", expires_at=datetime(2099, 1, 2, 15, 30, tzinfo=timezone.utc)
    )
    AllowedOrigin.objects.create(
        origin="https://past.example.net", expires_at=datetime(2020, 1, 2, 15, 30, tzinfo=timezone.utc)
    )
    AllowedOrigin.objects.create(origin="https://off.example.net", enabled=False)

    content = admin_client.get(CHANGELIST).content.decode()

    assert _cells(content, "state") == {
        "https://always.example.net": "Active",
        "https://until.example.net": "Active until Jan. 2, 2099, 3:30 p.m.",
        "https://past.example.net": "Expired Jan. 2, 2020, 3:30 p.m.",
        "https://off.example.net": "Disabled",
    }
    state = "".join(re.findall(r'class="field-state[^"]*">(.*?)</td>', content, re.DOTALL))
    assert state.count(f'src="{static("admin/img/icon-yes.svg")}" alt=""') == 2
    assert state.count(f'src="{static("admin/img/icon-alert.svg")}" alt=""') == 1
    assert state.count(f'src="{static("admin/img/icon-no.svg")}" alt=""') == 1


def test_changelist_shortens_a_long_note_whole_on_hover_escaped(admin_client: Client) -> None:
    note = "Partner portal for the spring campaign <b>bold</b>; ask Dana in sales before removing it, every March."
    AllowedOrigin.objects.create(origin="https://partner.example.net", note=note)
    AllowedOrigin.objects.create(origin="https://short.example.net", note="short & sweet")

    content = admin_client.get(CHANGELIST).content.decode()

    escaped = note.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<span title="{escaped}">{escaped[: escaped.index("ask") + 3]}' in content
    assert "<b>bold</b>" not in content
    assert _cells(content, "shown_note")["https://short.example.net"] == "short &amp; sweet"


def test_add_form_labels_policy_as_django_does_and_leaves_out_the_empty_times(admin_client: Client) -> None:
    content = admin_client.get(ADD).content.decode()

    assert '<label class="required" for="id_policy">Policy:</label>' in content
    assert "Created:" not in content
    assert "Updated:" not in content


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
        ("https://*.amazonaws.com", "would allow hosts under 's3.amazonaws.com', a public suffix anyone can"),
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


def test_add_pattern_over_private_suffixes_page_escapes_and_names_the_way_out(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://*.amazonaws.com"))

    content = response.content.decode()
    assert "would allow hosts under &#x27;s3.amazonaws.com&#x27;, a public suffix anyone can register under" in content
    assert "List exact origins instead" in content
    assert not AllowedOrigin.objects.exists()


def test_add_pattern_over_a_domain_of_one_owner_is_saved_and_allows_every_depth(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://*.tenants.example.net"))

    assert response.status_code == 302
    assert AllowedOrigin.objects.get().origin == "https://*.tenants.example.net"
    assert allowed(Client(), "https://a.b.tenants.example.net")


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
    assert allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _bulk(admin_client, "disable_selected", row)

    # The clock is frozen: only the commit hook can have reloaded the list.
    assert callbacks
    assert not allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        _bulk(admin_client, "enable_selected", row)
    assert allowed(client, "https://partner.example.net")


def test_admin_add_allows_origin_on_next_request_after_commit(
    admin_client: Client, client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    assert not allowed(client, "https://new.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(ADD, _form_data("https://New.example.net"))

    assert allowed(client, "https://new.example.net")


def test_admin_delete_refuses_origin_on_next_request_after_commit(
    admin_client: Client, client: Client, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    row = AllowedOrigin.objects.create(origin="https://partner.example.net")
    assert allowed(client, "https://partner.example.net")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"})

    assert not AllowedOrigin.objects.exists()
    assert not allowed(client, "https://partner.example.net")


# --- what is in force: shadowed CSRF trust, rows of a '*' policy ----------------------------

IN_FORCE = {
    "ALLOWED_ORIGINS": ["https://app.example.com", "https://trusted.example.com"],
    "TRUST_FOR_CSRF": ["https://trusted.example.com"],
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True},
        "readers": {"USE_DATABASE": True},
    },
}


def _cells(content: str, column: str) -> dict[str, str]:
    # {origin: the text of the column} for each row of the change list.
    rows = re.findall(r"<tr>.*?</tr>", content, re.DOTALL)
    cells = {}
    for row in rows:
        origin = re.search(r'class="field-origin"><a [^>]*>([^<]*)</a>', row)
        value = re.search(rf'class="field-{column}[^"]*">(.*?)</td>', row, re.DOTALL)
        if origin and value:
            cells[origin.group(1)] = re.sub(r"<[^>]*>", "", value.group(1)).strip()
    return cells


def test_changelist_shows_the_csrf_trust_in_force(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = IN_FORCE
    AllowedOrigin.objects.create(origin="https://app.example.com", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://trusted.example.com")
    AllowedOrigin.objects.create(origin="https://own.example.com", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://plain.example.com")
    AllowedOrigin.objects.create(origin="https://reader.example.net", policy="readers", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://star.example.net", policy="public", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://off.example.com", trust_for_csrf=True, enabled=False)

    cells = _cells(admin_client.get(CHANGELIST).content.decode(), "csrf_trust")

    assert cells == {
        "https://app.example.com": "no (the settings entry decides)",
        "https://trusted.example.com": "yes (the settings entry decides)",
        "https://own.example.com": "yes (ticked)",
        "https://plain.example.com": "no",
        "https://reader.example.net": "no (the policy sends no credentials)",
        "https://star.example.net": "no (the policy takes no rows)",
        "https://off.example.com": "yes (ticked)",
    }


EVERY_ROW = {
    "ALLOWED_ORIGINS": ["https://app.example.com"],
    "TRUST_FOR_CSRF": True,
    "POLICIES": {
        "partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True},
        "readers": {"USE_DATABASE": True},
    },
}


def _trust_rows() -> None:
    # Every kind of row the rule tells apart, none of them ticked but one.
    AllowedOrigin.objects.create(origin="https://app.example.com")  # shadowed by the settings entry
    AllowedOrigin.objects.create(origin="https://plain.example.com")
    AllowedOrigin.objects.create(origin="https://ticked.example.com", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://off.example.com", enabled=False)
    AllowedOrigin.objects.create(
        origin="https://past.example.com", expires_at=datetime(2020, 1, 2, tzinfo=timezone.utc)
    )
    AllowedOrigin.objects.create(origin="https://*.example.org")
    AllowedOrigin.objects.create(origin="https://partner.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://reader.example.net", policy="readers", trust_for_csrf=True)


def test_under_trust_for_csrf_true_the_changelist_shows_every_exact_row_trusted(
    admin_client: Client, settings: Any
) -> None:
    settings.CREDCORS = EVERY_ROW
    _trust_rows()

    cells = _cells(admin_client.get(CHANGELIST).content.decode(), "csrf_trust")

    assert cells == {
        "https://app.example.com": "yes (the settings entry decides)",
        "https://plain.example.com": "yes (by TRUST_FOR_CSRF)",
        "https://ticked.example.com": "yes (by TRUST_FOR_CSRF)",
        # Not in force, but trusted the moment they are: the state column says why they are not.
        "https://off.example.com": "yes (by TRUST_FOR_CSRF)",
        "https://past.example.com": "yes (by TRUST_FOR_CSRF)",
        "https://*.example.org": "no (a pattern: never)",
        # TRUST_FOR_CSRF = True is the default policy's; a named policy's rows need their box.
        "https://partner.example.net": "no",
        "https://reader.example.net": "no (the policy sends no credentials)",
    }


def test_the_csrf_trust_cell_says_why_on_hover(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = EVERY_ROW
    AllowedOrigin.objects.create(origin="https://plain.example.com")
    AllowedOrigin.objects.create(origin="https://off.example.com", enabled=False)

    content = admin_client.get(CHANGELIST).content.decode()

    assert (
        '<span title="trusted for CSRF: CREDCORS[&#x27;TRUST_FOR_CSRF&#x27;] is True, which trusts every exact row '
        'of the default policy, ticked or not">'
    ) in content
    assert "ticked or not, once the row is in force" in content


def _filtered(admin_client: Client, value: str) -> set[str]:
    return set(_cells(admin_client.get(CHANGELIST, {"csrf_trusted": value}).content.decode(), "csrf_trust"))


def test_the_trust_filter_matches_the_column_under_trust_for_csrf_true(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = EVERY_ROW
    _trust_rows()

    trusted = _filtered(admin_client, "yes")

    assert trusted == {
        "https://app.example.com",
        "https://plain.example.com",
        "https://ticked.example.com",
        "https://off.example.com",
        "https://past.example.com",
    }
    assert _filtered(admin_client, "no") == {
        "https://*.example.org",
        "https://partner.example.net",
        "https://reader.example.net",
    }
    assert "trusted for CSRF (in force)" in admin_client.get(CHANGELIST).content.decode()


def test_the_trust_filter_matches_the_column_when_only_the_box_trusts(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = {**EVERY_ROW, "TRUST_FOR_CSRF": False}
    _trust_rows()
    AllowedOrigin.objects.filter(origin="https://partner.example.net").update(trust_for_csrf=True)

    cells = _cells(admin_client.get(CHANGELIST).content.decode(), "csrf_trust")

    assert _filtered(admin_client, "yes") == {"https://ticked.example.com", "https://partner.example.net"}
    assert _filtered(admin_client, "yes") == {origin for origin, text in cells.items() if text.startswith("yes")}
    assert len(_filtered(admin_client, "no")) == 6
    assert cells["https://app.example.com"] == "no (the settings entry decides)"


def test_the_trust_filter_is_one_query(admin_client: Client, settings: Any, django_assert_max_num_queries: Any) -> None:
    settings.CREDCORS = EVERY_ROW
    _trust_rows()

    request = admin_client.get(CHANGELIST).wsgi_request
    model_admin = AllowedOriginAdmin(AllowedOrigin, django_admin.site)
    chosen = CsrfTrustFilter(request, {"csrf_trusted": ["yes"]}, AllowedOrigin, model_admin)

    with django_assert_max_num_queries(1):
        assert len(list(chosen.queryset(request, AllowedOrigin.objects.all()))) == 5


def test_the_row_page_says_trust_for_csrf_true_trusts_the_row_whatever_the_box(
    admin_client: Client, settings: Any
) -> None:
    row = AllowedOrigin.objects.create(origin="https://plain.example.com")
    note = "Now: CREDCORS[&#x27;TRUST_FOR_CSRF&#x27;] is True, so every exact row of the default policy"

    settings.CREDCORS = EVERY_ROW
    assert note in admin_client.get(_change(row.pk)).content.decode()
    settings.CREDCORS = {**EVERY_ROW, "TRUST_FOR_CSRF": False}
    assert note not in admin_client.get(_change(row.pk)).content.decode()


def test_adding_a_row_to_an_allow_all_policy_warns(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = IN_FORCE

    response = admin_client.post(ADD, {**_form_data("https://star.example.net"), "policy": "public"}, follow=True)

    assert AllowedOrigin.objects.get().policy == "public"  # Saved: it allows nothing, so nothing to refuse.
    assert (
        "The policy 'public' answers every origin with '*' (CREDCORS[\"POLICIES\"]['public'][\"ALLOW_ALL_ORIGINS\"]) "
        "and takes no rows: this row allows nothing, and its CSRF trust counts nowhere."
    ) in _messages(response)


def test_saving_a_trusted_row_shadowed_by_settings_says_the_settings_entry_decides(
    admin_client: Client, settings: Any
) -> None:
    settings.CREDCORS = IN_FORCE

    response = admin_client.post(ADD, {**_form_data("https://app.example.com"), "trust_for_csrf": "on"}, follow=True)
    untrusted = admin_client.post(ADD, _form_data("https://own.example.com"), follow=True)

    assert (
        "The AllowedOrigin row 'https://app.example.com' of the policy 'default' is marked trusted for CSRF, but the "
        "settings entry of the same origin in that policy decides: 'https://app.example.com' is not trusted for CSRF."
    ) in _messages(response)
    assert not any("for CSRF" in message for message in _messages(untrusted))
