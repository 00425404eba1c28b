"""Policies per view, as Chromium enforces them: public, partner and credentialed views side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pytest_django import Settings

from tests.browser.conftest import Servers, open_frontend

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext, Page

# One fetch() from the page: {blocked: true} when the browser refused CORS.
FETCH = """async ([url, credentials, headers]) => {
  try {
    const response = await fetch(url, {credentials, headers});
    return {blocked: false, status: response.status, body: await response.json()};
  } catch (error) {
    return {blocked: true, error: String(error)};
  }
}"""


@pytest.fixture
def partner_origin(settings: Settings, demo_state: Servers) -> str:
    """The partner's page: another host on the unlisted front end's port."""
    origin = f"http://partner.localhost:{demo_state.other.port}"
    settings.ROOT_URLCONF = "tests.browser.policy_site"
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {
            "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False, "ALLOW_METHODS": ["GET", "HEAD"]},
            "partners": {"ALLOWED_ORIGINS": [origin], "ALLOW_CREDENTIALS": False},
        },
    }
    return origin


def _fetch(page: Page, api: str, path: str, credentials: str, headers: dict[str, str] | None = None) -> Any:
    return page.evaluate(FETCH, [f"{api}{path}", credentials, headers or {}])


def test_unlisted_origin_reads_the_public_view_and_not_the_credentialed_one(
    context: BrowserContext, partner_origin: str, demo_state: Servers
) -> None:
    page = open_frontend(context, demo_state.other.url)

    public = _fetch(page, demo_state.api, "/api/public/status", "omit")
    # X-Requested-With makes it a preflighted request: the preflight resolves the path.
    preflighted = _fetch(page, demo_state.api, "/api/public/status", "omit", {"X-Requested-With": "page"})
    private = _fetch(page, demo_state.api, "/api/private", "omit")

    assert public == {"blocked": False, "status": 200, "body": {"status": "ok", "cookie": False}}
    assert preflighted["blocked"] is False
    assert private["blocked"] is True


def test_partner_reads_the_partner_view_without_cookies_and_not_the_credentialed_one(
    context: BrowserContext, partner_origin: str, demo_state: Servers
) -> None:
    page = open_frontend(context, partner_origin)
    assert page.evaluate("location.origin") == partner_origin

    partner = _fetch(page, demo_state.api, "/api/partner/data", "omit")
    preflighted = _fetch(page, demo_state.api, "/api/partner/data", "omit", {"X-Requested-With": "page"})
    private = _fetch(page, demo_state.api, "/api/private", "omit")
    unlisted = open_frontend(context, demo_state.other.url)

    assert partner == {"blocked": False, "status": 200, "body": {"partner": True, "cookie": False}}
    assert preflighted["blocked"] is False
    assert private["blocked"] is True
    assert _fetch(unlisted, demo_state.api, "/api/partner/data", "omit")["blocked"] is True


def test_credentialed_fetch_to_a_public_view_is_refused_by_the_browser(
    context: BrowserContext, partner_origin: str, demo_state: Servers
) -> None:
    # Even from the allowed front end, whose credentialed calls elsewhere succeed:
    # the public view answers '*' without Allow-Credentials (docs/policies.md says why).
    page = open_frontend(context, demo_state.allowed.url)

    credentialed = _fetch(page, demo_state.api, "/api/public/status", "include")
    omitted = _fetch(page, demo_state.api, "/api/public/status", "omit")
    private = _fetch(page, demo_state.api, "/api/private", "include")

    assert credentialed["blocked"] is True
    assert omitted["blocked"] is False
    assert private == {"blocked": False, "status": 200, "body": {"user": "AnonymousUser"}}
