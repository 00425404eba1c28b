"""``python -m example_project.demo`` as a person uses it: the page, the admin, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import SLACK_SECONDS, admin_login, poll, screenshot_dir

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
DEMO_REFRESH_SECONDS = 5.0  # The example project's REFRESH_SECONDS (the default).
DEMO_FLUSH_SECONDS = 2.0  # The example project's REFUSED_FLUSH_SECONDS.
STARTUP_SECONDS = 60.0
# What the parent test process sets that must not leak into the demo: it
# picks its own settings and database, and has no Playwright loop.
_NOT_INHERITED = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")


@dataclass(frozen=True)
class Demo:
    process: subprocess.Popen[bytes]
    log: Path
    api: str
    frontend: str
    second: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def demo(tmp_path: Path, chromium_path: str) -> Iterator[Demo]:
    api_port, frontend_port, second_port = _free_port(), _free_port(), _free_port()
    env = {name: value for name, value in os.environ.items() if name not in _NOT_INHERITED}
    env.update(
        CREDCORS_DEMO_API_PORT=str(api_port),
        CREDCORS_DEMO_FRONTEND_PORT=str(frontend_port),
        CREDCORS_DEMO_SECOND_FRONTEND_PORT=str(second_port),
        CREDCORS_DEMO_DB=str(tmp_path / "demo.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "example_project.demo"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    running = Demo(
        process,
        log,
        f"http://localhost:{api_port}",
        f"http://localhost:{frontend_port}",
        f"http://localhost:{second_port}",
    )
    try:
        ready = poll(
            lambda: (
                process.poll() is None
                and _answers(f"{running.api}/api/csrf")
                and _answers(f"{running.frontend}/config.js")
                and _answers(f"{running.second}/config.js")
            ),
            lambda up: up or process.poll() is not None,
            STARTUP_SECONDS,
        )
        assert ready, f"the demo did not come up:\n{running.output()}"
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _press(page: Page, button: str, output: str) -> tuple[str, str]:
    """Click ``button`` and return the state and text ``output`` settles on."""
    page.eval_on_selector(output, "element => { element.dataset.state = 'pending'; }")
    page.click(button)
    page.wait_for_function(
        "selector => !['pending', 'busy'].includes(document.querySelector(selector).dataset.state)", arg=output
    )
    state = page.get_attribute(output, "data-state")
    assert state is not None
    return state, page.inner_text(output)


def _until(page: Page, wanted: str) -> tuple[str, str]:
    return poll(
        lambda: _press(page, "#read-button", "#read-result"),
        lambda result: result[0] == wanted,
        DEMO_REFRESH_SECONDS + SLACK_SECONDS,
    )


def _bulk_action(admin: Page, origin: str, action: str) -> str:
    admin.locator("#result_list tr", has_text=origin).locator("input.action-select").check()
    admin.select_option("select[name=action]", action)
    with admin.expect_navigation():
        admin.click("button[name=index]")
    return admin.locator(".messagelist").inner_text()


def test_demo_journey_admin_toggle_and_ctrl_c_work(context: BrowserContext, demo: Demo) -> None:
    credentials = re.search(r"user '([^']+)', password '([^']+)'", demo.output())
    assert credentials, demo.output()
    username, password = credentials.groups()

    page = context.new_page()
    page.goto(f"{demo.frontend}/")
    assert page.inner_text("#api-origin") == demo.api
    page.fill("#username", username)
    page.fill("#password", password)

    state, text = _press(page, "#login-button", "#login-result")
    assert (state, text.split(" ", 1)[0]) == ("ok", "200"), text
    assert f'"username":"{username}"' in text
    # The token is on the page only shortened: its first 6 and last 4 characters.
    token = page.evaluate("demo.token()")
    assert len(token) == 64
    assert token not in text
    assert f"{token[:6]}…{token[-4:]} (64 characters)" in text

    state, text = _press(page, "#read-button", "#read-result")
    assert state == "ok", text
    assert f"private data of {username}" in text

    # The refusal reads as Django's reason in words, not as its HTML page.
    state, text = _press(page, "#write-no-token-button", "#write-result")
    assert (state, text.split(" ", 1)[0]) == ("refused", "403"), text
    assert text.startswith("403 Forbidden: CSRF verification failed: CSRF token missing."), text
    assert "<" not in text
    assert "\\n" not in text
    shots = screenshot_dir()
    if shots is not None:
        page.locator("#write-result").screenshot(path=str(shots / "demo-refused.png"))

    page.fill("#note", "hello from the demo test")
    state, text = _press(page, "#write-button", "#write-result")
    assert state == "ok", text
    assert "hello from the demo test" in text

    state, text = _press(page, "#cookies-button", "#cookies-result")
    assert state == "ok"
    assert "sessionid" not in text
    cookie = page.evaluate("document.cookie")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie)
    assert csrf_cookie, cookie
    assert csrf_cookie.group(1) not in text
    assert "csrftoken=" in text

    if shots is not None:
        page.screenshot(path=str(shots / "demo-journey.png"), full_page=True)

    # The README's admin step: disable the page's origin, then enable it again.
    admin = context.new_page()
    admin_login(admin, demo.api, "/admin/credcors/allowedorigin/")
    assert "Disabled 1 origin." in _bulk_action(admin, demo.frontend, "disable_selected")
    state, text = _until(page, "blocked")
    assert state == "blocked", text
    # The page names CORS and says where the reason can be read.
    assert text.startswith("Blocked by CORS"), text
    assert "x-credcors-reason" in text
    assert f"python manage.py credcors explain {demo.frontend}" in text
    if shots is not None:
        page.locator("#read-result").screenshot(path=str(shots / "demo-blocked.png"))
    assert "Enabled 1 origin." in _bulk_action(admin, demo.frontend, "enable_selected")
    state, text = _until(page, "ok")
    assert state == "ok", text

    # Ctrl-C stops the API and the front end.
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=30) == 0, demo.output()
    assert _refuses_connections(int(demo.api.rsplit(":", 1)[1]))
    assert _refuses_connections(int(demo.frontend.rsplit(":", 1)[1]))
    assert _refuses_connections(int(demo.second.rsplit(":", 1)[1]))


def test_demo_second_front_end_is_refused_listed_and_allowed_in_one_click(context: BrowserContext, demo: Demo) -> None:
    assert f"second front end  {demo.second}/   <- not allowed" in demo.output()
    page = context.new_page()
    page.goto(f"{demo.second}/")

    for _ in range(3):
        state, text = _press(page, "#read-button", "#read-result")
        assert state == "blocked", text

    # The refusals reach the admin's list within two REFUSED_FLUSH_SECONDS: a
    # process writes its first count at once, the rest at the next interval.
    admin = context.new_page()
    admin_login(admin, demo.api, "/admin/credcors/refusedorigin/")

    def counted() -> str:
        admin.reload()
        row = admin.locator("#result_list tr", has_text=demo.second)
        return row.inner_text() if row.count() else ""

    text = poll(counted, lambda text: re.search(r"\t3\t", text) is not None, 2 * DEMO_FLUSH_SECONDS + SLACK_SECONDS)
    assert re.search(r"\t3\t", text), text  # Three refused calls, in the count column.
    row = admin.locator("#result_list tr", has_text=demo.second)
    assert "/api/me" in row.inner_text()
    shots = screenshot_dir()
    if shots is not None:
        admin.screenshot(path=str(shots / "demo-refused-origins.png"), full_page=True)

    # One click: the origin is allowed (at once in the process that saved it),
    # on the API host that refused it (issue 24): the demo's is localhost.
    assert f"Allowed 1 origin: {demo.second} on localhost." in _bulk_action(admin, demo.second, "allow_selected")
    assert admin.locator("#result_list tr", has_text=demo.second).count() == 0
    state, text = _until(page, "ok")
    assert state == "ok", text
    admin.goto(f"{demo.api}/admin/credcors/allowedorigin/")
    assert admin.locator("#result_list tr", has_text=demo.second).count() == 1


def _open_socket(page: Page) -> tuple[str, str]:
    return _press(page, "#socket-button", "#socket-result")


def _consumer_runs(demo: Demo, origin: str) -> int:
    """How often the demo's WebSocket consumer ran for ``origin``: its own log line, server side."""
    return demo.output().count(f"whoami socket opened from {origin!r}")


