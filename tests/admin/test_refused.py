"""RefusedOrigin in the Django admin: most seen first, read-only, "Allow selected" and "Dismiss"."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from credcors.models import AllowedOrigin, RefusedOrigin
from tests.helpers import allowed

pytestmark = pytest.mark.django_db

capture_on_commit_callbacks = TestCase.captureOnCommitCallbacks
CHANGELIST = "/admin/credcors/refusedorigin/"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _refused(origin: str, count: int = 1, minutes_ago: int = 0, policy: str = "default") -> RefusedOrigin:
    seen = NOW - timedelta(minutes=minutes_ago)
    row: RefusedOrigin = RefusedOrigin.objects.create(
        origin=origin, count=count, first_seen=seen, last_seen=seen, last_path="/api/me", policy=policy
    )
    return row


def _act(client: Client, action: str, *rows: RefusedOrigin) -> Any:
    # Run the commit hooks, which reload the allow-list in this process.
    with capture_on_commit_callbacks(execute=True):
        return client.post(
            CHANGELIST, {"action": action, "_selected_action": [str(row.pk) for row in rows]}, follow=True
        )


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_changelist_lists_most_seen_first_and_offers_no_add(admin_client: Client) -> None:
    _refused("https://rare.example.net", count=2)
    _refused("https://often.example.net", count=40, minutes_ago=5)
    _refused("https://middle.example.net", count=7)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    shown = [row.origin for row in response.context["cl"].result_list]
    assert shown == ["https://often.example.net", "https://middle.example.net", "https://rare.example.net"]
    assert b"/<wbr>api/<wbr>me" in response.content  # A line may break after each slash.
    assert f"{CHANGELIST}add/".encode() not in response.content
    actions = [choice for choice, _label in response.context["action_form"].fields["action"].choices]
    # Dismiss replaces Django's delete action (the blank choice's value differs by Django version).
    assert [choice for choice in actions if choice] == ["allow_selected", "delete_selected"]
    labels = dict(response.context["action_form"].fields["action"].choices)
    assert str(labels["delete_selected"]) == "Dismiss selected origins"


def test_changelist_columns_fit_and_a_long_path_is_whole_on_hover_and_on_its_page(admin_client: Client) -> None:
    path = "/api/notes/2026/11/30/attachments/report.pdf?download=1&x=<b>"
    row = _refused("https://new.example.net")
    row.last_path = path
    row.save()

    listed = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()

    escaped = path.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    cell = "/api/notes/2026/11/30/attachments/repor".replace("/", "/<wbr>")
    assert f'<span title="{escaped}">{cell}…</span>' in listed
    # The first sighting, and the policy when there is only the default one, are on the entry's page.
    for column in ("column-first_seen", "column-shown_policy"):
        assert column not in listed
    assert escaped in page
    assert "First seen" in page


def test_changelist_shows_the_policy_column_when_policies_are_configured(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://p.example.com"]}}}
    _refused("https://new.example.net", policy="partners")

    listed = admin_client.get(CHANGELIST).content.decode()

    assert '<td class="field-shown_policy">partners</td>' in listed


def test_origins_allowed_since_are_hidden_by_default_and_marked_on_request(settings, admin_client: Client) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["https://settings.example.net"],
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"]}},
    }
    _refused("https://still.example.net", count=9)
    _refused("https://settings.example.net", count=8)  # allowed in settings since
    _refused("https://partner.example.net", count=7)  # allowed, but by another policy than the one that refused it
    AllowedOrigin.objects.create(origin="https://row.example.net")
    _refused("https://row.example.net", count=6)  # allowed by a row saved since
    _refused("https://partner.example.net", count=5, policy="partners")  # allowed where it was refused

    def shown(query: str = "") -> list[tuple[str, str]]:
        response = admin_client.get(f"{CHANGELIST}{query}")
        return [(row.origin, row.policy) for row in response.context["cl"].result_list]

    assert shown() == [("https://still.example.net", "default"), ("https://partner.example.net", "default")]
    assert shown("?now_allowed=no") == shown()
    assert shown("?now_allowed=yes") == [
        ("https://settings.example.net", "default"),
        ("https://row.example.net", "default"),
        ("https://partner.example.net", "partners"),
    ]
    assert len(shown("?now_allowed=all")) == 5
    content = admin_client.get(f"{CHANGELIST}?now_allowed=all").content.decode()
    assert content.count('<span class="credcors-now-allowed">now allowed</span>') == 3
    assert "https://still.example.net</a></th>" in content
    # The filter offers its three choices, "No" chosen when none is asked for.
    page = admin_client.get(CHANGELIST).content.decode()
    choices = re.findall(r'<li( class="selected")?>\s*<a href="\?now_allowed=(\w+)">(\w+)</a>', page)
    assert choices == [(' class="selected"', "no", "No"), ("", "yes", "Yes"), ("", "all", "All")]


def test_dismiss_of_all_listed_leaves_the_hidden_now_allowed_entries(admin_client: Client) -> None:
    hidden = _refused("https://app.example.com")  # In the settings' ALLOWED_ORIGINS.
    _refused("https://one.example.net")
    _refused("https://two.example.net")

    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "select_across": "1", "_selected_action": ["0"]}, follow=True
    )

    assert _messages(response) == ["Dismissed 2 origins."]
    assert list(RefusedOrigin.objects.values_list("pk", flat=True)) == [hidden.pk]


@pytest.mark.parametrize("query", ["", "?now_allowed=yes", "?now_allowed=all"])
def test_the_now_allowed_mark_and_filter_cost_no_query_per_entry(admin_client: Client, query: str) -> None:
    AllowedOrigin.objects.create(origin="https://row.example.net")
    _refused("https://row.example.net")
    _refused("https://still.example.net")
    _queries(admin_client, query)  # The session's and the allow-list's first reads.
    few = _queries(admin_client, query)
    for index in range(20):
        _refused(f"https://more{index}.example.net")
        _refused(f"https://more{index}.example.net", policy="gone")

    assert _queries(admin_client, query) == few


def _queries(client: Client, query: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{CHANGELIST}{query}").status_code == 200
    return len(captured.captured_queries)


def test_a_row_is_read_only(admin_client: Client) -> None:
    row = _refused("https://often.example.net", count=40)

    page = admin_client.get(f"{CHANGELIST}{row.pk}/change/")
    posted = admin_client.post(f"{CHANGELIST}{row.pk}/change/", {"origin": "https://other.example.net", "count": 1})

    assert page.status_code == 200
    assert b'name="origin"' not in page.content
    assert posted.status_code == 403
    assert RefusedOrigin.objects.get().origin == "https://often.example.net"


def test_allow_selected_adds_the_origin_logs_it_and_clears_the_row(admin_client: Client, admin_user: User) -> None:
    new = _refused("https://new.example.net", count=12)
    local = _refused("http://localhost:3002", count=3)
    assert not allowed(Client(), "https://new.example.net")

    response = _act(admin_client, "allow_selected", new, local)

    assert _messages(response) == ["Allowed 2 origins: https://new.example.net, http://localhost:3002."]
    assert set(AllowedOrigin.objects.values_list("origin", flat=True)) == {
        "https://new.example.net",
        "http://localhost:3002",
    }
    assert RefusedOrigin.objects.count() == 0
    assert allowed(Client(), "https://new.example.net")
    assert allowed(Client(), "http://localhost:3002")
    entry = LogEntry.objects.get(object_repr="https://new.example.net")
    assert entry.action_flag == ADDITION
    assert entry.user == admin_user
    assert entry.content_type == ContentType.objects.get_for_model(AllowedOrigin)
    # Worded as every addition is (tests/rows/test_edit.py); the note says where it came from.
    assert entry.get_change_message() == "Added: note."
    row = AllowedOrigin.objects.get(origin="https://new.example.net")
    assert row.note == "allowed from the refused origins (12 refused)"
    history = admin_client.get(f"/admin/credcors/allowedorigin/{row.pk}/history/")
    assert b"Added: note." in history.content


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        # Well-formed on the wire, so recorded; refused by the validator.
        ("http://intranet.example.net", "plain http:// origins"),
        ("https://0x7f.1", "ends in a number"),
    ],
)
def test_allow_selected_leaves_what_the_validator_refuses_refused(
    admin_client: Client, origin: str, reason: str
) -> None:
    row = _refused(origin, count=9)
    fine = _refused("https://fine.example.net")

    response = _act(admin_client, "allow_selected", row, fine)

    [refusal, success] = _messages(response)
    assert refusal.startswith(f"Still refused: {origin!r} is not an allowed origin")
    assert reason in refusal
    assert success == "Allowed 1 origin: https://fine.example.net."
    assert list(RefusedOrigin.objects.values_list("origin", flat=True)) == [origin]
    assert list(AllowedOrigin.objects.values_list("origin", flat=True)) == ["https://fine.example.net"]
    assert not allowed(Client(), origin)


def test_allow_selected_enables_a_disabled_row(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://paused.example.net", enabled=False)
    row = _refused("https://paused.example.net", count=4)

    response = _act(admin_client, "allow_selected", row)

    assert _messages(response) == ["Allowed 1 origin: https://paused.example.net."]
    assert AllowedOrigin.objects.get().enabled
    assert allowed(Client(), "https://paused.example.net")
    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE
    assert entry.get_change_message() == "Changed: enabled."


def test_allow_selected_logs_each_origin_in_the_words_of_any_add_or_enable(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://paused.example.net", enabled=False)
    paused = _refused("https://paused.example.net", count=1)
    new = _refused("https://new.example.net", count=1)

    _act(admin_client, "allow_selected", paused, new)

    assert sorted(entry.get_change_message() for entry in LogEntry.objects.all()) == [
        "Added: note.",
        "Changed: enabled.",
    ]
    assert (
        AllowedOrigin.objects.get(origin="https://new.example.net").note
        == "allowed from the refused origins (1 refused)"
    )


def test_allow_selected_of_an_origin_allowed_since_only_clears_the_row(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://since.example.net")
    row = _refused("https://since.example.net", count=2)
    listed = _refused("https://app.example.com")  # In the settings' ALLOWED_ORIGINS.

    response = _act(admin_client, "allow_selected", row, listed)

    assert _messages(response) == [
        "Already allowed by the policies that refused them, so only cleared from the list: "
        "https://since.example.net, https://app.example.com."
    ]
    assert AllowedOrigin.objects.count() == 1
    assert RefusedOrigin.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_allow_selected_of_a_row_saved_elsewhere_a_moment_ago_only_clears_the_entry(admin_client: Client) -> None:
    allowed(Client(), "https://other.example.net")  # This process compiles its list before the row exists.
    AllowedOrigin.objects.create(origin="https://late.example.net")  # Another process saved it meanwhile.
    row = _refused("https://late.example.net")

    response = _act(admin_client, "allow_selected", row)

    assert _messages(response) == [
        "Already allowed by the policy that refused it, so only cleared from the list: https://late.example.net."
    ]
    assert RefusedOrigin.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_allow_selected_of_an_origin_with_a_row_in_another_policy_says_so_and_keeps_it(
    admin_client: Client, settings: Any
) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    AllowedOrigin.objects.create(origin="https://partner.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://paused.example.net", policy="partners", enabled=False)
    row = _refused("https://partner.example.net", count=2)  # Refused by a default-policy view.
    paused = _refused("https://paused.example.net")

    response = _act(admin_client, "allow_selected", row, paused)

    assert _messages(response) == [
        "Not allowed by 'default': https://partner.example.net is already a row of the policy 'partners' (enabled), "
        "and an origin has one row only. Change that row's policy if 'default' should allow it instead.",
        "Not allowed by 'default': https://paused.example.net is already a row of the policy 'partners' (disabled), "
        "and an origin has one row only. Change that row's policy if 'default' should allow it instead.",
    ]
    assert set(RefusedOrigin.objects.values_list("origin", flat=True)) == {
        "https://partner.example.net",
        "https://paused.example.net",
    }
    assert dict(AllowedOrigin.objects.values_list("origin", "enabled")) == {
        "https://partner.example.net": True,
        "https://paused.example.net": False,
    }
    assert not allowed(Client(), "https://partner.example.net")
    assert LogEntry.objects.count() == 0


def test_allow_selected_of_an_expired_row_says_it_was_not_renewed_and_keeps_the_entry(
    admin_client: Client, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    gone = datetime(2020, 1, 2, 3, 4, tzinfo=timezone.utc)
    AllowedOrigin.objects.create(origin="https://trial.example.net", expires_at=gone, enabled=False)
    row = _refused("https://trial.example.net")

    response = _act(admin_client, "allow_selected", row)

    assert _messages(response) == [
        "Not renewed: the row of https://trial.example.net expired Jan. 2, 2020, 3:04 a.m., and allowing it from this "
        "list never extends an expiry. Give the row a later expiry, or none, to allow it again."
    ]
    kept = AllowedOrigin.objects.get()
    assert (kept.enabled, kept.expires_at) == (False, gone)
    assert RefusedOrigin.objects.count() == 1
    assert not allowed(Client(), "https://trial.example.net")


def test_allow_selected_for_a_policy_that_reads_no_rows_says_so_and_adds_nothing(
    admin_client: Client, settings: Any
) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"ALLOWED_ORIGINS": [], "USE_DATABASE": False}}}
    row = _refused("https://partner.example.net", policy="partners")

    response = _act(admin_client, "allow_selected", row)

    assert _messages(response) == [
        "Not allowed: the policy 'partners' reads no database rows (its USE_DATABASE is False), so a row would allow "
        "nothing; list https://partner.example.net in its ALLOWED_ORIGINS in settings."
    ]
    assert AllowedOrigin.objects.count() == 0
    assert RefusedOrigin.objects.count() == 1


def test_allow_selected_warns_about_a_look_alike_of_an_allowed_origin_without_blocking_it(
    admin_client: Client, settings: Any
) -> None:
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"], "USE_DATABASE": True}},
    }
    look_alike = _refused("https://app.example.com.evil.net", count=3)
    partner_twin = _refused("https://partner.example.net.evil.net", count=2, policy="partners")
    plain = _refused("https://www.app.example.com")  # A near miss of the same owner's: no warning.

    response = _act(admin_client, "allow_selected", look_alike, partner_twin, plain)

    assert _messages(response) == [
        "Allowed, but check it: you allowed https://app.example.com (settings); you now allow "
        "https://app.example.com.evil.net: its host contains app.example.com but is not under it, so it is another "
        "site, whoever registered it.",
        "Allowed, but check it: you allowed https://partner.example.net (settings); you now allow "
        "https://partner.example.net.evil.net: its host contains partner.example.net but is not under it, so it is "
        "another site, whoever registered it.",
        "Allowed 3 origins: https://app.example.com.evil.net, https://partner.example.net.evil.net, "
        "https://www.app.example.com.",
    ]
    assert dict(AllowedOrigin.objects.values_list("origin", "policy")) == {
        "https://app.example.com.evil.net": "default",
        "https://partner.example.net.evil.net": "partners",
        "https://www.app.example.com": "default",
    }
    assert RefusedOrigin.objects.count() == 0


def test_bidi_controls_in_a_refused_entry_are_shown_escaped(admin_client: Client) -> None:
    row = _refused("https://new.example.net", policy="part\u202eners")
    row.last_path = "/api/\u202etxt.exe\u2066x\u2069\u200f\u061c"
    row.save()

    pages = [admin_client.get(CHANGELIST), admin_client.get(f"{CHANGELIST}{row.pk}/change/")]

    for page in pages:
        text = page.content.decode()
        assert page.status_code == 200
        for control in ("\u202e", "\u2066", "\u2069", "\u200f", "\u061c", "\u202a"):
            assert control not in text
        assert "/api/\\u202etxt.exe\\u2066x\\u2069\\u200f\\u061c" in text
        assert "part\\u202eners" in text


def test_dismiss_deletes_the_selected_rows(admin_client: Client) -> None:
    gone = _refused("https://gone.example.net")
    also = _refused("https://also.example.net")
    kept = _refused("https://kept.example.net")

    response = _act(admin_client, "delete_selected", gone, also)

    assert _messages(response) == ["Dismissed 2 origins."]
    assert list(RefusedOrigin.objects.values_list("pk", flat=True)) == [kept.pk]
    assert AllowedOrigin.objects.count() == 0


def test_staff_who_may_only_view_get_no_actions() -> None:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_refusedorigin"))
    client = Client()
    client.force_login(user)
    row = _refused("https://new.example.net")

    page = client.get(CHANGELIST)
    attempt = _act(client, "allow_selected", row)

    assert page.status_code == 200
    assert page.context["action_form"] is None
    assert attempt.status_code == 200
    assert AllowedOrigin.objects.count() == 0
    assert RefusedOrigin.objects.count() == 1


def test_allow_selected_with_nothing_allowable_says_only_why(admin_client: Client) -> None:
    row = _refused("http://intranet.example.net")

    response = _act(admin_client, "allow_selected", row)

    [refusal] = _messages(response)
    assert refusal.startswith("Still refused: 'http://intranet.example.net' is not an allowed origin")
    assert RefusedOrigin.objects.count() == 1
    assert AllowedOrigin.objects.count() == 0


def test_allow_selected_adds_the_row_to_the_policy_that_refused_it(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    partner = _refused("https://partner.example.net", policy="partners")
    # A policy no longer configured: never the default one, which sends credentials.
    gone = _refused("https://gone.example.net", policy="removed-since")

    response = _act(admin_client, "allow_selected", partner, gone)

    assert _messages(response) == [
        "Left in the list: https://gone.example.net was refused by the policy 'removed-since', which is no longer "
        "configured; nothing was added to another policy. Dismiss it, or configure 'removed-since' again.",
        "Allowed 1 origin: https://partner.example.net.",
    ]
    assert dict(AllowedOrigin.objects.values_list("origin", "policy")) == {"https://partner.example.net": "partners"}
    assert list(RefusedOrigin.objects.values_list("origin", "policy")) == [
        ("https://gone.example.net", "removed-since")
    ]
    assert not allowed(Client(), "https://gone.example.net")


CREDENTIALED_PARTNERS = {
    "ALLOW_CREDENTIALS": False,
    "POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
}


def test_allow_selected_validates_for_the_refusing_policys_credentials(admin_client: Client, settings: Any) -> None:
    settings.CREDCORS = CREDENTIALED_PARTNERS
    row = _refused("http://p.example.net", policy="partners")

    response = _act(admin_client, "allow_selected", row)

    [message] = _messages(response)
    assert message.startswith("Still refused: ")
    assert "http://" in message
    assert AllowedOrigin.objects.count() == 0
    assert RefusedOrigin.objects.count() == 1
