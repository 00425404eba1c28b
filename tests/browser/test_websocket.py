"""WebSockets in headless Chromium: daphne serving Channels behind credcors' ``OriginValidator`` (issue #23).

The page origins are two ports of 127.0.0.1, one allowed and one not: the
same site as the server, so the session cookie rides along with both
handshakes, exactly what a hijacking page relies on.  The server records on
disk each time the consumer runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import poll

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

pytest.importorskip("channels")
pytest.importorskip("daphne")

ROOT = Path(__file__).resolve().parents[2]
#: REFRESH_SECONDS of tests/browser/ws_site.py, plus slack.
REFRESH_SECONDS = 1.0
SLACK_SECONDS = 5.0

OPEN_SOCKET = """async (url) => await new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onmessage = (event) => { resolve({name: event.data}); socket.close(); };
    socket.onclose = (event) => resolve({closed: event.code});
    socket.onerror = () => resolve({error: true});
})"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _EmptyPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>page</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origins() -> Iterator[list[str]]:
    """Four page origins on loopback, real servers (Chromium's local network checks refuse a routed page's socket)."""
    pages = [ThreadingHTTPServer(("127.0.0.1", 0), _EmptyPage) for _ in range(4)]
    for page in pages:
        threading.Thread(target=page.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{page.server_address[1]}" for page in pages]
    for page in pages:
        page.shutdown()
        page.server_close()


@dataclass
class Site:
    """The daphne server, its environment and the consumer's record."""

    port: int
    env: dict[str, str]
    ran: Path

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/whoami/"

    def django(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell`` against the server's database; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "django", "shell", "-c", code],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    def runs(self) -> int:
        return len(self.ran.read_text().splitlines()) if self.ran.exists() else 0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("ws")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.browser.ws_site",
        "CREDCORS_WS_DB": str(folder / "db.sqlite3"),
        "CREDCORS_WS_RAN": str(folder / "ran.txt"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    port = _free_port()
    log = (folder / "daphne.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tests.browser.ws_asgi:application"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not start: {(folder / 'daphne.log').read_text()}") from None
                time.sleep(0.1)
        yield Site(port, env, folder / "ran.txt")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def logged_in(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A browser whose cookie jar holds a session of the user "alice" on 127.0.0.1."""
    key = site.django(
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "user, _ = get_user_model().objects.get_or_create(username='alice')\n"
        "s = SessionStore(); s[SESSION_KEY] = str(user.pk)\n"
        "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "s[HASH_SESSION_KEY] = user.get_session_auth_hash(); s.create(); print(s.session_key)"
    )
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "sessionid", "value": key.splitlines()[-1], "domain": "127.0.0.1", "path": "/"}])
    yield context
    context.close()


def _open_socket(context: BrowserContext, origin: str, site: Site) -> dict[str, Any]:
    page = context.new_page()
    page.goto(f"{origin}/")
    result: dict[str, Any] = page.evaluate(OPEN_SOCKET, site.socket_url)
    page.close()
    return result


def _allow(site: Site, origin: str, expires_in: float | None = None) -> None:
    expires = "None" if expires_in is None else f"timezone.now() + timedelta(seconds={expires_in})"
    site.django(
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        "from credcors.models import AllowedOrigin\n"
        f"AllowedOrigin.objects.update_or_create(origin={origin!r}, "
        f"defaults={{'enabled': True, 'expires_at': {expires}}})"
    )


def test_allowed_origin_receives_the_user_name_and_unlisted_is_refused(
    logged_in: BrowserContext, site: Site, origins: list[str]
) -> None:
    allowed, other = origins[0], origins[1]
    _allow(site, allowed)
    before = site.runs()

    answer = poll(
        lambda: _open_socket(logged_in, allowed, site), lambda r: "name" in r, REFRESH_SECONDS + SLACK_SECONDS
    )
    assert answer == {"name": "alice"}
    assert site.runs() == before + 1

    refused = _open_socket(logged_in, other, site)
    assert "name" not in refused
    assert site.runs() == before + 1  # The consumer never ran for the unlisted origin.


def test_disabled_row_refuses_new_sockets_within_refresh(
    logged_in: BrowserContext, site: Site, origins: list[str]
) -> None:
    origin = origins[2]
    _allow(site, origin)
    assert (
        poll(lambda: _open_socket(logged_in, origin, site), lambda r: "name" in r, REFRESH_SECONDS + SLACK_SECONDS)[
            "name"
        ]
        == "alice"
    )

    site.django(
        "from credcors.models import AllowedOrigin\n"
        f"AllowedOrigin.objects.filter(origin={origin!r}).update(enabled=False)"
    )
    disabled_at = time.monotonic()
    answer = poll(
        lambda: _open_socket(logged_in, origin, site), lambda r: "name" not in r, REFRESH_SECONDS + SLACK_SECONDS
    )

    assert "name" not in answer
    assert time.monotonic() - disabled_at < REFRESH_SECONDS + SLACK_SECONDS


def test_expired_row_is_refused(logged_in: BrowserContext, site: Site, origins: list[str]) -> None:
    origin = origins[3]
    _allow(site, origin, expires_in=3)
    first = poll(lambda: _open_socket(logged_in, origin, site), lambda r: "name" in r, REFRESH_SECONDS + SLACK_SECONDS)
    assert first == {"name": "alice"}

    answer = poll(lambda: _open_socket(logged_in, origin, site), lambda r: "name" not in r, 3 + SLACK_SECONDS)

    assert "name" not in answer
    runs = site.runs()
    assert "name" not in _open_socket(logged_in, origin, site)
    assert site.runs() == runs
