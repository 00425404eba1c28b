"""Named policies through Django: views pick them, preflights resolve them, rows and checks know them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.middleware.locale import LocaleMiddleware
from django.test import AsyncClient, Client
from django.utils import translation

from credcors import log
from credcors.checks import check_view_policies
from credcors.decorators import cors_policy
from credcors.models import AllowedOrigin
from credcors.routing import MAX_CACHED_PATH, PathPolicies, get_path_policies, locale_middleware_installed, view_policy
from credcors.store.current import get_store
from tests import host_routing
from tests.helpers import send_preflight
from tests.host_routing import PARTNER_HOST

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_policies")]

APP = "https://app.example.com"
PARTNER = "https://partner.example.net"
STRANGER = "https://stranger.example.org"

POLICIES: dict[str, Any] = {
    "ALLOWED_ORIGINS": [APP],
    "EXPOSE_HEADERS": ["x-request-id"],
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False, "ALLOW_METHODS": ["GET", "HEAD"]},
        "partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": False, "USE_DATABASE": True},
        "missing": {"ALLOWED_ORIGINS": [APP]},
    },
}


@pytest.fixture(autouse=True)
def _policies(settings: Any) -> None:
    settings.CREDCORS = POLICIES


def _cors(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


# --- actual requests: the view Django resolved ---------------------------------------------


@pytest.mark.parametrize("origin", [STRANGER, PARTNER, APP])
def test_public_view_answers_star_to_anyone_without_credentials(client: Client, origin: str) -> None:
    response = client.get("/api/status", headers={"Origin": origin})

    assert response.status_code == 200
    assert _cors(response) == {"access-control-allow-origin": "*", "access-control-expose-headers": "x-request-id"}
    assert response.headers["Vary"].lower().split(", ")[-1] == "origin"


def test_unlisted_origin_is_refused_by_the_credentialed_view(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": STRANGER})

    assert _cors(response) == {}


def test_default_view_keeps_credentials_beside_named_policies(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": APP})

    assert _cors(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-request-id",
    }


def test_partner_reads_the_class_based_partner_view_without_credentials(client: Client) -> None:
    response = client.get("/api/partner/7", headers={"Origin": PARTNER})

    assert response.json() == {"partner": True, "pk": 7}
    assert _cors(response) == {
        "access-control-allow-origin": PARTNER,
        "access-control-expose-headers": "x-request-id",
    }


@pytest.mark.parametrize(("path", "origin"), [("/api/echo", PARTNER), ("/api/partner", APP)])
def test_each_view_refuses_the_other_policys_origins(client: Client, path: str, origin: str) -> None:
    assert _cors(client.get(path, headers={"Origin": origin})) == {}


def test_viewset_cls_attribute_names_the_policy(client: Client) -> None:
    response = client.get("/api/catalogue", headers={"Origin": STRANGER})

    assert _cors(response) == {"access-control-allow-origin": "*", "access-control-expose-headers": "x-request-id"}


def test_view_naming_an_unknown_policy_is_refused_and_debug_says_why(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    settings.CREDCORS = {**POLICIES, "POLICIES": {"public": POLICIES["POLICIES"]["public"]}}

    response = client.get("/api/misnamed", headers={"Origin": APP})

    assert _cors(response) == {}
    assert response.headers["X-CredCors-Reason"].startswith("unknown-policy:")


def test_refusal_in_a_named_policy_names_its_own_lists(client: Client, settings: Any) -> None:
    settings.DEBUG = True

    response = send_preflight(client, "/api/status", STRANGER, "DELETE")

    assert response.status_code == 204
    assert "(GET, HEAD)" in response.headers["X-CredCors-Reason"]


def test_unresolved_path_uses_the_default_policy(client: Client) -> None:
    assert client.get("/api/nowhere", headers={"Origin": STRANGER}).status_code == 404
    assert _cors(client.get("/api/nowhere", headers={"Origin": APP}))["access-control-allow-origin"] == APP


def test_async_public_view_answers_star(async_client: AsyncClient) -> None:
    response = async_to_sync(async_client.get)("/api/status-async", headers={"Origin": STRANGER})
    refused = async_to_sync(async_client.get)("/api/async", headers={"Origin": STRANGER})

    assert _cors(response) == {"access-control-allow-origin": "*", "access-control-expose-headers": "x-request-id"}
    assert _cors(refused) == {}


def test_async_preflight_resolves_the_path(async_client: AsyncClient) -> None:
    headers = {"Origin": STRANGER, "Access-Control-Request-Method": "GET"}
    public = async_to_sync(async_client.options)("/api/status-async", headers=headers)
    default = async_to_sync(async_client.options)("/api/async", headers=headers)

    assert (public.status_code, _cors(public)["access-control-allow-origin"]) == (204, "*")
    assert (default.status_code, _cors(default)) == (403, {})


# --- preflights: one resolve per path, within a bound ------------------------------------


def test_preflight_to_a_named_policy_resolves_once_per_path(client: Client, view_calls: list[str]) -> None:
    before = get_path_policies().resolves

    answers = [send_preflight(client, "/api/partner/3", PARTNER, "GET") for _ in range(5)]

    assert [response.status_code for response in answers] == [204] * 5
    assert _cors(answers[-1])["access-control-allow-origin"] == PARTNER
    assert "access-control-allow-credentials" not in _cors(answers[-1])
    assert get_path_policies().resolves - before == 1
    assert view_calls == []  # A preflight never reaches the view.


def test_actual_requests_never_resolve_again(client: Client) -> None:
    before = get_path_policies().resolves

    for _ in range(3):
        client.get("/api/partner/3", headers={"Origin": PARTNER})

    assert get_path_policies().resolves == before
    assert len(get_path_policies()) == 0


def test_preflight_to_a_public_view_from_anyone(client: Client) -> None:
    response = send_preflight(client, "/api/status", STRANGER, "GET")

    assert response.status_code == 204
    assert _cors(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "accept, authorization, content-type, x-csrftoken, x-requested-with",
        "access-control-max-age": "600",
    }


def _request(path: str, urlconf: str | None = None) -> Any:
    from django.test import RequestFactory

    request = RequestFactory().options(path)
    if urlconf is not None:
        request.urlconf = urlconf
    return request


def test_path_cache_is_bounded_under_a_flood_of_distinct_paths() -> None:
    cache = PathPolicies(bound=64)
    hot = _request("/api/partner/1")
    assert cache.policy(hot) == "partners"

    for number in range(5000):
        assert cache.policy(_request(f"/api/partner/{number + 2}")) == "partners"
        assert len(cache) <= 64

    # After the flood the hot path costs at most one resolve, then none.
    before = cache.resolves
    assert [cache.policy(hot) for _ in range(10)] == ["partners"] * 10
    assert cache.resolves - before <= 1


def test_path_cache_keeps_no_404_and_no_overlong_path() -> None:
    cache = PathPolicies()

    for number in range(100):
        assert cache.policy(_request(f"/nowhere/{number}")) == "default"
    assert cache.policy(_request("/api/partner/" + "1" * MAX_CACHED_PATH)) == "partners"

    assert len(cache) == 0


def test_path_cache_keys_on_the_requests_urlconf() -> None:
    cache = PathPolicies()

    assert cache.policy(_request("/api/echo")) == "default"
    assert cache.policy(_request("/api/echo", urlconf="tests.urls")) == "default"
    assert cache.policy(_request("/api/status", urlconf="tests.urls")) == "default"  # No such view there.
    assert len(cache) == 2


def test_path_cache_bounds_the_urlconfs_it_knows_too() -> None:
    cache = PathPolicies(bound=2)
    urlconfs = ["tests.urls", "tests.urls_policies", "tests.urls_i18n", "tests.urls_translated"]

    answers = [cache.policy(_request("/api/echo", urlconf=urlconf)) for urlconf in urlconfs]

    assert answers == ["default"] * 4
    assert len(cache._by_language) <= 2  # Which URLconfs' routes depend on the language.


def test_path_cache_holds_its_bound_under_threads() -> None:
    cache = PathPolicies(bound=32)
    sizes: list[int] = []
    wrong: list[str] = []

    def flood(offset: int) -> None:
        for number in range(400):
            name = cache.policy(_request(f"/api/partner/{offset * 1000 + number}"))
            if name != "partners":
                wrong.append(name)
            sizes.append(len(cache))

    threads = [threading.Thread(target=flood, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert wrong == []
    assert len(sizes) == 2400
    assert max(sizes) <= 32


def test_changing_root_urlconf_empties_the_path_cache(client: Client, settings: Any) -> None:
    send_preflight(client, "/api/status", STRANGER, "GET")
    assert len(get_path_policies()) == 1

    settings.ROOT_URLCONF = "tests.urls"

    assert len(get_path_policies()) == 0


# --- naming a policy ---------------------------------------------------------------------


def test_view_policy_reads_decorator_view_class_and_cls() -> None:
    @cors_policy("public")
    def decorated() -> None: ...

    class Viewish:
        cors_policy = "partners"

    def by_view_class() -> None: ...

    def by_cls() -> None: ...

    by_view_class.view_class = Viewish  # type: ignore[attr-defined]
    by_cls.cls = Viewish  # type: ignore[attr-defined]

    assert [view_policy(view) for view in (decorated, by_view_class, by_cls, lambda: None)] == [
        "public",
        "partners",
        "partners",
        "default",
    ]


def test_cors_policy_refuses_a_non_string_name() -> None:
    with pytest.raises(TypeError, match="name of a policy"):
        cors_policy(None)  # type: ignore[arg-type]


def test_unknown_policy_on_a_view_is_e020_with_did_you_mean(settings: Any) -> None:
    settings.CREDCORS = {"POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True}, "missed": {}, "partners": {}}}

    messages = check_view_policies()

    assert [message.id for message in messages] == ["credcors.E020"]
    assert "'misnamed' at 'api/misnamed'" in messages[0].msg
    assert "'missing'" in messages[0].msg
    assert "Did you mean 'missed'?" in str(messages[0].hint)


def test_e020_for_every_view_without_a_guess(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP]}

    messages = check_view_policies()

    assert {message.msg.split(" names")[0] for message in messages} == {
        "The view 'public_status' at 'api/status'",
        "The view 'public_async' at 'api/status-async'",
        "The view 'PartnerView' at 'api/partner'",
        "The view 'PartnerView' at 'api/partner/<int:pk>'",
        "The view 'CatalogueViewSet' at 'api/catalogue'",
        "The view 'misnamed' at 'api/misnamed'",
    }
    assert all("Did you mean" not in str(message.hint) for message in messages)


def test_no_e020_when_every_named_policy_exists() -> None:
    assert [message for message in run_checks() if message.id == "credcors.E020"] == []


# --- rows belong to a policy ----------------------------------------------------------------


def test_row_policy_is_validated_against_configured_names() -> None:
    row = AllowedOrigin(origin="https://row.example.com", policy="nope")

    with pytest.raises(ValidationError) as caught:
        row.full_clean()

    assert "'nope' is not a configured policy" in str(caught.value)
    AllowedOrigin(origin="https://row.example.com", policy="partners").full_clean()


def test_pattern_row_cannot_be_trusted_for_csrf() -> None:
    row = AllowedOrigin(origin="https://*.rows.example.com", trust_for_csrf=True)

    with pytest.raises(ValidationError) as caught:
        row.full_clean()

    assert "never a *. pattern" in str(caught.value)


def test_rows_join_their_own_policy(client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://row-partner.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://row-default.example.com")
    # A policy that takes no rows, and one that is not configured: left out.
    AllowedOrigin.objects.create(origin="https://row-missing.example.com", policy="missing")
    AllowedOrigin.objects.bulk_create([AllowedOrigin(origin="https://row-gone.example.com", policy="gone")])

    def allowed(path: str, origin: str) -> bool:
        return "access-control-allow-origin" in _cors(client.get(path, headers={"Origin": origin}))

    assert allowed("/api/partner", "https://row-partner.example.net") is True
    assert allowed("/api/echo", "https://row-partner.example.net") is False
    assert allowed("/api/echo", "https://row-default.example.com") is True
    assert allowed("/api/partner", "https://row-default.example.com") is False
    assert allowed("/api/misnamed", "https://row-missing.example.com") is False
    assert allowed("/api/echo", "https://row-gone.example.com") is False
    assert get_store().get().policies["partners"].rows == 1


def test_row_trusted_for_csrf_without_trust_for_csrf_setting(settings: Any) -> None:
    AllowedOrigin.objects.create(origin="https://trusted.example.com", trust_for_csrf=True)
    AllowedOrigin.objects.create(origin="https://reader.example.com")

    snapshot = get_store().get()

    assert snapshot.trusts_for_csrf("https://trusted.example.com", "default") is True
    assert snapshot.trusts_for_csrf("https://reader.example.com", "default") is False
    assert snapshot.trusts_for_csrf(APP, "default") is False


def test_trust_for_csrf_true_keeps_trusting_every_default_row(settings: Any) -> None:
    settings.CREDCORS = {**POLICIES, "TRUST_FOR_CSRF": True}
    AllowedOrigin.objects.create(origin="https://reader.example.com")
    AllowedOrigin.objects.create(origin="https://p-row.example.net", policy="partners")

    snapshot = get_store().get()

    assert snapshot.trusts_for_csrf("https://reader.example.com", "default") is True
    assert snapshot.trusts_for_csrf(APP, "default") is True
    assert snapshot.trusts_for_csrf("https://p-row.example.net", "partners") is False
    assert snapshot.trusts_for_csrf(PARTNER, "partners") is False


# --- preflights resolve like the actual request: the path's language, request.urlconf ---------

LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"
HOST_ROUTING = "tests.host_routing.HostUrlconfMiddleware"
#: A request that leaves each language active on the thread, as LocaleMiddleware does.
LEFTOVERS = [("/de/api/status", "de"), ("/fr/api/status", "fr"), ("/api/status", "en")]


@pytest.fixture
def i18n(settings: Any) -> Iterator[None]:
    """LocaleMiddleware installed where Django's docs put it, with three languages."""
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German")]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1, LOCALE_MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    yield
    translation.deactivate()  # The next test starts with no language left on the thread.


