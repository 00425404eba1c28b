"""Policies per view, as Chromium enforces them: public, partner and credentialed views side by side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from pytest_django import Settings

from tests.browser import policy_site
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


# The page reads a token with credentials from its own policy's view, then
# writes with it: through a preflight to its own policy's view, and as a
# simple form POST (no preflight) to a view of the default policy.
WRITE = """async ([api]) => {
  const answer = await fetch(`${api}/api/writers/token`, {credentials: "include"});
  const token = (await answer.json()).csrfToken;
  const own = await fetch(`${api}/api/writers/write`, {
    method: "POST", credentials: "include", headers: {"X-CSRFToken": token},
  });
  let other;
  try {
    const response = await fetch(`${api}/api/private/write`, {
      method: "POST", credentials: "include", body: new URLSearchParams({csrfmiddlewaretoken: token}),
    });
    other = {blocked: false, status: response.status};
  } catch (error) {
    other = {blocked: true};
  }
  return {own: own.status, body: await own.json(), other};
}"""


@pytest.fixture
def writer_origin(settings: Settings, demo_state: Servers) -> Iterator[str]:
    """The unlisted front end, allowed and trusted for CSRF by a row of the credentialed policy "writers"."""
    from credcors.models import AllowedOrigin

    origin = demo_state.other.url
    settings.ROOT_URLCONF = "tests.browser.policy_site"
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"writers": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
    }
    AllowedOrigin.objects.create(origin=origin, policy="writers", trust_for_csrf=True)
    policy_site.writes.clear()
    yield origin
    policy_site.writes.clear()


def test_origin_trusted_by_its_policy_writes_there_and_gets_403_on_the_default_policy(
    context: BrowserContext, writer_origin: str, demo_state: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    page = open_frontend(context, writer_origin)

    result = page.evaluate(WRITE, [demo_state.api])

    assert result == {"own": 200, "body": {"written": True}, "other": {"blocked": True}}
    # The browser hides the refused response from the page (CORS refuses the
    # origin there too); the server says what it answered: Django's CSRF
    # origin check refused the write, which never ran.
    [refusal] = [record for record in caplog.records if record.name == "django.security.csrf"]
    assert getattr(refusal, "status_code", None) == 403
    assert refusal.getMessage() == (
        f"Forbidden (Origin checking failed - {writer_origin} does not match any trusted origins.): /api/private/write"
    )
    assert policy_site.writes == ["writers"]
