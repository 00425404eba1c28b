"""Will the browser send the cookie?  Two real sites on loopback, and the check that predicts it.

``https://app.credcors-b.test`` calls ``https://api.credcors-a.test`` with
``fetch(..., {credentials: "include"})``.  CORS allows the call in every
test, so whether the session cookie arrives is decided by the cookie's
``SameSite`` and the browser's third-party cookie setting alone, and
``credcors.checks.check_cookies`` must say so beforehand.  Chromium's own
reason for holding a cookie back is read from DevTools, so a test cannot
pass for the wrong reason.

What Chromium really does (156, headless): a fresh profile, and every
Playwright ``new_context()`` (an off-the-record profile), blocks third-party
cookies ("UserPreferences"), so even ``SameSite=None; Secure`` does not
travel.  Chrome's "Allow third-party cookies" setting
(``profile.cookie_controls_mode = 0``) is what the travelling case needs.
Chromium also compares sites with their scheme: an http:// page on the
API's own domain is cross-site ("SchemefulSameSiteLax").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core import checks
from django.test.utils import override_settings

from credcors.checks import check_cookies
from tests.browser.conftest import CHROMIUM_ARGS, poll
from tests.browser.cookie_site import API_HOST, HOSTS, SAME_DOMAIN_HOST, ApiServer, Certificate, FrontServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, BrowserType

#: Chrome's cookie setting "Allow third-party cookies" (1 is "Block third-party cookies").
ALLOW_THIRD_PARTY = 0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return Certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def two_sites(certificate: Certificate) -> Iterator[tuple[ApiServer, FrontServer]]:
    front = FrontServer(certificate)
    # Active while the API starts: Django builds its middleware chain (and
    # SessionMiddleware picks its engine) once, when the handler is made.
    overrides = override_settings(
        ROOT_URLCONF="tests.browser.cookie_site",
        ALLOWED_HOSTS=[API_HOST],
        DEBUG=False,
        MIDDLEWARE=[
            "credcors.middleware.CredCorsMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        # Sessions in the signed cookie itself: the API needs no database.
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        CREDCORS={"ALLOWED_ORIGINS": [front.url], "USE_DATABASE": False},
    )
    overrides.enable()
    try:
        api = ApiServer(certificate)
    except BaseException:
        overrides.disable()
        front.stop()
        raise
    yield api, front
    api.stop()
    overrides.disable()
    front.stop()


@pytest.fixture(scope="module")
def chromium(browser: Browser) -> BrowserType:
    # The package's Playwright: a second sync_playwright() in this thread would refuse to start.
    return browser.browser_type


def _launch(
    chromium: BrowserType, chromium_path: str, certificate: Certificate, profile: Path, cookie_controls_mode: int | None
) -> BrowserContext:
    """Chromium on a persistent profile, because off-the-record ones always
    block third-party cookies; ``cookie_controls_mode=None`` keeps Chromium's default."""
    if cookie_controls_mode is not None:
        (profile / "Default").mkdir(parents=True)
        preferences = {"profile": {"cookie_controls_mode": cookie_controls_mode}}
        (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    args = [arg for arg in CHROMIUM_ARGS if not arg.startswith("--host-resolver-rules=")]
    args += [
        "--host-resolver-rules=" + ", ".join(f"MAP {host} 127.0.0.1" for host in HOSTS),
        # Trust exactly the test certificate, so both pages are real secure contexts.
        f"--ignore-certificate-errors-spki-list={certificate.spki}",
    ]
    context = chromium.launch_persistent_context(str(profile), executable_path=chromium_path, headless=True, args=args)
    context.set_default_timeout(10_000)
    return context


def _log_in_and_call(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    api: ApiServer,
    front: FrontServer,
    profile: Path,
    cookie_controls_mode: int | None,
) -> tuple[dict[str, Any], list[str]]:
    """Log in on the API's own page, then call it from the front end.

    Returns what the API saw and Chromium's reasons for not sending the
    session cookie.
    """
    context = _launch(chromium, chromium_path, certificate, profile, cookie_controls_mode)
    try:
        page = context.new_page()
        # First-party, the way a user signs in on the API's own login page.
        response = page.goto(f"{api.url}/api/login")
        assert response is not None
        assert response.ok
        assert [cookie["name"] for cookie in context.cookies(api.url)] == ["sessionid"]
        page.goto(f"{front.url}/")
        devtools = context.new_cdp_session(page)
        whoami = f"{api.url}/api/whoami"
        urls: dict[str, str] = {}
        cookies_sent: list[tuple[str, list[str]]] = []
        devtools.on(
            "Network.requestWillBeSent", lambda event: urls.update({event["requestId"]: event["request"]["url"]})
        )
        devtools.on(
            "Network.requestWillBeSentExtraInfo",
            lambda event: cookies_sent.extend(
                (event["requestId"], item["blockedReasons"])
                for item in event["associatedCookies"]
                if item["cookie"]["name"] == "sessionid"
            ),
        )
        devtools.send("Network.enable")
        result: dict[str, Any] = page.evaluate("url => window.call(url)", whoami)

        # Only the call's own request: the page's other requests (a favicon) list the cookie too.
        def reasons_for_call() -> list[list[str]]:
            return [reasons for request, reasons in cookies_sent if urls.get(request) == whoami]

        reasons = poll(reasons_for_call, bool, seconds=5)
        assert len(reasons) == 1, cookies_sent
        return result, reasons[0]
    finally:
        context.close()


def test_lax_session_cookie_cross_site_stays_home_and_check_warns(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    two_sites: tuple[ApiServer, FrontServer],
    tmp_path: Path,
) -> None:
    with override_settings(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=True):
        result, reasons = _log_in_and_call(
            chromium, chromium_path, certificate, *two_sites, tmp_path, ALLOW_THIRD_PARTY
        )
        messages = check_cookies()

    # CORS let the page read the answer: the request arrived, without the cookie.
    assert result == {"status": 200, "body": {"cookie": False, "user": None}}
    # Chromium names it "SchemefulSameSiteLax": its site comparison includes the scheme.
    [reason] = reasons
    assert reason.endswith("SameSiteLax")
    [warning] = [message for message in messages if message.level >= checks.WARNING]
    assert warning.id == "credcors.W006"
    assert "SESSION_COOKIE_SAMESITE is 'Lax'" in warning.msg
    assert repr(two_sites[1].url) in warning.msg


def test_none_secure_session_cookie_cross_site_travels_and_check_is_quiet(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    two_sites: tuple[ApiServer, FrontServer],
    tmp_path: Path,
) -> None:
    with override_settings(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=True):
        result, reasons = _log_in_and_call(
            chromium, chromium_path, certificate, *two_sites, tmp_path, ALLOW_THIRD_PARTY
        )
        messages = check_cookies()

    assert result == {"status": 200, "body": {"cookie": True, "user": "demo"}}
    assert reasons == []
    # No warning; only the note that browsers blocking third-party cookies still refuse it.
    assert [(message.id, message.level) for message in messages] == [("credcors.I001", checks.INFO)]


def test_none_secure_session_cookie_in_default_chromium_profile_is_blocked_as_the_note_says(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    two_sites: tuple[ApiServer, FrontServer],
    tmp_path: Path,
) -> None:
    # If this starts failing, Chromium changed its default: revisit credcors.I001's text.
    with override_settings(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=True):
        result, reasons = _log_in_and_call(chromium, chromium_path, certificate, *two_sites, tmp_path, None)
        [note] = check_cookies()

    assert result == {"status": 200, "body": {"cookie": False, "user": None}}
    assert reasons == ["UserPreferences"]
    assert note.id == "credcors.I001"
    assert "block third-party cookies" in note.msg


def test_http_front_end_on_the_apis_domain_is_cross_site_by_scheme_and_check_warns(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    two_sites: tuple[ApiServer, FrontServer],
    tmp_path: Path,
) -> None:
    api = two_sites[0]
    front = FrontServer(None, host=SAME_DOMAIN_HOST)  # http://app.credcors-a.test, beside api.credcors-a.test
    credcors = {"ALLOWED_ORIGINS": [front.url], "USE_DATABASE": False, "ALLOW_INSECURE_ORIGINS": True}
    try:
        with override_settings(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=True, CREDCORS=credcors):
            result, reasons = _log_in_and_call(
                chromium, chromium_path, certificate, api, front, tmp_path, ALLOW_THIRD_PARTY
            )
            messages = check_cookies()
    finally:
        front.stop()

    assert result == {"status": 200, "body": {"cookie": False, "user": None}}
    assert reasons == ["SchemefulSameSiteLax"]
    assert [message.id for message in messages if message.level >= checks.WARNING] == [
        "credcors.W006",
        "credcors.W007",
    ]
    [warning] = [message for message in messages if message.id == "credcors.W007"]
    assert repr(front.url) in warning.msg
    assert "browsers count the scheme as part of the site" in warning.msg


def test_none_session_cookie_without_secure_is_never_stored_and_check_errs(
    chromium: BrowserType,
    chromium_path: str,
    certificate: Certificate,
    two_sites: tuple[ApiServer, FrontServer],
    tmp_path: Path,
) -> None:
    api = two_sites[0]
    with override_settings(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=False):
        context = _launch(chromium, chromium_path, certificate, tmp_path, ALLOW_THIRD_PARTY)
        try:
            # First-party, over https://: still refused.
            response = context.new_page().goto(f"{api.url}/api/login")
            assert response is not None
            assert "SameSite=None" in (response.header_value("set-cookie") or "")
            stored = context.cookies(api.url)
        finally:
            context.close()
        messages = check_cookies()

    assert stored == []
    assert [message.id for message in messages if message.level >= checks.WARNING] == ["credcors.E014"]