def _answer(response: Any) -> tuple[str | None, str | None]:
    cors = _cors(response)
    return cors.get("access-control-allow-origin"), cors.get("access-control-allow-credentials")


@pytest.mark.urls("tests.urls_i18n")
@pytest.mark.usefixtures("i18n")
@pytest.mark.parametrize(("leftover", "language"), LEFTOVERS)
@pytest.mark.parametrize("path", ["/fr/api/partner", "/de/api/partner", "/api/partner"])
@pytest.mark.parametrize("origin", [PARTNER, APP])
def test_preflight_gets_the_actual_requests_policy_whatever_language_the_thread_left(
    client: Client, leftover: str, language: str, path: str, origin: str
) -> None:
    client.get(leftover)
    assert translation.get_language() == language

    preflight = send_preflight(client, path, origin, "GET")
    assert translation.get_language() == language  # Resolving in the path's language leaks nothing.
    actual = client.get(path, headers={"Origin": origin})

    assert actual.status_code == 200
    assert actual.json()["partner"] is True  # The actual request reaches the partners' view...
    assert preflight.status_code == (204 if origin == PARTNER else 403)  # ... and so does its preflight.
    assert _answer(preflight) == _answer(actual) == ((PARTNER, None) if origin == PARTNER else (None, None))


@pytest.mark.urls("tests.urls_i18n")
@pytest.mark.usefixtures("i18n")
def test_path_cache_never_pins_the_view_another_language_resolved(client: Client) -> None:
    before = get_path_policies().resolves
    answers = []

    for leftover, _ in [*LEFTOVERS, *LEFTOVERS]:
        client.get(leftover)
        answers.append(_answer(send_preflight(client, "/fr/api/partner", PARTNER, "GET")))

    assert answers == [(PARTNER, None)] * 6
    assert get_path_policies().resolves - before == 1  # The path names its language: one key, one resolve.


