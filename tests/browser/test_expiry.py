"""An origin with an expiry, seen from its page: allowed before it, blocked after it, no restart, no query."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from pytest_django import Settings

from credcors.models import AllowedOrigin
from tests.browser.conftest import Servers, open_frontend
from tests.conftest import queries_in_any_thread

if TYPE_CHECKING:
    # Only for annotations: without Playwright, conftest skips (or fails) these tests.
    from playwright.sync_api import BrowserContext

#: How far ahead the origin expires: time to load the page and see it allowed first.
LIFETIME_SECONDS = 6.0
#: The issue's promise: blocked within a second of the expiry.
WITHIN_SECONDS = 1.0
SIMPLE = "demo.call('/api/csrf')"
# X-Requested-With makes the call preflighted.
PREFLIGHTED = "demo.call('/api/csrf', {headers: {'X-Requested-With': 'demo'}})"


@pytest.fixture
def no_refresh(settings: Settings, demo_state: Servers) -> Servers:
    # No poll of the table during the test: only the expiry can change the answer.
    settings.CREDCORS = {**settings.CREDCORS, "REFRESH_SECONDS": 3600}
    return demo_state


def test_origin_allowed_before_its_expiry_and_blocked_after_without_a_query(
    context: BrowserContext, no_refresh: Servers
) -> None:
    origin = no_refresh.other.url
    page = open_frontend(context, origin)
    assert page.evaluate(SIMPLE)["blocked"] is True  # Not listed yet.

    expires_at = timezone.now() + timedelta(seconds=LIFETIME_SECONDS)
    AllowedOrigin.objects.create(origin=origin, expires_at=expires_at, note="expires in a few seconds")
    expiry = expires_at.timestamp()

    # The commit makes the server reload once: the counter sees the server's queries.
    with queries_in_any_thread() as warm_up:
        assert page.evaluate(SIMPLE)["blocked"] is False
    assert [sql for sql in warm_up if "credcors_" in sql], warm_up

    calls: list[tuple[float, float, str, bool]] = []
    with queries_in_any_thread() as statements:
        deadline = expiry + WITHIN_SECONDS + 5
        while time.time() < deadline:
            for name, call in (("simple", SIMPLE), ("preflighted", PREFLIGHTED)):
                started = time.time()
                blocked = page.evaluate(call)["blocked"]
                calls.append((started, time.time(), name, blocked))
            if calls[-2][0] > expiry + WITHIN_SECONDS:  # A whole round after the promised second.
                break
            time.sleep(0.1)

    before = [call for call in calls if call[1] < expiry]
    after = [call for call in calls if call[0] > expiry + WITHIN_SECONDS]
    assert {name for _, _, name, _ in before} == {"simple", "preflighted"}, calls
    assert not any(blocked for *_, blocked in before), calls
    assert after, calls
    assert all(blocked for *_, blocked in after), calls
    assert statements == []
