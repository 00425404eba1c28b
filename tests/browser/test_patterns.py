"""A subdomain pattern in settings, seen from pages on matching and look-alike hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_django import Settings

from tests.browser.conftest import Servers, open_frontend

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext

# X-Requested-With makes the call preflighted, so both kinds of request are exercised.
PREFLIGHTED = "demo.call('/api/csrf', {headers: {'X-Requested-With': 'demo'}})"
SIMPLE = "demo.call('/api/csrf')"


@pytest.fixture
def pattern_port(settings: Settings, demo_state: Servers) -> int:
    port = demo_state.allowed.port
    settings.CREDCORS = {**settings.CREDCORS, "ALLOWED_ORIGINS": [f"http://*.app.localhost:{port}"]}
    return port


@pytest.mark.parametrize("host", ["one.app.localhost", "two.levels.app.localhost"])
def test_subdomain_matching_pattern_allowed(context: BrowserContext, pattern_port: int, host: str) -> None:
    page = open_frontend(context, f"http://{host}:{pattern_port}")
    assert page.evaluate("location.origin") == f"http://{host}:{pattern_port}"
    for call in (SIMPLE, PREFLIGHTED):
        result = page.evaluate(call)
        assert result["blocked"] is False, call
        assert result["status"] == 200, call
        assert "csrfToken" in result["body"], call


@pytest.mark.parametrize("host", ["app.localhost", "evilapp.localhost", "app.localhost.evil.localhost"])
def test_apex_or_lookalike_host_refused(context: BrowserContext, pattern_port: int, host: str) -> None:
    page = open_frontend(context, f"http://{host}:{pattern_port}")
    assert page.evaluate("location.origin") == f"http://{host}:{pattern_port}"
    for call in (SIMPLE, PREFLIGHTED):
        result = page.evaluate(call)
        assert result["blocked"] is True, call


def test_matching_host_on_other_port_refused(context: BrowserContext, pattern_port: int, demo_state: Servers) -> None:
    page = open_frontend(context, f"http://one.app.localhost:{demo_state.other.port}")
    assert page.evaluate(SIMPLE)["blocked"] is True
