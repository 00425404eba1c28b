"""The quick start, followed as written in a new ``django-admin startproject`` project, in Chromium.

Its edits (``diff`` blocks, Python blocks headed ``# mysite/<file>.py``) are
read from the file and applied by ``tests.test_docs.apply_quickstart``; its
``python manage.py`` lines run in order in that project (``createsuperuser``
without its prompts, ``runserver`` last and in the background); the user logs
in through the admin's form at ``http://localhost:<api port>/admin/``; then its
``js`` blocks run in a page on another port.

The docs say ports 8000 (the API) and 3001 (the front end); this test puts two
free loopback ports in their place, textually, in the commands and the
JavaScript, and changes nothing else.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import poll
from tests.browser.test_demo import _answers, _free_port
from tests.browser.test_docs_frontend import _run
from tests.test_docs import blocks_of, commands, kind, new_quickstart_project, startproject_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
DOCS_API = "localhost:8000"
DOCS_FRONTEND = "localhost:3001"
USER = ("admin", "a-password-for-the-quickstart-test")
STARTUP_SECONDS = 60.0
#: Where the docs say to log in: on localhost, the host the page's calls go to, so the session cookie goes with them.
LOGIN = re.compile(r"log in at `(http://localhost:8000/admin/)`", re.IGNORECASE)


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[int]:
    """An empty page on a port of its own: the front end's origin."""
    root = tmp_path / "frontend"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>front end</title>\n")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in startproject_env().items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        # This checkout's credcors, whatever the virtualenv's install points at.
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        DJANGO_SUPERUSER_USERNAME=USER[0],
        DJANGO_SUPERUSER_EMAIL="admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=USER[1],
    )
    return env


@pytest.mark.parametrize("path", ["README.md", "docs/quickstart.md"])
def test_quickstart_as_written_reads_and_writes_from_another_port(
    browser: Browser, tmp_path: Path, page_server: int, path: str
) -> None:
    api_port, frontend = _free_port(), f"localhost:{page_server}"
    project = new_quickstart_project(path, tmp_path)
    env = _env(tmp_path)
    shown = [words for words in commands(path) if kind(words) == "manage.py"]
    assert [words[2] for words in shown][-1] == "runserver", "the server starts last, after the commands"
    for words in shown[:-1]:
        args = [word.replace(DOCS_FRONTEND, frontend) for word in words[1:]]
        if words[2] == "createsuperuser":
            args.append("--noinput")  # The prompts need a terminal; the answers come from env.
        result = subprocess.run(
            [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"{shlex.join(words)}:\n{result.stdout}\n{result.stderr}"

    log = tmp_path / "runserver.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, *shown[-1][1:], f"127.0.0.1:{api_port}", "--noreload"],
            cwd=project,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    api = f"http://localhost:{api_port}"
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        up = poll(
            lambda: server.poll() is None and _answers(f"http://127.0.0.1:{api_port}/api/csrf"),
            lambda answered: answered or server.poll() is not None,
            STARTUP_SECONDS,
        )
        assert up, f"runserver did not answer:\n{log.read_text(errors='replace')}"

        address = LOGIN.search((ROOT / path).read_text())
        assert address is not None, f"{path} does not say to log in at http://localhost:8000/admin/"
        login = context.new_page()
        login.goto(address.group(1).replace(DOCS_API, f"localhost:{api_port}"))
        login.fill("#id_username", USER[0])
        login.fill("#id_password", USER[1])
        with login.expect_navigation():
            login.click("input[type=submit]")
        assert login.url == f"{api}/admin/", login.url

        page = context.new_page()
        page.goto(f"http://{frontend}/")
        blocks = blocks_of("js", (path,))
        assert len(blocks) == 2, [block.where for block in blocks]  # One read, one write.
        results: list[dict[str, Any]] = []
        for block in blocks:
            assert DOCS_API in block.text, block.where
            results.append(_run(page, block.text.replace(DOCS_API, f"localhost:{api_port}")))
    finally:
        context.close()
        server.terminate()
        server.wait(timeout=30)

    read, write = results
    assert read["response"]["status"] == 200, read
    assert read["me"] == {"username": USER[0]}
    assert 200 <= write["saved"]["status"] < 300, write
