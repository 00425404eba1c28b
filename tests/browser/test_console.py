"""What Chromium's console says about a refused credentialed call, word for word.

An allowed origin whose preflight asks for a method or header outside the
lists gets the allowed preflight's 2xx and lists, so Chromium names the
method or header; a refused origin gets no ``Access-Control-*`` header, so
Chromium says the ``Access-Control-Allow-Origin`` header is missing.  Every
call here uses the demo page's ``fetch(..., {credentials: "include"})``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import Servers, open_frontend

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


def _blocked_call(context: BrowserContext, origin: str, script: str) -> tuple[dict[str, Any], str]:
    """Run ``script`` on the demo page at ``origin``: its result and Chromium's CORS console error."""
    page = open_frontend(context, origin)
    # Waits for the message itself, however late Chromium logs it.
    with page.expect_console_message(lambda message: "CORS policy" in message.text) as console:
        result = page.evaluate(script)
    message = console.value
    assert message.type == "error"
    return result, message.text


def _blocked_at(servers: Servers, origin: str) -> str:
    return f"Access to fetch at '{servers.api}/api/me' from origin '{origin}' has been blocked by CORS policy: "


@pytest.mark.parametrize("method", ["PURGE", "patch"])
def test_allowed_origin_method_outside_allow_methods_is_named_in_console(
    context: BrowserContext, demo_state: Servers, method: str
) -> None:
    origin = demo_state.allowed.url

    result, text = _blocked_call(context, origin, f"demo.call('/api/me', {{method: '{method}'}})")

    # Chromium 156 prints, for example:
    #   Access to fetch at 'http://localhost:39447/api/me' from origin 'http://localhost:44733'
    #   has been blocked by CORS policy: Method patch is not allowed by
    #   Access-Control-Allow-Methods in preflight response.
    # "patch" stays lower-case: browsers upper-case only the six standard methods.
    assert text == (
        _blocked_at(demo_state, origin)
        + f"Method {method} is not allowed by Access-Control-Allow-Methods in preflight response."
    )
    assert result["blocked"] is True
    assert "Failed to fetch" in result["error"]


def test_allowed_origin_header_outside_allow_headers_is_named_in_console(
    context: BrowserContext, demo_state: Servers
) -> None:
    origin = demo_state.allowed.url

    result, text = _blocked_call(context, origin, "demo.call('/api/me', {headers: {'X-Custom-Header': 'demo'}})")

    # Chromium 156 prints:
    #   Access to fetch at 'http://localhost:39447/api/me' from origin 'http://localhost:44733'
    #   has been blocked by CORS policy: Request header field x-custom-header is not allowed by
    #   Access-Control-Allow-Headers in preflight response.
    assert text == (
        _blocked_at(demo_state, origin)
        + "Request header field x-custom-header is not allowed by Access-Control-Allow-Headers in preflight response."
    )
    assert result["blocked"] is True
    assert "Failed to fetch" in result["error"]


@pytest.mark.parametrize(
    ("script", "words"),
    [
        # A simple GET: no preflight, the actual response lacks the header.
        ("demo.call('/api/me')", ""),
        # A preflighted PUT: the 403 preflight answer lacks it.
        (
            "demo.call('/api/me', {method: 'PUT'})",
            "Response to preflight request doesn't pass access control check: ",
        ),
    ],
)
def test_refused_origin_console_says_allow_origin_header_is_missing(
    context: BrowserContext, demo_state: Servers, script: str, words: str
) -> None:
    origin = demo_state.other.url

    result, text = _blocked_call(context, origin, script)

    # Chromium 156 prints:
    #   Access to fetch at 'http://localhost:39447/api/me' from origin 'http://localhost:34531'
    #   has been blocked by CORS policy: [Response to preflight request doesn't pass access
    #   control check: ]No 'Access-Control-Allow-Origin' header is present on the requested resource.
    assert text == (
        _blocked_at(demo_state, origin)
        + words
        + "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    )
    assert result["blocked"] is True
    assert "Failed to fetch" in result["error"]
