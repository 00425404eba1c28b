"""Each credcors admin page at 1280 px, light and dark, as a newcomer meets it: everything fits and reads finished.

Each page is screenshotted (into ``CREDCORS_SCREENSHOT_DIR`` when set, else
the test's temporary directory) after the checks of
:func:`tests.browser.layout.layout_problems`: no sideways scrolling, no cut
cell, no note read one word a line.  The change list with its status panel
is shot by ``test_admin_control.py`` (the docs' screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from django.utils import timezone

from tests.browser.conftest import Servers, admin_login, screenshot_dir
from tests.browser.drain import assert_request_threads_drained
from tests.browser.layout import layout_problems
from tests.browser.test_admin_test_page import MESSAGE_BG, MIN_CONTRAST, _rgb, contrast

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHANGELIST = "/admin/credcors/allowedorigin/"
REFUSED = "/admin/credcors/refusedorigin/"
#: The width the issue measured at: a laptop, the admin's sidebar open.
WIDTH = 1280
LONG_NOTE = "Partner portal for the spring campaign; ask Dana in sales before removing it, they renew it each March."
LONG_PATH = "/api/notes/2026/11/30/attachments/quarterly-report-final-v3.pdf?download=1&session=abcdef0123456789"


@pytest.fixture(autouse=True)
def _request_threads_drained() -> Iterator[None]:
    yield
    assert_request_threads_drained()


@pytest.fixture
def busy_admin(settings: Any, demo_state: Servers) -> Servers:
    """The demo with the rows a site has after a few months: long notes, expiries, CSRF trust, refusals."""
    from credcors.models import AllowedOrigin, RefusedOrigin

    # An origin on another site than the API (the demo's hosts): credcors.W006 and I001, an information message.
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.CREDCORS = {**settings.CREDCORS, "ALLOWED_ORIGINS": ["https://app.example.com"]}
    now = timezone.now()
    AllowedOrigin.objects.create(
        origin="https://partner-portal.example.org",
        note=LONG_NOTE,
        expires_at=now + timedelta(days=30),
        trust_for_csrf=True,
    )
    AllowedOrigin.objects.create(origin="https://*.corp.example.net", note="every corp host")
    AllowedOrigin.objects.create(origin="https://legacy.example.net", enabled=False, note="retired 2025")
    AllowedOrigin.objects.create(origin="https://trial.example.net", expires_at=now - timedelta(days=2))
    for origin, count, path in (
        ("https://app.example.com.attacker.net", 1204, LONG_PATH),
        ("http://localhost:3002", 3, "/api/notes"),
        ("https://staging.shop.example.org", 41, "/api/me"),
        ("https://app.example.com", 17, "/api/me"),  # allowed in settings since
    ):
        RefusedOrigin.objects.create(
            origin=origin,
            count=count,
            first_seen=now - timedelta(days=3),
            last_seen=now - timedelta(minutes=count % 60),
            last_path=path,
        )
    return demo_state


def _open(context: BrowserContext, servers: Servers, path: str, theme: Literal["light", "dark"]) -> Page:
    page = context.new_page()
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.emulate_media(color_scheme=theme)
    admin_login(page, servers.api, path)
    return page


def _shoot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str((screenshot_dir() or tmp_path) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_refused_origins_list_fits_at_1280(
    context: BrowserContext, busy_admin: Servers, tmp_path: Path, theme: Literal["light", "dark"]
) -> None:
    page = _open(context, busy_admin, REFUSED, theme)
    _shoot(page, tmp_path, f"admin-refused-{theme}")

    assert page.locator("#result_list tbody tr").count() == 3
    assert layout_problems(page, "#result_list") == []
    # The long path is shortened in the list and whole on hover.
    cell = page.locator("#result_list td.field-listed_path", has_text="/api/notes/2026")
    assert cell.locator("[title]").get_attribute("title") == LONG_PATH

    # The origin allowed since is one click away, marked.
    with page.expect_navigation():
        page.locator("#changelist-filter").get_by_role("link", name="All", exact=True).first.click()
    _shoot(page, tmp_path, f"admin-refused-all-{theme}")
    assert page.locator("#result_list tbody tr").count() == 4
    marked = page.locator("#result_list tbody tr", has=page.locator(".credcors-now-allowed"))
    assert marked.locator("th").inner_text() == "https://app.example.com now allowed"
    assert layout_problems(page, "#result_list") == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_checks_page_fits_renders_code_and_marks_information(
    context: BrowserContext, busy_admin: Servers, tmp_path: Path, theme: Literal["light", "dark"]
) -> None:
    page = _open(context, busy_admin, f"{CHANGELIST}checks/", theme)
    _shoot(page, tmp_path, f"admin-checks-{theme}")

    heading = page.locator("#content h1").inner_text()
    assert heading[0].isupper(), heading
    table = page.locator("#credcors-checks")
    assert "`" not in table.inner_text()
    assert table.locator("tr#credcors-e001 td:nth-child(2) code").first.inner_text() == "CREDCORS"
    assert layout_problems(page, "#credcors-checks table") == []
    info = page.locator("#credcors-i001 ul.messagelist li")
    assert info.get_attribute("class") == "info"
    style = info.evaluate(
        """element => {
            const style = getComputedStyle(element);
            return {image: style.backgroundImage, color: style.color, background: style.backgroundColor};
        }"""
    )
    assert "icon-yes" not in style["image"]
    assert _rgb(style["background"]) != MESSAGE_BG[(theme, "success")]
    ratio = contrast(_rgb(style["color"]), _rgb(style["background"]))
    assert ratio >= MIN_CONTRAST, f"{theme}: information text at {ratio:.2f}:1"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_add_form_fits_with_capitalised_labels(
    context: BrowserContext, busy_admin: Servers, tmp_path: Path, theme: Literal["light", "dark"]
) -> None:
    page = _open(context, busy_admin, f"{CHANGELIST}add/", theme)
    _shoot(page, tmp_path, f"admin-add-{theme}")

    labels = page.locator("fieldset label").all_inner_texts()
    assert "Policy:" in labels
    assert all(label[0].isupper() for label in labels), labels
    assert layout_problems(page, "fieldset") == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_test_an_origin_page_fits(
    context: BrowserContext, busy_admin: Servers, tmp_path: Path, theme: Literal["light", "dark"]
) -> None:
    query = "?origin=https%3A%2F%2Fapp.example.com&method=PUT"
    page = _open(context, busy_admin, f"{CHANGELIST}test-origin/{query}", theme)
    _shoot(page, tmp_path, f"admin-test-origin-{theme}")

    assert page.locator("#credcors-verdict li").get_attribute("class") == "success"
    assert layout_problems(page, "fieldset, #credcors-explanation pre") == []
