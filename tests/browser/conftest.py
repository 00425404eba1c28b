"""Headless Chromium (Debian's, driven by Playwright) against live servers on two origins.

The API is the example project's URLconf and middleware, served by Django's
``LiveServerThread`` on a free port; the front end is
``example_project/frontend`` served by two stdlib servers on two more free
ports (two origins).  Everything is asserted from what the page observed.

Where Chromium or Playwright is missing the tests are skipped, loudly; with
``CREDCORS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead.
``CREDCORS_CHROMIUM`` points at a Chromium binary other than ``chromium`` on
``PATH``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import django.contrib.admin
import pytest
from django.test.utils import override_settings

from example_project import settings as example_settings
from example_project.frontend_server import FrontendServer, start_frontend

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page
    from pytest_django.live_server_helper import LiveServer

REQUIRE_ENV = "CREDCORS_REQUIRE_BROWSER"
CHROMIUM_ENV = "CREDCORS_CHROMIUM"
SCREENSHOT_ENV = "CREDCORS_SCREENSHOT_DIR"
ASYNC_UNSAFE_ENV = "DJANGO_ALLOW_ASYNC_UNSAFE"

#: REFRESH_SECONDS of the test API; admin changes must show within this plus slack.
REFRESH_SECONDS = 1.0
SLACK_SECONDS = 5.0

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Chromium resolves localhost names itself; pin them to the IPv4
    # loopback the servers listen on, so no attempt goes to ::1 first.
    "--host-resolver-rules=MAP localhost 127.0.0.1, MAP *.localhost 127.0.0.1",
]

T = TypeVar("T")


def _find_chromium() -> tuple[str | None, str]:
    """The Chromium binary to drive, or ``None`` and why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "Playwright for Python is not installed (pip install playwright)"
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        return None, "Chromium is not installed (apt-get install chromium)"
    return path, ""


def _browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


_skipped: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.section("credcors browser tests", sep="!", red=True, bold=True)
        terminalreporter.line(f"SKIPPED: {_skipped[0]}. Set {REQUIRE_ENV}=1 to make this an error.", red=True)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path, why = _find_chromium()
    if path is None:
        if _browser_required():
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1 forbids skipping the browser tests.", pytrace=False)
        if not _skipped:
            _skipped.append(why)
        pytest.skip(f"BROWSER TESTS SKIPPED: {why}")
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps its asyncio loop marked as running in this
    # thread between calls, so Django would refuse the tests' own ORM calls
    # (creating the demo user, reading server state) as "async unsafe".
    # They are plain sync calls; the live server's threads are unaffected.
    previous = os.environ.get(ASYNC_UNSAFE_ENV)
    os.environ[ASYNC_UNSAFE_ENV] = "true"
    try:
        with sync_playwright() as playwright:
            # launch() gives Chromium a fresh temporary profile of its own.
            browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ[ASYNC_UNSAFE_ENV]
        else:
            os.environ[ASYNC_UNSAFE_ENV] = previous


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh cookie jar and cache for each test."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@dataclass(frozen=True)
class Servers:
    """The API and the two front-end origins."""

    api: str
    allowed: FrontendServer  # http://localhost:<port>, allowed by an AllowedOrigin row
    other: FrontendServer  # http://localhost:<port>, not allowed unless a test allows it


@pytest.fixture(scope="package")
def servers(chromium_path: str, django_db_setup: None, django_db_blocker: Any) -> Iterator[Servers]:
    from pytest_django.live_server_helper import LiveServer

    allowed = start_frontend("")
    other = start_frontend("")
    # The example project's URLs, middleware and CREDCORS (CSRF trust on),
    # with a short refresh and a fast password hasher.
    overrides = override_settings(
        ROOT_URLCONF=example_settings.ROOT_URLCONF,
        STATIC_URL=example_settings.STATIC_URL,
        # The live server serves STATIC_ROOT; the admin's own files are all it needs.
        STATIC_ROOT=str(Path(django.contrib.admin.__file__).resolve().parent / "static"),
        MIDDLEWARE=example_settings.MIDDLEWARE,
        CREDCORS={**example_settings.CREDCORS, "REFRESH_SECONDS": REFRESH_SECONDS},
        SESSION_COOKIE_SAMESITE=example_settings.SESSION_COOKIE_SAMESITE,
        CSRF_COOKIE_SAMESITE=example_settings.CSRF_COOKIE_SAMESITE,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    overrides.enable()
    live: LiveServer | None = None
    try:
        with django_db_blocker.unblock():
            live = LiveServer("localhost:0")
        allowed.api_url = other.api_url = live.url
        yield Servers(api=live.url, allowed=allowed, other=other)
    finally:
        if live is not None:
            live.stop()
        overrides.disable()
        allowed.stop()
        other.stop()


@pytest.fixture
def demo_state(servers: Servers, transactional_db: None) -> Iterator[Servers]:
    """The demo's starting point: its staff user, its front end allowed by a row, no notes."""
    from credcors.models import AllowedOrigin
    from example_project.api import views
    from example_project.demo import ensure_demo_user

    ensure_demo_user()
    AllowedOrigin.objects.create(origin=servers.allowed.url, note="demo front end")
    views._notes.clear()
    yield servers
    views._notes.clear()


def open_frontend(context: BrowserContext, origin: str) -> Page:
    """Open the demo page on ``origin`` and wait until its script is ready."""
    page = context.new_page()
    page.goto(f"{origin}/")
    page.wait_for_function("window.demo !== undefined")
    return page


def poll(attempt: Callable[[], T], done: Callable[[T], bool], seconds: float, interval: float = 0.1) -> T:
    """Call ``attempt`` until ``done`` accepts its result or ``seconds`` pass; return the last result."""
    deadline = time.monotonic() + seconds
    result = attempt()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(interval)
        result = attempt()
    return result


def admin_login(page: Page, api: str, next_path: str) -> None:
    """Open an admin page as the demo user, logging in through the admin's form if needed."""
    from example_project.demo import DEMO_USER

    page.goto(f"{api}{next_path}")
    if page.url.startswith(f"{api}/admin/login/"):
        page.fill("#id_username", DEMO_USER[0])
        page.fill("#id_password", DEMO_USER[1])
        with page.expect_navigation():
            page.click("input[type=submit]")
    assert page.url == f"{api}{next_path}", page.url


def screenshot_dir() -> Path | None:
    """Where to write screenshots (``CREDCORS_SCREENSHOT_DIR``), if anywhere."""
    value = os.environ.get(SCREENSHOT_ENV)
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path
