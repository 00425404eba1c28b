"""Issue 24 in a real browser: one front end, two API hosts of one deployment, a row scoped to the first.

The live server answers on ``api-a.localhost`` and ``api-b.localhost``
(Chromium maps ``*.localhost`` to loopback).  The front end's origin is
allowed by an ``AllowedOrigin`` row scoped to ``api-a.localhost``: there the
page logs in and reads the user's data with ``credentials: "include"``; the
same calls to ``api-b.localhost`` are blocked by the browser itself, which
gets no ``Access-Control-Allow-Origin``.  Each API host is another site
than the page's, so the session cookie is ``SameSite=None; Secure``
(Chromium takes Secure cookies from ``localhost`` names) and the profile
allows third-party cookies, as tests/browser/test_cookies.py explains.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from pytest_django import Settings

from tests.browser.conftest import CHROMIUM_ARGS, Servers, open_frontend

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

HOST_A = "api-a.localhost"
HOST_B = "api-b.localhost"

# Runs in the page: log in through the API at ``base`` (token, then POST), then read /api/me.
LOGIN_AND_READ = """
async ([base, username, password]) => {
  async function call(path, init = {}) {
    try {
      const response = await fetch(base + path, {credentials: "include", ...init});
      const text = await response.text();
      try {
        return {blocked: false, status: response.status, body: JSON.parse(text)};
      } catch {
        return {blocked: false, status: response.status, body: text.slice(0, 2000)};
      }
    } catch (error) {
      return {blocked: true, error: String(error)};
    }
  }
  const token = await call("/api/csrf");
  if (token.blocked) return {step: "csrf", ...token};
  const login = await call("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token.body.csrfToken},
    body: JSON.stringify({username, password}),
  });
  if (login.blocked || login.status !== 200) return {step: "login", ...login};
  return {step: "me", ...(await call("/api/me"))};
}
"""


@pytest.fixture
def tenant_front_end(settings: Settings, servers: Servers, transactional_db: None) -> tuple[str, int]:
    from credcors.models import AllowedOrigin
    from example_project.demo import ensure_demo_user

    settings.ALLOWED_HOSTS = [HOST_A, HOST_B, "localhost"]
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.CSRF_FAILURE_VIEW = "example_project.api.views.csrf_failure"  # A refusal says why, in JSON.
    ensure_demo_user()
    AllowedOrigin.objects.create(origin=servers.other.url, hosts=HOST_A, trust_for_csrf=True, note="tenant A")
    return servers.other.url, int(urlsplit(servers.api).port or 0)


@pytest.fixture
def third_party_context(browser: Browser, chromium_path: str, tmp_path: Path) -> Iterator[BrowserContext]:
    # A persistent profile whose cookie setting allows third-party cookies
    # (Chrome's "Allow third-party cookies"): off-the-record ones never do.
    (tmp_path / "Default").mkdir()
    (tmp_path / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": 0}}))
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path), executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


def _log_in_and_read(page: Page, host: str, port: int) -> dict[str, Any]:
    from example_project.demo import DEMO_USER

    result: dict[str, Any] = page.evaluate(LOGIN_AND_READ, [f"http://{host}:{port}", *DEMO_USER])
    return result


def test_front_end_reads_its_own_api_host_with_credentials_and_is_blocked_on_another(
    third_party_context: BrowserContext, tenant_front_end: tuple[str, int]
) -> None:
    origin, port = tenant_front_end
    page = open_frontend(third_party_context, origin)

    on_a = _log_in_and_read(page, HOST_A, port)
    on_b = _log_in_and_read(page, HOST_B, port)

    # Logged in through a credentialed, preflighted POST, then read with the session cookie.
    assert on_a == {
        "step": "me",
        "blocked": False,
        "status": 200,
        "body": {"username": "demo", "secret": "private data of demo"},
    }
    # The browser blocks the very first call: no Access-Control-Allow-Origin on that host.
    assert on_b["step"] == "csrf"
    assert on_b["blocked"] is True