@pytest.mark.urls("tests.urls_i18n_prefixed")
@pytest.mark.usefixtures("i18n")
@pytest.mark.parametrize(("leftover", "language"), [("/de/api/status", "de"), ("/fr/api/status", "fr")])
@pytest.mark.parametrize("path", ["/en/api/partner", "/fr/api/partner"])
def test_preflight_follows_the_path_when_every_language_is_prefixed(
    client: Client, leftover: str, language: str, path: str
) -> None:
    client.get(leftover)
    assert translation.get_language() == language

    preflight = send_preflight(client, path, APP, "GET")
    actual = client.get(path, headers={"Origin": APP})

    assert actual.json()["partner"] is True
    assert (preflight.status_code, _answer(preflight)) == (403, _answer(actual)) == (403, (None, None))


@pytest.mark.urls("tests.urls_i18n")
@pytest.mark.usefixtures("i18n")
def test_async_preflight_resolves_in_the_paths_language(async_client: AsyncClient) -> None:
    async def leftover_then_preflight() -> Any:
        await async_client.get("/de/api/status")
        return await async_client.options(
            "/fr/api/partner", headers={"Origin": PARTNER, "Access-Control-Request-Method": "GET"}
        )

    with translation.override("de"):
        preflight = async_to_sync(leftover_then_preflight)()
        assert translation.get_language() == "de"

    assert (preflight.status_code, _answer(preflight)) == (204, (PARTNER, None))


