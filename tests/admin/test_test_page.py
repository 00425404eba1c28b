"""The admin's "Test an origin" page: staff-only, same explanation as ``explain``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from credcors.explain import explain_request
from credcors.models import AllowedOrigin

URL = "/admin/credcors/allowedorigin/test-origin/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_allowedorigin"))
    client.force_login(user)
    return client


def test_url_is_named_and_reversible() -> None:
    assert reverse("admin:credcors_allowedorigin_test_origin") == URL


def test_changelist_links_to_test_page(admin_client: Client) -> None:
    response = admin_client.get("/admin/credcors/allowedorigin/")

    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()
    assert "Test an origin" in response.content.decode()


def test_anonymous_redirected_to_login(client: Client) -> None:
    response = client.get(URL, {"origin": "https://app.example.com"})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")


def test_non_staff_user_redirected_to_login(client: Client) -> None:
    client.force_login(User.objects.create_user("visitor", password="pw"))

    response = client.get(URL)

    assert response.status_code == 302


def test_staff_without_view_permission_forbidden(client: Client) -> None:
    client.force_login(User.objects.create_user("other", password="pw", is_staff=True))

    response = client.get(URL)

    assert response.status_code == 403


def test_empty_form_shows_no_verdict(staff: Client) -> None:
    response = staff.get(URL)

    assert response.status_code == 200
    assert response.context["explanation"] is None
    assert 'name="origin"' in response.content.decode()


def test_allowed_origin_shows_rule_and_headers(staff: Client) -> None:
    response = staff.get(URL, {"origin": "https://app.example.com", "method": "PUT", "headers": "content-type"})

    page = response.content.decode()
    assert "Allowed" in page
    assert "https://app.example.com is allowed by https://app.example.com (settings)." in page
    assert "access-control-allow-headers: accept, authorization, content-type, x-csrftoken, x-requested-with" in page
    assert "answered 204" in page


def test_page_shows_same_explanation_as_command(staff: Client) -> None:
    AllowedOrigin.objects.create(origin="https://partner.example.net", enabled=False)
    params = {"origin": "https://partner.example.net", "method": "GET", "headers": "", "path": ""}

    response = staff.get(URL, params)

    shown = response.context["explanation"]
    assert shown == explain_request("https://partner.example.net", method="GET", headers=[""], path=None)
    assert shown.cause == "disabled-row"
    assert "but it is disabled." in response.content.decode()


def test_near_miss_reason_rendered(staff: Client) -> None:
    response = staff.get(URL, {"origin": "http://localhost:3000", "method": "GET"})

    page = response.content.decode()
    assert "Refused" in page
    assert "port-differs" in page
    assert "you allowed http://localhost:3001 (settings)" in page


def test_same_site_origin_shows_cookie_verdict(staff: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com", "testserver"]

    response = staff.get(URL, {"origin": "https://app.example.com", "method": "GET"})

    page = response.content.decode()
    assert "Will the browser send the cookies?" in page
    line = "https://app.example.com is on the API&#x27;s site (https://example.com): cookies are same-site."
    assert f"<li>{line}</li>" in page


def test_cross_site_origin_shows_which_cookies_stay_home_escaped(staff: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com", "testserver"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.net"]}

    response = staff.get(URL, {"origin": "https://app.example.net", "method": "PUT", "headers": "x-api-key"})

    page = response.content.decode()
    assert response.context["explanation"].cause == "header-not-allowed"
    assert "<li>https://app.example.net is on another site (https://example.net) than the API.</li>" in page
    assert (
        "<li>The session cookie does not travel from there: SESSION_COOKIE_SAMESITE is &#x27;Lax&#x27;; "
        "it needs &#x27;None&#x27; with SESSION_COOKIE_SECURE = True.</li>"
    ) in page
    assert "Safari and Firefox block third-party cookies by default" in page


def test_any_host_shows_cookie_verdict_cannot_tell(staff: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]

    response = staff.get(URL, {"origin": "https://app.example.com", "method": "GET"})

    assert "Cannot tell whether https://app.example.com is on the API&#x27;s site" in response.content.decode()


def test_refused_origin_shows_no_cookie_verdict(staff: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com", "testserver"]

    response = staff.get(URL, {"origin": "https://evil.example", "method": "GET"})

    page = response.content.decode()
    assert "Refused" in page
    assert "Will the browser send the cookies?" not in page


def test_path_field_checked_against_urls_regex(staff: Client, settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "URLS_REGEX": r"^/api/"}

    response = staff.get(URL, {"origin": "https://app.example.com", "method": "GET", "path": "/other"})

    assert response.context["explanation"].cause == "path-not-covered"
    assert "credcors does not touch this path" in response.content.decode()


@pytest.mark.parametrize(
    "origin",
    [
        '<script>alert("x")</script>',
        'https://app.example.com"><img src=x onerror=alert(1)>',
        "https://a.example\r\n\x1b[31m",
    ],
)
def test_hostile_input_is_escaped_never_markup(staff: Client, origin: str) -> None:
    response = staff.get(URL, {"origin": origin, "method": "<b>GET</b>", "headers": "<i>x</i>"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>GET</b>" not in page
    assert "<i>x</i>" not in page
    assert "Refused" in page


def test_over_long_origin_is_a_form_error_not_a_crash(staff: Client) -> None:
    response = staff.get(URL, {"origin": "x" * 5000, "method": "GET"})

    assert response.status_code == 200
    assert response.context["explanation"] is None
    assert "at most 2000 characters" in response.content.decode()


def test_null_character_is_a_form_error_not_a_crash(staff: Client) -> None:
    response = staff.get(URL, {"origin": "https://a.example\x00", "method": "GET"})

    assert response.status_code == 200
    assert response.context["explanation"] is None


def test_page_says_the_csrf_trust_of_the_origin(admin_client: Client, settings: object) -> None:
    AllowedOrigin.objects.create(origin="https://partner.example.net", trust_for_csrf=True)

    response = admin_client.get(URL, {"origin": "https://partner.example.net", "method": "GET"})

    assert '<p class="credcors-csrf">CSRF: trusted for CSRF: its trust_for_csrf box is ticked</p>' in (
        response.content.decode()
    )


# -- a WebSocket handshake (issue #23) --------------------------------------------------------------


def test_websocket_mode_gives_the_validators_answer(staff: Client, settings: object) -> None:
    partner = "https://partner.example.net"
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"ALLOWED_ORIGINS": [partner]}}}  # type: ignore[attr-defined]
    params = {"origin": partner, "method": "PUT", "headers": "x-not-allowed", "path": "/ws/chat/", "kind": "websocket"}

    default = staff.get(URL, {**params, "policy": "default"})
    partners = staff.get(URL, {**params, "policy": "partners"})

    assert default.context["explanation"] == explain_request(
        partner, method="PUT", headers=["x-not-allowed"], path="/ws/chat/", websocket=True, policy_name="default"
    )
    assert not default.context["explanation"].allowed
    assert "before the application runs" in default.content.decode()
    shown = partners.context["explanation"]
    assert shown.allowed  # PUT and an unlisted header would need a preflight; a handshake has none.
    page = partners.content.decode()
    assert "WebSocket handshake to &quot;/ws/chat/&quot;" in page  # The hint, escaped as every hint is.
    assert "passes the handshake to the application unchanged" in page
    assert "Access-Control-Allow-Origin" not in page  # A socket gets no CORS headers.


def test_http_mode_is_the_default_and_ignores_the_policy_field(staff: Client) -> None:
    response = staff.get(URL, {"origin": "https://app.example.com", "method": "PUT", "policy": "default"})

    assert "answered 204" in response.content.decode()
    assert "WebSocket handshake" not in response.content.decode().split('id="credcors-explanation"')[1]


def test_websocket_mode_with_an_unknown_policy_is_a_form_error(staff: Client) -> None:
    response = staff.get(URL, {"origin": "https://app.example.com", "kind": "websocket", "policy": "no-such"})

    assert response.status_code == 200
    assert response.context["explanation"] is None
    assert "Select a valid choice" in response.content.decode()
