"""The credentialed cross-origin journey, allowed and refused, as the page sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from example_project.api import views
from example_project.demo import DEMO_USER
from tests.browser.conftest import Servers, open_frontend

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext

LOGIN = "([username, password]) => demo.login(username, password)"


def test_allowed_origin_login_read_and_token_write_succeed(context: BrowserContext, demo_state: Servers) -> None:
    page = open_frontend(context, demo_state.allowed.url)

    before = page.evaluate("demo.me()")
    assert before == {"blocked": False, "status": 401, "ok": False, "body": {"error": "not logged in"}}

    login = page.evaluate(LOGIN, list(DEMO_USER))
    assert login["blocked"] is False
    assert login["status"] == 200
    assert login["body"]["username"] == "demo"

    # The session cookie is in the browser's jar, httpOnly, and invisible to scripts.
    [session] = [cookie for cookie in context.cookies() if cookie["name"] == "sessionid"]
    assert session["httpOnly"] is True
    assert "sessionid" not in page.evaluate("demo.cookies()")

    read = page.evaluate("demo.me()")
    assert read == {
        "blocked": False,
        "status": 200,
        "ok": True,
        "body": {"username": "demo", "secret": "private data of demo"},
    }

    write = page.evaluate("demo.write('written from an allowed origin')")
    assert write["blocked"] is False
    assert write["status"] == 200
    assert write["body"] == {"notes": ["written from an allowed origin"]}

    # CORS lets the page read the refusal: it is CSRF, not the browser, saying no.
    no_token = page.evaluate("demo.write('no token', {withToken: false})")
    assert no_token["blocked"] is False
    assert no_token["status"] == 403
    assert views._notes == ["written from an allowed origin"]


def test_disallowed_origin_calls_rejected_and_write_never_runs(context: BrowserContext, demo_state: Servers) -> None:
    # The user is logged in (same cookie jar) when a same-site page that is
    # not on the allow-list tries its luck, even holding a valid CSRF token.
    allowed = open_frontend(context, demo_state.allowed.url)
    assert allowed.evaluate(LOGIN, list(DEMO_USER))["status"] == 200
    token = allowed.evaluate("demo.token()")

    page = open_frontend(context, demo_state.other.url)
    calls: dict[str, Any] = {
        "token": page.evaluate("demo.fetchToken()"),
        "read": page.evaluate("demo.me()"),
        "login": page.evaluate(LOGIN, list(DEMO_USER)),
        "write": page.evaluate(
            """token => demo.call("/api/notes", {
                method: "PUT", json: {text: "forged"}, headers: {"X-CSRFToken": token},
            })""",
            token,
        ),
    }
    for name, result in calls.items():
        assert result["blocked"] is True, name
        assert "Failed to fetch" in result["error"], name

    # The preflight was refused, so the browser never sent the PUT.
    assert views._notes == []
    after = allowed.evaluate("demo.call('/api/notes')")
    assert after["status"] == 200
    assert after["body"] == {"notes": []}


def test_header_outside_allow_headers_fails_preflight(context: BrowserContext, demo_state: Servers) -> None:
    page = open_frontend(context, demo_state.allowed.url)
    listed = page.evaluate("demo.call('/api/csrf', {headers: {'X-Requested-With': 'demo'}})")
    assert listed["blocked"] is False
    assert listed["status"] == 200

    unlisted = page.evaluate("demo.call('/api/csrf', {headers: {'X-Custom-Header': 'demo'}})")
    assert unlisted["blocked"] is True
    assert "Failed to fetch" in unlisted["error"]