@pytest.mark.urls("tests.urls_i18n")
def test_without_locale_middleware_preflights_resolve_in_the_threads_language(client: Client, settings: Any) -> None:
    # Nothing activates the path's language then, for the actual request either:
    # both resolve in the language the thread has, and the cache keys on it.
    settings.LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German")]
    answers = {}
    for language in ("de", "fr", "de"):
        with translation.override(language):
            preflight = send_preflight(client, "/fr/api/partner", PARTNER, "GET")
            actual = client.get("/fr/api/partner", headers={"Origin": PARTNER})
        answers[language] = (preflight.status_code, _answer(preflight), _answer(actual))

    assert answers == {"de": (403, (None, None), (None, None)), "fr": (204, (PARTNER, None), (PARTNER, None))}


@pytest.mark.urls("tests.urls_translated")
@pytest.mark.usefixtures("i18n")
@pytest.mark.parametrize(("path", "accept"), [("/api/partenaire", "fr-CH, fr;q=0.9"), ("/api/partner", "en")])
def test_preflight_to_a_translated_route_resolves_in_the_requests_language(
    client: Client, path: str, accept: str
) -> None:
    client.get("/api/echo", headers={"Accept-Language": "de"})
    assert translation.get_language() == "de"

    preflight = client.options(
        path, headers={"Origin": PARTNER, "Access-Control-Request-Method": "GET", "Accept-Language": accept}
    )
    actual = client.get(path, headers={"Origin": PARTNER, "Accept-Language": accept})

    assert actual.json()["partner"] is True
    assert (preflight.status_code, _answer(preflight)) == (204, (PARTNER, None))