def test_demo_websocket_allowed_page_hears_its_user_and_the_admin_turns_it_off(
    context: BrowserContext, demo: Demo
) -> None:
    from example_project.demo import DEMO_USER

    page = context.new_page()
    page.goto(f"{demo.frontend}/")
    page.fill("#username", DEMO_USER[0])
    page.fill("#password", DEMO_USER[1])
    assert _press(page, "#login-button", "#login-result")[0] == "ok"

    state, text = _open_socket(page)
    assert (state, text) == ("ok", f'connected: the server says you are "{DEMO_USER[0]}"')
    assert _consumer_runs(demo, demo.frontend) == 1

    # The second front end is on the same site, so the browser sends the
    # logged-in session cookie with its handshake too: a hijacking page.
    second = context.new_page()
    second.goto(f"{demo.second}/")
    state, text = _open_socket(second)
    assert state == "blocked", text
    assert text.startswith("Refused: the handshake failed"), text
    assert f"credcors explain {demo.second} --websocket --path /ws/whoami/" in text
    assert _consumer_runs(demo, demo.second) == 0  # The consumer never ran for it.
    shots = screenshot_dir()
    if shots is not None:
        second.locator("#socket-result").screenshot(path=str(shots / "demo-socket-refused.png"))

    # Staff disable the allowed page's origin in the admin: new sockets from it are refused.
    admin = context.new_page()
    admin_login(admin, demo.api, "/admin/credcors/allowedorigin/")
    assert "Disabled 1 origin." in _bulk_action(admin, demo.frontend, "disable_selected")
    disabled_at = time.monotonic()
    state, text = poll(lambda: _open_socket(page), lambda result: result[0] == "blocked", DEMO_REFRESH_SECONDS)
    assert state == "blocked", text
    assert time.monotonic() - disabled_at <= DEMO_REFRESH_SECONDS
    assert _consumer_runs(demo, demo.frontend) == 1

    # The refused handshakes are listed with the socket's path, for one-click allowing.
    admin.goto(f"{demo.api}/admin/credcors/refusedorigin/")

    def listed() -> str:
        admin.reload()
        row = admin.locator("#result_list tr", has_text=demo.second)
        return row.inner_text() if row.count() else ""

    assert "/ws/whoami/" in poll(listed, lambda text: "/ws/whoami/" in text, 2 * DEMO_FLUSH_SECONDS + SLACK_SECONDS)
