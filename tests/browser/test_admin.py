"""Staff change the allow-list in the admin pages; the front end follows without a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.browser.conftest import REFRESH_SECONDS, SLACK_SECONDS, Servers, admin_login, open_frontend, poll

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext, Page

CHANGELIST = "/admin/credcors/allowedorigin/"


def _read(page: Page) -> Any:
    return page.evaluate("demo.me()")


def _until_blocked(page: Page) -> Any:
    return poll(lambda: _read(page), lambda result: result["blocked"], REFRESH_SECONDS + SLACK_SECONDS)


def _until_readable(page: Page) -> Any:
    return poll(lambda: _read(page), lambda result: not result["blocked"], REFRESH_SECONDS + SLACK_SECONDS)


def test_origin_added_disabled_reenabled_in_admin_changes_frontend(
    context: BrowserContext, demo_state: Servers
) -> None:
    origin = demo_state.other.url
    frontend = open_frontend(context, origin)
    assert _read(frontend)["blocked"] is True

    # Add: the admin's add form, as staff would fill it in.
    admin = context.new_page()
    admin_login(admin, demo_state.api, f"{CHANGELIST}add/")
    admin.fill("#id_origin", f"{origin.upper()}/")  # Stored canonical: lowercase, no slash.
    admin.fill("#id_note", "added by the browser test")
    with admin.expect_navigation():
        admin.click("input[name=_save]")
    assert admin.url == f"{demo_state.api}{CHANGELIST}"
    assert admin.locator("#result_list").get_by_role("link", name=origin, exact=True).count() == 1

    # The admin login shares the cookie jar: the page now reads the staff user's data.
    added = _until_readable(frontend)
    assert added["status"] == 200
    assert added["body"]["username"] == "demo"

    # Disable: untick "enabled" on the change form.
    admin.locator("#result_list").get_by_role("link", name=origin, exact=True).click()
    admin.uncheck("#id_enabled")
    with admin.expect_navigation():
        admin.click("input[name=_save]")
    disabled = _until_blocked(frontend)
    assert disabled["blocked"] is True
    assert "Failed to fetch" in disabled["error"]

    # Re-enable: the changelist's bulk action.
    admin.locator("#result_list tr", has_text=origin).locator("input.action-select").check()
    admin.select_option("select[name=action]", "enable_selected")
    with admin.expect_navigation():
        admin.click("button[name=index]")
    assert "Enabled 1 origin." in admin.locator(".messagelist").inner_text()
    enabled = _until_readable(frontend)
    assert enabled["status"] == 200

    # And the preflighted, token-carrying write works again too.
    assert frontend.evaluate("demo.fetchToken()")["status"] == 200
    write = frontend.evaluate("demo.write('back in business')")
    assert write["blocked"] is False
    assert write["status"] == 200