@pytest.mark.urls("tests.urls_i18n_prefixed")
@pytest.mark.usefixtures("i18n")
def test_preflight_to_an_unprefixed_translated_route_beside_i18n_patterns(client: Client) -> None:
    client.get("/de/api/status")
    headers = {"Origin": PARTNER, "Accept-Language": "fr"}

    preflight = client.options(
        "/unprefixed/api/partenaire", headers={**headers, "Access-Control-Request-Method": "GET"}
    )
    actual = client.get("/unprefixed/api/partenaire", headers=headers)

    assert actual.json()["partner"] is True
    assert (preflight.status_code, _answer(preflight)) == (204, (PARTNER, None))


def test_urlconf_without_language_in_its_routes_resolves_once_in_any_language() -> None:
    cache = PathPolicies()

    for language in ("de", "fr", "en"):
        with translation.override(language):
            assert cache.policy(_request("/api/partner")) == "partners"

    assert cache.language("/api/partner") is None
    assert (cache.resolves, len(cache)) == (1, 1)


@pytest.mark.urls("tests.urls_i18n")
def test_installing_locale_middleware_is_noticed(client: Client, settings: Any) -> None:
    settings.LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German")]

    with translation.override("de"):
        before = send_preflight(client, "/fr/api/partner", PARTNER, "GET")
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOCALE_MIDDLEWARE]
        after = send_preflight(client, "/fr/api/partner", PARTNER, "GET")

    assert (before.status_code, after.status_code) == (403, 204)


class ProjectLocaleMiddleware(LocaleMiddleware):
    """A project's own LocaleMiddleware: it picks languages too."""


def test_locale_middleware_is_found_past_entries_that_are_no_middleware_class(settings: Any) -> None:
    settings.MIDDLEWARE = ["nowhere.Middleware", "tests.urls.VIEW_CALLS"]
    assert locale_middleware_installed() is False

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_routing.ProjectLocaleMiddleware"]
    assert locale_middleware_installed() is True


