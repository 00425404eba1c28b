"""The admin as the control room: what a save does, overlap warnings, the effective list, the status panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import DatabaseError, connection
from django.test import Client
from django.utils import timezone

from credcors.admin import propagation
from credcors.models import AllowedOrigin
from credcors.rows.overlaps import MAX_LISTED
from tests.admin.test_origins import _form_data
from tests.helpers import staff_client

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/credcors/allowedorigin/"
ADD = CHANGELIST + "add/"


def _messages(response: Any) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def _warnings(response: Any) -> list[str]:
    return [text for level, text in _messages(response) if level == "warning"]


def _bulk(client: Client, action: str, *rows: AllowedOrigin, **extra: str) -> Any:
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(row.pk) for row in rows], **extra}, follow=True
    )


# -- Say what a save does -----------------------------------------------------------


def test_add_says_live_here_and_within_refresh_seconds(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"REFRESH_SECONDS": 7}

    response = admin_client.post(ADD, _form_data("https://new.example.net"), follow=True)

    assert (
        "info",
        "Live at once in this process, and in other processes within REFRESH_SECONDS (7 s).",
    ) in _messages(response)


def test_change_with_shared_cache_says_the_cache_figure(settings, admin_client: Client) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/tmp/credcors-t"},
    }
    settings.CREDCORS = {"CACHE_ALIAS": "shared", "REFRESH_SECONDS": 5}
    row = AllowedOrigin.objects.create(origin="https://a.example.net")

    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", _form_data(row.origin, note="n"), follow=True)

    texts = [text for _, text in _messages(response)]
    assert (
        "Live at once in this process, and in other processes within about 0.25 s through the shared cache "
        "'shared' (at the latest within REFRESH_SECONDS, 5 s)." in texts
    )


def test_delete_says_when_it_is_live(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://a.example.net")

    response = admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}, follow=True)

    assert any(text.startswith("Live at once in this process") for _, text in _messages(response))


@pytest.mark.parametrize("action", ["enable_selected", "disable_selected"])
def test_bulk_action_says_when_it_is_live(admin_client: Client, action: str) -> None:
    row = AllowedOrigin.objects.create(origin="https://a.example.net")

    response = _bulk(admin_client, action, row)

    assert any(text.startswith("Live at once in this process") for _, text in _messages(response))


def test_bulk_delete_says_when_live_only_after_confirming(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://a.example.net")

    asked = _bulk(admin_client, "delete_selected", row)
    assert not any("Live at once" in text for _, text in _messages(asked))
    assert AllowedOrigin.objects.exists()

    done = _bulk(admin_client, "delete_selected", row, post="yes")
    assert not AllowedOrigin.objects.exists()
    assert any(text.startswith("Live at once in this process") for _, text in _messages(done))


def test_use_database_off_says_rows_allow_nothing(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"USE_DATABASE": False, "ALLOWED_ORIGINS": ["https://app.example.com"]}

    response = admin_client.post(ADD, _form_data("https://new.example.net"), follow=True)

    assert ("info", SAVED_BUT_IDLE.format(policies="policy 'default'")) in _messages(response)


SAVED_BUT_IDLE = (
    "Saved, but rows of the {policies} allow nothing: a policy takes rows only while it is configured with "
    "USE_DATABASE True and does not answer every origin with '*'; this change takes effect once it does."
)


def test_row_of_a_named_policy_reading_the_database_is_live_though_the_default_reads_none(
    settings, admin_client: Client
) -> None:
    settings.CREDCORS = {"USE_DATABASE": False, "POLICIES": {"partners": {"USE_DATABASE": True}}}

    response = admin_client.post(ADD, {**_form_data("https://new.example.net"), "policy": "partners"}, follow=True)

    texts = [text for _, text in _messages(response)]
    assert not any("allow nothing" in text for text in texts)
    assert any(text.startswith("Live at once in this process") for text in texts)


def test_unreadable_database_says_so_instead(monkeypatch: pytest.MonkeyPatch, admin_client: Client) -> None:
    # A database that refuses the read-back cannot be produced mid-request on SQLite; the read is replaced.
    def refuse(**kwargs: Any) -> list[Any]:
        raise DatabaseError("gone")

    monkeypatch.setattr(propagation, "read_rows", refuse)

    response = admin_client.post(ADD, _form_data("https://new.example.net"), follow=True)

    texts = [text for _, text in _messages(response)]
    assert any(text.startswith("Saved, but the database cannot be read back (DatabaseError)") for text in texts)
    assert not any(text.startswith("Live at once") for text in texts)


# -- Overlap warnings ------------------------------------------------------------------


def test_row_covered_by_settings_pattern_warns_and_saves(admin_client: Client) -> None:
    # tests.settings allows https://*.example.org.
    response = admin_client.post(ADD, _form_data("https://shop.example.org"), follow=True)

    assert AllowedOrigin.objects.filter(origin="https://shop.example.org").exists()
    assert _warnings(response) == [
        "Already allowed: https://*.example.org (settings) allows https://shop.example.org, "
        "so this row changes nothing while that entry stays."
    ]


def test_row_equal_to_settings_origin_warns(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://app.example.com"), follow=True)

    assert AllowedOrigin.objects.filter(origin="https://app.example.com").exists()
    assert any(
        "https://app.example.com (settings) allows https://app.example.com," in text for text in _warnings(response)
    )


def test_row_covered_by_enabled_database_pattern_warns(admin_client: Client) -> None:
    pattern = AllowedOrigin.objects.create(origin="https://*.partner.net")

    response = admin_client.post(ADD, _form_data("https://a.b.partner.net"), follow=True)

    assert f"https://*.partner.net (database row {pattern.pk}) allows https://a.b.partner.net" in " ".join(
        _warnings(response)
    )


def test_row_covered_by_a_pattern_of_a_named_policy_reading_the_database_warns(settings, admin_client: Client) -> None:
    # The default policy reads no rows, the partners' does: their pattern covers the new row; the
    # default policy's pattern, which allows nothing, does not.
    settings.CREDCORS = {"USE_DATABASE": False, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    pattern = AllowedOrigin.objects.create(origin="https://*.partner.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://*.b.partner.net")

    response = admin_client.post(ADD, {**_form_data("https://a.b.partner.net"), "policy": "partners"}, follow=True)

    assert _warnings(response) == [
        f"Already allowed: https://*.partner.net (database row {pattern.pk}) allows https://a.b.partner.net, "
        "so this row changes nothing while that entry stays."
    ]


def test_row_under_disabled_pattern_gives_no_warning(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://*.partner.net", enabled=False)

    response = admin_client.post(ADD, _form_data("https://a.partner.net"), follow=True)

    assert _warnings(response) == []


def test_disabling_a_covered_row_warns_that_it_stays_allowed(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin="https://shop.example.org")

    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", _form_data(row.origin, enabled=False), follow=True)

    assert _warnings(response) == [
        "Still allowed: https://*.example.org (settings) allows https://shop.example.org, "
        "so disabling this row does not refuse it."
    ]


def test_pattern_covered_by_broader_pattern_warns(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://*.eu.example.org"), follow=True)

    assert _warnings(response) == [
        "Already allowed: https://*.example.org (settings) allows every origin https://*.eu.example.org "
        "covers, so this row changes nothing while that entry stays."
    ]


def test_pattern_over_disabled_rows_lists_them_bounded(admin_client: Client) -> None:
    for index in range(MAX_LISTED + 2):
        AllowedOrigin.objects.create(origin=f"https://p{index:02d}.corp.net", enabled=False)
    AllowedOrigin.objects.create(origin="https://corp.net", enabled=False)  # the apex: not covered
    # Another scheme (written around the validator, which refuses plain http).
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="http://x.corp.net", enabled=False)])
    AllowedOrigin.objects.create(origin="https://x.corp.net:8443", enabled=False)  # another port
    AllowedOrigin.objects.create(origin="https://on.corp.net")  # enabled
    AllowedOrigin.objects.create(origin="https://later.corp.net", expires_at=timezone.now() + timedelta(days=1))
    AllowedOrigin.objects.create(origin="https://zz.corp.net", expires_at=timezone.now() - timedelta(days=1))

    response = admin_client.post(ADD, _form_data("https://*.corp.net"), follow=True)

    named = ", ".join(f"https://p{index:02d}.corp.net" for index in range(MAX_LISTED))
    assert _warnings(response) == [
        "Covers disabled or expired rows: https://*.corp.net allows the origins of 13 disabled or expired rows, "
        f"which stay as they are but are allowed through the pattern: {named} and 3 more."
    ]


def test_disabled_pattern_over_disabled_rows_gives_no_warning(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.corp.net", enabled=False)

    response = admin_client.post(ADD, _form_data("https://*.corp.net", enabled=False), follow=True)

    assert _warnings(response) == []


@pytest.mark.parametrize(
    ("typed", "allowed", "what"),
    [
        ("http://app.example.com", "https://app.example.com", "the scheme differs (http vs https)"),
        ("https://www.app.example.com", "https://app.example.com", "one has 'www.' and the other does not"),
        ("https://app.example.com:8443", "https://app.example.com", "the port differs"),
    ],
)
def test_near_miss_of_an_allowed_origin_warns_as_a_typo(
    settings, admin_client: Client, typed: str, allowed: str, what: str
) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [allowed], "ALLOW_INSECURE_ORIGINS": True}

    response = admin_client.post(ADD, _form_data(typed), follow=True)

    assert AllowedOrigin.objects.filter(origin=typed).exists()
    warnings = _warnings(response)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Is this a typo? You allowed {allowed} (settings); this row allows {typed}")
    assert what in warnings[0]


def test_editing_a_row_does_not_warn_about_its_old_self(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"ALLOW_INSECURE_ORIGINS": True}
    row = AllowedOrigin.objects.create(origin="https://api.partner.net")
    admin_client.get(CHANGELIST)  # this process loads the row

    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", _form_data("http://api.partner.net"), follow=True)

    assert _warnings(response) == []


def test_unrelated_origin_gives_no_warning(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form_data("https://unrelated.example.net"), follow=True)

    assert _warnings(response) == []


def test_unreadable_rows_say_the_comparison_was_not_made(monkeypatch: pytest.MonkeyPatch, admin_client: Client) -> None:
    from credcors.rows import overlaps

    def refuse(**kwargs: Any) -> list[Any]:
        raise DatabaseError("gone")

    monkeypatch.setattr(overlaps, "read_rows", refuse)

    response = admin_client.post(ADD, _form_data("https://x.example.net"), follow=True)

    assert _warnings(response) == ["Could not compare https://x.example.net with the other rows (DatabaseError)."]


def test_row_written_around_the_model_gives_no_warning() -> None:
    from credcors.conf import get_config
    from credcors.rows.overlaps import overlap_warnings
    from credcors.store.current import get_store

    assert overlap_warnings(get_config(), get_store().get(), "ftp://x.example", True, None) == []


# -- The effective allow-list -------------------------------------------------------


def test_changelist_shows_settings_entries_marked_from_settings(admin_client: Client) -> None:
    response = admin_client.get(CHANGELIST)

    content = response.content.decode()
    table = content[content.index('id="credcors-settings"') :]
    for origin in ("https://app.example.com", "http://localhost:3001", "https://*.example.org"):
        assert f"<td>{origin}</td>" in table
    assert table.count("from settings</td>") == 3
    assert "subdomain pattern" in table


def test_changelist_shows_each_policys_settings_entries_with_its_name(settings, admin_client: Client) -> None:
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {
            "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False},
            "partners": {"ALLOWED_ORIGINS": ["https://partner.example.net"], "ALLOW_CREDENTIALS": False},
        },
    }

    response = admin_client.get(CHANGELIST)

    listed = {(entry.origin, entry.policy) for entry in response.context["credcors_settings"]}
    assert {("https://app.example.com", "default"), ("*", "public"), ("https://partner.example.net", "partners")} <= (
        listed
    )
    assert response.context["credcors_settings_total"] == len(listed)
    assert "every origin, without credentials" in response.content.decode()
    searched = admin_client.get(CHANGELIST, {"q": "partners"})
    assert [entry.origin for entry in searched.context["credcors_settings"]] == ["https://partner.example.net"]


def test_search_covers_settings_entries_and_rows(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://shop.example.org.uk")

    response = admin_client.get(CHANGELIST, {"q": "example.org"})

    assert [entry.origin for entry in response.context["credcors_settings"]] == ["https://*.example.org"]
    assert [row.origin for row in response.context["cl"].result_list] == ["https://shop.example.org.uk"]
    nothing = admin_client.get(CHANGELIST, {"q": "nowhere"})
    assert "No settings entry matches the search." in nothing.content.decode()


def test_empty_settings_say_so(settings, admin_client: Client) -> None:
    settings.CREDCORS = {}

    response = admin_client.get(CHANGELIST)

    assert "None: CREDCORS['ALLOWED_ORIGINS'] is empty." in response.content.decode()


def test_changelist_links_test_an_origin_and_import(admin_client: Client) -> None:
    content = admin_client.get(CHANGELIST).content.decode()

    assert f'href="{CHANGELIST}test-origin/"' in content
    assert f'href="{CHANGELIST}import/"' in content


# -- The status panel -----------------------------------------------------------------


def test_status_panel_counts_rows_loaded_and_when(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.net")
    AllowedOrigin.objects.create(origin="https://b.example.net")

    content = admin_client.get(CHANGELIST).content.decode()

    panel = content[content.index('id="credcors-status-rows"') :]
    panel = panel[: panel.index("</li>")]
    assert "2 database rows allowed in this process" in panel
    assert "the database last answered at 20" in panel
    assert "3 entries from settings." in panel


def _status_rows(client: Client) -> str:
    content = client.get(CHANGELIST).content.decode()
    panel = content[content.index('id="credcors-status-rows"') :]
    return " ".join(panel[: panel.index("</li>")].split())


def test_status_panel_counts_the_rows_of_every_policy(settings, admin_client: Client) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    AllowedOrigin.objects.create(origin="https://a.example.net")
    AllowedOrigin.objects.create(origin="https://b.example.net", policy="partners")

    panel = _status_rows(admin_client)

    assert "2 database rows allowed in this process" in panel
    assert "allow nothing" not in panel


def test_status_panel_names_the_policies_whose_rows_allow_nothing(settings, admin_client: Client) -> None:
    settings.CREDCORS = {
        "USE_DATABASE": False,
        "POLICIES": {"partners": {"USE_DATABASE": True}, "public": {"ALLOW_ALL_ORIGINS": True, "USE_DATABASE": True}},
    }
    AllowedOrigin.objects.create(origin="https://b.example.net", policy="partners")

    panel = _status_rows(admin_client)

    assert "1 database row allowed in this process" in panel
    assert "the rows below allow nothing" not in panel
    assert (
        "Rows of these policies allow nothing (their USE_DATABASE is False, or they answer every origin with '*'): "
        "'default', 'public'."
    ) in panel
    settings.CREDCORS = {"USE_DATABASE": False, "POLICIES": {"partners": {"USE_DATABASE": True}}}
    assert "Rows of this policy allow nothing (its USE_DATABASE is False, or it answers every origin with '*'): " in (
        _status_rows(admin_client)
    )


def test_status_panel_counts_invalid_rows_ignored(admin_client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO credcors_allowedorigin (origin, enabled, note, created_at, updated_at) "
            "VALUES ('https://Bad.example.net/', %s, '', %s, %s)",
            [True, "2026-01-01 00:00:00", "2026-01-01 00:00:00"],
        )

    content = admin_client.get(CHANGELIST).content.decode()

    assert "0 database rows allowed in this process" in content
    assert "1 invalid row ignored" in content


def test_status_panel_with_database_off(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"USE_DATABASE": False, "ALLOWED_ORIGINS": ["https://app.example.com"]}

    content = admin_client.get(CHANGELIST).content.decode()

    assert "USE_DATABASE'] is False: the rows below allow nothing." in content


def test_status_panel_says_before_the_first_answer(monkeypatch: pytest.MonkeyPatch, admin_client: Client) -> None:
    # The first load of this process finds the database failing (stood in for:
    # the page itself needs the database), so only settings are served.
    from credcors.store.current import get_store

    def refuse(policies: object) -> Any:
        raise DatabaseError("down")

    monkeypatch.setattr(get_store().loader, "read", refuse)
    monkeypatch.setattr(get_store().loader, "revision", lambda **kwargs: None)

    content = admin_client.get(CHANGELIST).content.decode()

    assert "the database has not answered yet" in content


def test_status_panel_without_shared_cache(admin_client: Client) -> None:
    content = admin_client.get(CHANGELIST).content.decode()

    assert "No shared cache (CACHE_ALIAS)" in content


def test_status_panel_shared_cache_answers(settings, admin_client: Client) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/tmp/credcors-t"},
    }
    settings.CREDCORS = {"CACHE_ALIAS": "shared"}

    content = admin_client.get(CHANGELIST).content.decode()

    assert "The shared cache 'shared' answers." in content


def test_status_panel_shared_cache_that_fails(settings, admin_client: Client) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Nothing listens on port 9 (discard); the client fails at once.
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        },
    }
    settings.CREDCORS = {"CACHE_ALIAS": "shared"}
    pytest.importorskip("redis")

    content = admin_client.get(CHANGELIST).content.decode()

    assert "The shared cache 'shared' does not answer (ConnectionError)" in content


def test_status_panel_lists_check_messages_linked_to_the_checks_page(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://a.example.com", "https://A.example.com"]}

    content = admin_client.get(CHANGELIST).content.decode()

    assert f'<a href="{CHANGELIST}checks/#credcors-w002">credcors.W002</a>' in content
    page = admin_client.get(f"{CHANGELIST}checks/").content.decode()
    assert '<tr id="credcors-w002">' in page
    assert "An origin is listed twice (after canonicalization)" in page
    assert "lists &#x27;https://a.example.com&#x27; more than once" in page


def test_checks_page_renders_code_spans_as_code_in_sentences(admin_client: Client) -> None:
    page = admin_client.get(f"{CHANGELIST}checks/").content.decode()

    assert "<h1>System checks</h1>" in page
    table = page[page.index('id="credcors-checks"') :]
    assert "`" not in table
    assert '<tr id="credcors-e001">' in table
    assert "<td><code>CREDCORS</code> is not a dict" in table
    assert "<td>Unknown key in <code>CREDCORS</code> (a typo; the hint suggests the closest key)" in table
    assert "<td>The middleware is not in <code>MIDDLEWARE</code>" in table
    assert "<code>&quot;None&quot;</code>" in table  # E014's quotes, escaped inside the code span


def test_code_spans_escape_everything_and_keep_an_unpaired_backtick() -> None:
    from credcors.admin.checks_page import code_spans

    assert code_spans("`<b>` & <i>x</i>") == "<code>&lt;b&gt;</code> &amp; &lt;i&gt;x&lt;/i&gt;"
    assert code_spans("a `b` c `d") == "a <code>b</code> c `d"
    assert code_spans("no code") == "no code"
    assert code_spans("`") == "`"


def test_information_messages_get_the_information_style_on_every_page(settings, admin_client: Client) -> None:
    # A cross-site origin with SameSite=None; Secure cookies: only the third-party note, credcors.I001.
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.net"]}
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True

    changelist = admin_client.get(CHANGELIST, secure=True, headers={"host": "api.example.com"}).content.decode()

    assert '<li class="info"><a href="/admin/credcors/allowedorigin/checks/#credcors-i001">credcors.I001</a>' in (
        changelist
    )
    pages = [
        changelist,
        *(
            admin_client.get(path, secure=True, headers={"host": "api.example.com"}).content.decode()
            for path in (f"{CHANGELIST}checks/", ADD, f"{CHANGELIST}test-origin/", "/admin/credcors/refusedorigin/")
        ),
    ]
    for page in pages:
        # Django's admin styles no info level of its own: it would show the success tick.
        assert "ul.messagelist li.info {" in page


def test_status_panel_without_check_messages(settings, admin_client: Client) -> None:
    # Without credentials the cookie checks have nothing to say.
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "ALLOW_CREDENTIALS": False}

    content = admin_client.get(CHANGELIST).content.decode()

    assert "No credcors system check messages." in content


def test_checks_of_other_apps_sharing_the_tag_are_left_out() -> None:
    from django.core import checks

    from credcors.admin.status import run_credcors_checks

    def other_app(**kwargs: Any) -> list[checks.CheckMessage]:
        return [checks.Warning("not ours", id="otherapp.W001")]

    checks.register(other_app, "credcors")
    try:
        assert all(line.id.startswith("credcors.") for line in run_credcors_checks())
    finally:
        checks.registry.registry.registered_checks.discard(other_app)


# -- Permissions ----------------------------------------------------------------------


def test_view_only_staff_see_everything_and_change_nothing() -> None:
    row = AllowedOrigin.objects.create(origin="https://a.example.net", note="partner")
    client = staff_client("view_allowedorigin")

    listing = client.get(CHANGELIST)
    content = listing.content.decode()
    assert listing.status_code == 200
    assert "https://a.example.net" in content
    assert 'id="credcors-settings"' in content
    assert 'id="credcors-status"' in content
    choices = listing.context["action_form"].fields["action"].choices
    assert {value for value, _ in choices if value} == {"export_text", "export_json"}
    assert f'href="{ADD}"' not in content
    assert f'href="{CHANGELIST}import/"' not in content
    assert client.get(f"{CHANGELIST}test-origin/").status_code == 200
    assert client.get(f"{CHANGELIST}checks/").status_code == 200
    detail = client.get(f"{CHANGELIST}{row.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()

    # Posting anyway changes nothing.
    assert client.post(ADD, _form_data("https://b.example.net")).status_code == 403
    assert client.get(f"{CHANGELIST}import/").status_code == 403
    assert client.post(f"{CHANGELIST}import/", {"text": "https://b.example.net"}).status_code == 403
    _bulk(client, "disable_selected", row)
    _bulk(client, "delete_selected", row, post="yes")
    row.refresh_from_db()
    assert row.enabled
    assert list(AllowedOrigin.objects.values_list("origin", flat=True)) == ["https://a.example.net"]


def test_staff_without_view_permission_get_no_pages() -> None:
    client = staff_client()

    assert client.get(f"{CHANGELIST}test-origin/").status_code == 403
    assert client.get(f"{CHANGELIST}checks/").status_code == 403
    assert client.get(f"{CHANGELIST}import/").status_code == 403


def test_change_permission_alone_allows_the_enable_actions_and_import_but_not_delete() -> None:
    row = AllowedOrigin.objects.create(origin="https://a.example.net")
    client = staff_client("change_allowedorigin")

    response = client.get(CHANGELIST)
    choices = {value for value, _ in response.context["action_form"].fields["action"].choices}
    assert {"enable_selected", "disable_selected"} <= choices
    assert "delete_selected" not in choices
    # Import changes existing rows with the change permission (adding needs the add one).
    assert f'href="{CHANGELIST}import/"' in response.content.decode()
    assert client.get(f"{CHANGELIST}import/").status_code == 200
    _bulk(client, "disable_selected", row)
    row.refresh_from_db()
    assert not row.enabled


# -- Escaping ---------------------------------------------------------------------------


def test_hostile_note_renders_as_text(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.net", note="<script>alert(1)</script>")

    content = admin_client.get(CHANGELIST).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_raw_sql_row_with_markup_renders_as_text_and_warns_as_text(admin_client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO credcors_allowedorigin (origin, enabled, note, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            ["https://x.corp.net<img src=x onerror=alert(1)>", False, "<b>n</b>", "2026-01-01", "2026-01-01"],
        )

    listing = admin_client.get(CHANGELIST).content.decode()
    assert "<img src=x" not in listing
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing
    assert "<b>n</b>" not in listing

    response = admin_client.post(ADD, _form_data("https://*.corp.net"), follow=True)
    page = response.content.decode()
    assert "<img src=x" not in page


def test_hostile_settings_and_check_text_are_escaped(settings, admin_client: Client) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://<script>.example.com"]}

    content = admin_client.get(CHANGELIST).content.decode()

    # Refused by the validator (credcors.E004), so only the panel's check message quotes it.
    assert "<script>.example.com" not in content
    assert "https://&lt;script&gt;.example.com" in content
