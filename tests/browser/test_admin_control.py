"""The admin as the control room, in headless Chromium: the whole allow-list, what a save does, import, view-only staff.

Screenshots of the change list (with its status panel) and the import
preview go, in the light and the dark theme, to ``CREDCORS_SCREENSHOT_DIR``
when set, else the test's temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from django.utils import timezone

from tests.browser.conftest import REFRESH_SECONDS, Servers, admin_login, screenshot_dir
from tests.browser.drain import assert_request_threads_drained
from tests.browser.layout import layout_problems

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHANGELIST = "/admin/credcors/allowedorigin/"
SETTINGS_ORIGIN = "https://app.example.com"
SETTINGS_PATTERN = "https://*.partners.example.com"


@pytest.fixture(autouse=True)
def _request_threads_drained() -> Iterator[None]:
    yield
    assert_request_threads_drained()


@pytest.fixture
def with_settings_entries(settings: Any, demo_state: Servers) -> Servers:
    """The demo, with an origin and a pattern in CREDCORS['ALLOWED_ORIGINS'] too."""
    settings.CREDCORS = {**settings.CREDCORS, "ALLOWED_ORIGINS": [SETTINGS_ORIGIN, SETTINGS_PATTERN]}
    return demo_state


def _save_add_form(page: Page, origin: str, note: str = "") -> None:
    page.fill("#id_origin", origin)
    page.fill("#id_note", note)
    with page.expect_navigation():
        page.click("input[name=_save]")


def _messages(page: Page, level: str) -> list[str]:
    return page.locator(f"ul.messagelist li.{level}").all_inner_texts()


def test_settings_origins_appear_marked_from_settings_and_searchable(
    context: BrowserContext, with_settings_entries: Servers
) -> None:
    page = context.new_page()
    admin_login(page, with_settings_entries.api, CHANGELIST)

    rows = page.locator("#credcors-settings tbody tr")
    assert rows.count() == 2
    for index, (origin, kind) in enumerate(
        ((SETTINGS_ORIGIN, "exact origin"), (SETTINGS_PATTERN, "subdomain pattern"))
    ):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells == [origin, kind, "default", "from settings"]
    # The database row is in the usual table, not marked.
    assert page.locator("#result_list").get_by_role("link", name=with_settings_entries.allowed.url).count() == 1

    page.fill("#searchbar", "partners")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    assert page.locator("#credcors-settings tbody tr td:first-child").all_inner_texts() == [SETTINGS_PATTERN]
    assert page.locator("#result_list").count() == 0  # no row matches: Django shows "0 allowed origins"

    # "Test an origin" is one click away.
    with page.expect_navigation():
        page.get_by_role("link", name="Test an origin").click()
    assert page.url.endswith(f"{CHANGELIST}test-origin/")


def test_save_says_when_live_with_the_configured_figure(context: BrowserContext, demo_state: Servers) -> None:
    page = context.new_page()
    admin_login(page, demo_state.api, f"{CHANGELIST}add/")

    _save_add_form(page, "https://new.example.net")

    assert page.url == f"{demo_state.api}{CHANGELIST}"
    assert (
        f"Live at once in this process, and in other processes within REFRESH_SECONDS ({REFRESH_SECONDS:g} s)."
        in _messages(page, "info")
    )


def test_overlapping_add_warns_and_still_saves(context: BrowserContext, with_settings_entries: Servers) -> None:
    page = context.new_page()
    admin_login(page, with_settings_entries.api, f"{CHANGELIST}add/")

    _save_add_form(page, "https://shop.partners.example.com", "covered by settings")

    assert page.url == f"{with_settings_entries.api}{CHANGELIST}"
    assert _messages(page, "warning") == [
        "Already allowed: https://*.partners.example.com (settings) allows https://shop.partners.example.com, "
        "so this row changes nothing while that entry stays."
    ]
    assert page.locator("#result_list").get_by_role("link", name="https://shop.partners.example.com").count() == 1


def test_import_previews_then_adds_the_good_lines_on_confirmation(
    context: BrowserContext, demo_state: Servers, tmp_path: Path
) -> None:
    from credcors.models import AllowedOrigin

    present = demo_state.allowed.url
    page = context.new_page()
    admin_login(page, demo_state.api, CHANGELIST)
    with page.expect_navigation():
        page.get_by_role("link", name="Import origins").click()
    assert page.url == f"{demo_state.api}{CHANGELIST}import/"

    page.fill(
        "#id_text",
        f"# from the partner manager\nhttps://one.example.net\n{present}\nhttps://*.com\nhttps://Two.example.net:443\n",
    )
    with page.expect_navigation():
        page.click("input[type=submit]")

    rows = page.locator("#credcors-import-preview tbody tr")
    verdicts = [rows.nth(index).locator("td").nth(3).inner_text() for index in range(rows.count())]
    assert verdicts == ["will be added", "already present", "refused", "will be added"]
    assert "public suffix" in rows.nth(2).inner_text() or "top-level domain" in rows.nth(2).inner_text()
    assert "stored as https://two.example.net" in rows.nth(3).inner_text()
    # Nothing has changed before the confirmation.
    assert sorted(AllowedOrigin.objects.values_list("origin", flat=True)) == [present]
    _shoot(page, tmp_path, "admin-import-preview")

    with page.expect_navigation():
        page.click("input[name=_confirm]")

    assert page.url == f"{demo_state.api}{CHANGELIST}"
    assert "Imported: added 2, updated 0, unchanged 1; 1 refused line was left out." in _messages(page, "success")
    assert sorted(AllowedOrigin.objects.values_list("origin", flat=True)) == sorted(
        [present, "https://one.example.net", "https://two.example.net"]
    )


def test_view_only_staff_see_the_pages_without_change_controls(
    context: BrowserContext, with_settings_entries: Servers
) -> None:
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="viewer-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_allowedorigin"))
    page = context.new_page()
    page.goto(f"{with_settings_entries.api}{CHANGELIST}")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", "viewer-password")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url == f"{with_settings_entries.api}{CHANGELIST}"

    assert page.locator("#credcors-settings tbody tr").count() == 2
    assert page.locator("#credcors-status").is_visible()
    assert page.get_by_role("link", name="Test an origin").count() == 1
    assert page.get_by_role("link", name="Import origins").count() == 0
    assert page.locator("a.addlink").count() == 0
    actions = page.locator("select[name=action] option").all_inner_texts()
    assert not any(text.startswith(("Enable", "Disable", "Delete")) for text in actions)

    with page.expect_navigation():
        page.locator("#result_list").get_by_role("link", name=with_settings_entries.allowed.url).click()
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#id_origin").count() == 0  # read-only: shown as text, no input
    assert page.get_by_text(with_settings_entries.allowed.url).count() >= 1


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_change_list_and_status_panel_screenshots(
    context: BrowserContext,
    with_settings_entries: Servers,
    settings: Any,
    tmp_path: Path,
    theme: Literal["light", "dark"],
) -> None:
    from credcors.models import AllowedOrigin

    # A duplicate in settings, so the panel shows a check message and its link.
    settings.CREDCORS = {
        **settings.CREDCORS,
        "ALLOWED_ORIGINS": [SETTINGS_ORIGIN, SETTINGS_PATTERN, "https://APP.example.com"],
    }
    AllowedOrigin.objects.create(origin="https://*.corp.example.net", note="every corp host")
    AllowedOrigin.objects.create(origin="https://legacy.example.net", enabled=False, note="retired 2025")
    # A row as a site has them after a few months: a sentence of a note, an expiry, CSRF trust.
    AllowedOrigin.objects.create(
        origin="https://partner-portal.example.org",
        note="Partner portal for the spring campaign; ask Dana in sales before removing it.",
        expires_at=timezone.now() + timedelta(days=30),
        trust_for_csrf=True,
    )
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme=theme)
    admin_login(page, with_settings_entries.api, CHANGELIST)

    assert page.locator("#credcors-status h2").inner_text().lower() == "status"
    assert "database rows allowed in this process" in page.locator("#credcors-status-rows").inner_text()
    link = page.locator("#credcors-status ul.messagelist li.warning a")
    assert link.inner_text() == "credcors.W002"
    assert link.get_attribute("href") == f"{CHANGELIST}checks/#credcors-w002"
    page.screenshot(path=str((screenshot_dir() or tmp_path) / f"admin-changelist-{theme}.png"), full_page=True)
    page.locator("#credcors-status").screenshot(
        path=str((screenshot_dir() or tmp_path) / f"admin-status-panel-{theme}.png")
    )
    # Every column within the 1280 px window, nothing cut, the note read across.
    assert layout_problems(page, "#result_list, #credcors-settings table") == []

    page.goto(f"{with_settings_entries.api}{CHANGELIST}import/")
    page.fill("#id_text", "https://one.example.net\nhttps://legacy.example.net\nhttps://*.com\n")
    with page.expect_navigation():
        page.click("input[type=submit]")
    _shoot(page, tmp_path, f"admin-import-preview-{theme}")


def _shoot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str((screenshot_dir() or tmp_path) / f"{name}.png"), full_page=True)