@pytest.mark.urls("tests.urls_i18n")
@pytest.mark.usefixtures("i18n")
def test_explain_resolves_the_path_in_its_own_language() -> None:
    from credcors.conf import get_config
    from credcors.explain import path_policy

    with translation.override("de"):
        policies = [path_policy(path, get_config())[0] for path in ("/fr/api/partner", "/api/partner", "/api/echo")]

    assert policies == ["partners", "partners", "default"]


@pytest.mark.urls("tests.urls_translated")
@pytest.mark.usefixtures("i18n")
def test_explain_resolves_a_translated_route_in_the_default_language() -> None:
    from credcors.conf import get_config
    from credcors.explain import path_policy

    with translation.override("fr"):
        policies = [path_policy(path, get_config())[0] for path in ("/api/partner", "/api/partenaire")]

    assert policies == ["partners", "default"]  # No request, so no cookie or Accept-Language: LANGUAGE_CODE.


def _host_routing(settings: Any, *, above: bool) -> None:
    middleware = list(settings.MIDDLEWARE)
    index = middleware.index("credcors.middleware.CredCorsMiddleware")
    middleware.insert(index if above else index + 1, HOST_ROUTING)
    settings.MIDDLEWARE = middleware


def _partner_host(client: Client, method: str = "get") -> Any:
    headers = {"Origin": PARTNER, "Host": PARTNER_HOST}
    if method == "options":
        headers["Access-Control-Request-Method"] = "GET"
    return getattr(client, method)("/api/partner", headers=headers)


@pytest.mark.urls("tests.urls")
def test_host_routing_above_credcors_routes_the_preflight_too(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _host_routing(settings, above=True)

    preflight = _partner_host(client, "options")
    actual = _partner_host(client)

    assert (preflight.status_code, _answer(preflight)) == (204, (PARTNER, None))
    assert (actual.status_code, _answer(actual)) == (200, (PARTNER, None))
    assert [r for r in caplog.records if r.name == "credcors"] == []


@pytest.mark.urls("tests.urls")
def test_host_routing_below_credcors_is_logged_once(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _host_routing(settings, above=False)
    log.reset_rate_limits()
    caplog.set_level(logging.WARNING, logger="credcors")

    # credcors answers the preflight before the host routing runs: ROOT_URLCONF has no
    # partners' view there, so the preflight and the actual request disagree.
    preflight = _partner_host(client, "options")
    actuals = [_partner_host(client) for _ in range(3)]
    client.get("/api/echo", headers={"Origin": APP})  # Another host: no URLconf of its own.

    assert (preflight.status_code, _answer(preflight)) == (403, (None, None))
    assert [_answer(actual) for actual in actuals] == [(PARTNER, None)] * 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "credcors" and r.levelno == logging.WARNING]
    assert warnings == [
        "credcors: a middleware below credcors.middleware.CredCorsMiddleware in MIDDLEWARE set request.urlconf "
        'to "tests.urls_policies"; preflights, which credcors answers before that middleware runs, resolve their '
        'view in "tests.urls" instead, so their CORS policy can differ from the actual request\'s. '
        "Move the middleware that sets request.urlconf above credcors in MIDDLEWARE (credcors.W011)."
    ]


@pytest.mark.urls("tests.urls")
def test_async_host_routing_below_credcors_is_logged(
    async_client: AsyncClient, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _host_routing(settings, above=False)
    log.reset_rate_limits()
    caplog.set_level(logging.WARNING, logger="credcors")

    settings.USE_X_FORWARDED_HOST = True  # The async test client's Host is always testserver.

    actual = async_to_sync(async_client.get)(
        "/api/partner", headers={"Origin": PARTNER, "X-Forwarded-Host": PARTNER_HOST}
    )

    assert _answer(actual) == (PARTNER, None)
    assert ["request.urlconf" in r.getMessage() for r in caplog.records if r.name == "credcors"] == [True]


@pytest.mark.urls("tests.urls")
def test_middleware_setting_the_root_urlconf_below_credcors_is_not_logged(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # django-hosts sets request.urlconf for every host, the default one to ROOT_URLCONF: no difference there.
    monkeypatch.setattr(host_routing, "PARTNER_URLCONF", "tests.urls")
    _host_routing(settings, above=False)
    log.reset_rate_limits()
    caplog.set_level(logging.WARNING, logger="credcors")

    _partner_host(client)

    assert [r for r in caplog.records if r.name == "credcors"] == []
