"""``credcors.websocket.OriginValidator``: handshakes decided by the same allow-list as HTTP (issue #23)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from credcors.models import AllowedOrigin, RefusedOrigin
from credcors.refused.flush import get_refused_log
from credcors.websocket import OriginValidator
from tests.conftest import Clock, Timers

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
EVIL = "https://evil.example.com"
PARTNER = "https://partner.example.net"


class Recorder:
    """An ASGI application that accepts every socket and records each scope it was called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(dict(scope))
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        else:
            await send({"type": "lifespan.startup.complete"})


def _scope(origin: str | None = None, *, headers: list[tuple[bytes, bytes]] | None = None, **extra: Any) -> Any:
    if headers is None:
        headers = [(b"host", b"api.example.com")]
        if origin is not None:
            headers.append((b"origin", origin.encode("latin-1")))
    return {"type": "websocket", "path": "/ws/chat/", "headers": headers, "subprotocols": [], **extra}


def _handshake(validator: OriginValidator, scope: Any) -> dict[str, Any]:
    """The first message the application (or the validator) sends for a ``websocket.connect``."""

    async def run() -> dict[str, Any]:
        communicator = ApplicationCommunicator(validator, scope)
        await communicator.send_input({"type": "websocket.connect"})
        message: dict[str, Any] = await communicator.receive_output(timeout=5)
        if message["type"] == "websocket.http.response.start":
            body = await communicator.receive_output(timeout=5)
            message["body"] = body["body"]
        await communicator.wait(timeout=5)
        return message

    return async_to_sync(run)()


def _connects(origin: str | None, policy: str = "default", **scope: Any) -> bool:
    app = Recorder()
    message = _handshake(OriginValidator(app, policy=policy), _scope(origin, **scope))
    accepted = message["type"] == "websocket.accept"
    # A refused socket never reaches the application.
    assert bool(app.calls) is accepted
    return accepted


def _at(clock: Clock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.wall() + seconds, tz=timezone.utc)


# -- The rules of HTTP ------------------------------------------------------------------


def test_listed_origin_reaches_the_application_unchanged() -> None:
    app = Recorder()
    scope = _scope(APP)

    assert _handshake(OriginValidator(app), scope) == {"type": "websocket.accept"}
    assert app.calls == [scope]


def test_unlisted_origin_is_refused_with_close_1008_and_app_never_called() -> None:
    app = Recorder()

    message = _handshake(OriginValidator(app), _scope(EVIL))

    assert message == {"type": "websocket.close", "code": 1008}
    assert app.calls == []


def test_unlisted_origin_gets_403_when_the_server_can_send_one() -> None:
    app = Recorder()
    scope = _scope(EVIL, extensions={"websocket.http.response": {}})

    message = _handshake(OriginValidator(app), scope)

    assert message["type"] == "websocket.http.response.start"
    assert message["status"] == 403
    assert message["body"]
    assert app.calls == []


def test_pattern_origin_connects_and_its_apex_does_not() -> None:
    assert _connects("https://shop.example.org")
    assert not _connects("https://example.org")


def test_origin_is_compared_exactly() -> None:
    assert not _connects("http://app.example.com")
    assert not _connects("https://app.example.com:8443")
    assert not _connects("https://app.example.com.evil.example")


def test_null_and_malformed_origins_are_refused() -> None:
    assert not _connects("null")
    assert not _connects("https://app.example.com/")
    assert not _connects("x" * 5000)


def test_two_origin_headers_are_refused_even_if_each_is_listed() -> None:
    headers = [(b"origin", APP.encode()), (b"origin", APP.encode())]

    assert not _connects(None, headers=headers)


def test_database_row_connects(clock: Clock) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    assert _connects(PARTNER)


def test_disabled_row_is_refused_after_the_refresh(clock: Clock) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _connects(PARTNER)
    AllowedOrigin.objects.filter(origin=PARTNER).update(enabled=False)

    clock.advance(5)

    assert not _connects(PARTNER)


def test_expired_row_is_refused_at_its_expiry(clock: Clock, settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "REFRESH_SECONDS": 3600}
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=_at(clock, 10))
    assert _connects(PARTNER)

    clock.advance(10.1)

    assert not _connects(PARTNER)


def test_validator_policy_picks_the_list(settings: Any) -> None:
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": True}},
    }

    assert _connects(PARTNER, policy="partners")
    assert not _connects(APP, policy="partners")
    assert not _connects(PARTNER)


def test_unknown_policy_refuses_every_origin() -> None:
    assert not _connects(APP, policy="nosuch")


def test_allow_all_policy_connects_any_origin_but_null(settings: Any) -> None:
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}},
    }

    assert _connects(EVIL, policy="public")
    assert not _connects("null", policy="public")


def test_localhost_any_port_follows_debug(settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "ALLOWED_ORIGINS": ["http://localhost:*"]}
    settings.DEBUG = False
    assert not _connects("http://localhost:5173")

    settings.DEBUG = True
    assert _connects("http://localhost:5173")


# -- Without Origin -------------------------------------------------------------------


def test_missing_origin_is_refused_by_default() -> None:
    assert not _connects(None)


def test_missing_origin_setting_lets_non_browser_clients_in(settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "WEBSOCKET_ALLOW_NO_ORIGIN": True}

    assert _connects(None)
    # It says nothing about browsers, which always send Origin.
    assert not _connects(EVIL)


def test_missing_origin_setting_is_per_policy(settings: Any) -> None:
    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"devices": {"ALLOWED_ORIGINS": [PARTNER], "WEBSOCKET_ALLOW_NO_ORIGIN": True}},
    }

    assert _connects(None, policy="devices")
    assert not _connects(None)


def test_missing_origin_setting_not_a_bool_refuses(settings: Any) -> None:
    from credcors.conf import get_config

    settings.CREDCORS = {**settings.CREDCORS, "WEBSOCKET_ALLOW_NO_ORIGIN": "yes"}

    assert not _connects(None)
    assert "credcors.E015" in {problem.id for problem in get_config().problems}


# -- Other scopes ---------------------------------------------------------------------


def test_http_scope_passes_through_untouched() -> None:
    app = Recorder()
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"origin", EVIL.encode())]}

    async def run() -> list[dict[str, Any]]:
        communicator = ApplicationCommunicator(OriginValidator(app), scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        messages = [await communicator.receive_output(timeout=5), await communicator.receive_output(timeout=5)]
        await communicator.wait(timeout=5)
        return messages

    messages = async_to_sync(run)()

    assert messages[0]["status"] == 200
    assert app.calls == [scope]


def test_lifespan_scope_passes_through_untouched() -> None:
    app = Recorder()
    scope = {"type": "lifespan"}

    async def run() -> dict[str, Any]:
        communicator = ApplicationCommunicator(OriginValidator(app), scope)
        await communicator.send_input({"type": "lifespan.startup"})
        message: dict[str, Any] = await communicator.receive_output(timeout=5)
        await communicator.wait(timeout=5)
        return message

    assert async_to_sync(run)() == {"type": "lifespan.startup.complete"}
    assert app.calls == [scope]


# -- Cost -------------------------------------------------------------------------------


def test_warm_handshake_makes_no_query(clock: Clock, django_assert_num_queries: Any) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    assert _connects(PARTNER)

    with django_assert_num_queries(0):
        assert _connects(PARTNER)
        assert _connects(APP)
        assert not _connects(EVIL)
        assert not _connects(None)


def test_first_handshake_loads_rows_off_the_event_loop(clock: Clock) -> None:
    import asyncio

    from django.db import connection

    on_loop: list[bool] = []

    def probe(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if AllowedOrigin._meta.db_table in sql:
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:
                on_loop.append(False)
        return execute(sql, params, many, context)

    AllowedOrigin.objects.create(origin=PARTNER)
    with connection.execute_wrapper(probe):
        assert _connects(PARTNER)

    assert on_loop
    assert not any(on_loop)


# -- Diagnostics --------------------------------------------------------------------------


def test_refusal_is_logged_quoted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="credcors")

    assert not _connects("https://evil.example.com\x1b[2J")

    lines = [record.getMessage() for record in caplog.records if record.name == "credcors"]
    assert any("refused" in line and "/ws/chat/" in line for line in lines)
    assert not any("\x1b" in line for line in lines)


def test_refusal_is_recorded_with_its_path(settings: Any, refused_timers: Timers) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "RECORD_REFUSED": True}

    assert not _connects(EVIL)
    assert not _connects(None)
    get_refused_log().flush()

    row = RefusedOrigin.objects.get()
    assert (row.origin, row.last_path, row.policy) == (EVIL, "/ws/chat/", "default")


# -- The system check -----------------------------------------------------------------------


def _w012() -> list[str]:
    from credcors.checks import check_websocket_origins

    return [message.id or "" for message in check_websocket_origins()]


@pytest.mark.parametrize("name", ["guarded", "guarded_inside", "channels_guarded", "http_only"])
def test_check_is_quiet_when_sockets_are_validated_or_absent(settings: Any, name: str) -> None:
    settings.ASGI_APPLICATION = f"tests.ws_apps.{name}"

    assert _w012() == []


def test_check_warns_when_sockets_have_no_validator(settings: Any) -> None:
    settings.ASGI_APPLICATION = "tests.ws_apps.unguarded"

    assert _w012() == ["credcors.W012"]


def test_check_is_quiet_without_asgi_application_or_channels(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    settings.ASGI_APPLICATION = None
    assert _w012() == []

    settings.ASGI_APPLICATION = "tests.ws_apps.unguarded"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "channels" else real(name, *a))
    assert _w012() == []


def test_check_is_registered_and_silenced_by_its_id(settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.ASGI_APPLICATION = "tests.ws_apps.unguarded"
    with pytest.raises(SystemCheckError, match=r"credcors\.W012"):
        call_command("check", "--fail-level", "WARNING")

    settings.SILENCED_SYSTEM_CHECKS = ["credcors.W012"]
    call_command("check", "--fail-level", "WARNING")


def _w013(settings: Any) -> list[str]:
    from credcors.checks import check_websocket_allow_all

    settings.CREDCORS = {
        **settings.CREDCORS,
        "POLICIES": {"open": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}},
    }
    return [message.id or "" for message in check_websocket_allow_all()]


@pytest.mark.parametrize("name", ["open_over_cookies", "cookies_over_open", "open_one_route_with_cookies"])
def test_check_warns_when_an_allow_all_policy_guards_cookie_authenticated_sockets(settings: Any, name: str) -> None:
    settings.ASGI_APPLICATION = f"tests.ws_apps.{name}"

    assert _w013(settings) == ["credcors.W013"]


@pytest.mark.parametrize(
    "name", ["open_without_cookies", "open_over_listed", "listed_over_open", "guarded", "unguarded", "http_only"]
)
def test_allow_all_check_is_quiet_without_cookies_or_an_open_policy(settings: Any, name: str) -> None:
    # "guarded" reads cookies behind the default policy, which lists its origins.
    settings.ASGI_APPLICATION = f"tests.ws_apps.{name}"

    assert _w013(settings) == []


def test_allow_all_check_names_the_policy_and_is_silenced_by_its_id(settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from credcors.checks import check_websocket_allow_all

    settings.ASGI_APPLICATION = "tests.ws_apps.open_over_cookies"
    _w013(settings)
    (message,) = check_websocket_allow_all()
    assert "OriginValidator(policy='open')" in message.msg
    assert "ALLOW_ALL_ORIGINS" in message.msg
    with pytest.raises(SystemCheckError, match=r"credcors\.W013"):
        call_command("check", "--fail-level", "WARNING")

    settings.SILENCED_SYSTEM_CHECKS = ["credcors.W013"]
    call_command("check", "--fail-level", "WARNING")


# -- explain --websocket ------------------------------------------------------------------------


def _explain(*args: str) -> tuple[int, str]:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("credcors", "explain", *args, stdout=out)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_explain_websocket_answers_as_the_validator(settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {"partners": {"ALLOWED_ORIGINS": [PARTNER]}}}

    code, text = _explain(APP, "--websocket", "--path", "/ws/chat/")
    assert code == 0
    assert 'WebSocket handshake to "/ws/chat/"' in text
    assert "without Origin (never a browser's) is refused" in text

    assert _explain(EVIL, "--websocket")[0] == 1
    assert _explain(PARTNER, "--websocket", "--policy", "partners")[0] == 0
    assert _explain(PARTNER, "--websocket")[0] == 1


def test_explain_websocket_ignores_method_and_headers() -> None:
    code, text = _explain(APP, "--websocket", "--method", "PUT", "--header", "x-not-allowed")

    assert code == 0
    assert "preflight" in text


def test_check_warns_when_the_wrappers_go_round_in_a_cycle(settings: Any) -> None:
    # Following application/inner/app attributes is bounded: a cycle is not validated.
    settings.ASGI_APPLICATION = "tests.ws_apps.looped"

    assert _w012() == ["credcors.W012"]


def test_check_is_quiet_when_the_asgi_application_does_not_import(settings: Any) -> None:
    settings.ASGI_APPLICATION = "tests.ws_apps.no_such_application"

    assert _w012() == []


def test_a_client_gone_before_the_handshake_gets_nothing_and_reaches_no_app() -> None:
    called: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope)

    async def run() -> bool:
        communicator = ApplicationCommunicator(OriginValidator(app), _scope(EVIL))
        await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
        await communicator.wait(timeout=5)
        nothing: bool = await communicator.receive_nothing()
        return nothing

    assert async_to_sync(run)()
    assert called == []


# -- Rows scoped to hosts (issue 24) ----------------------------------------------------


def test_scoped_row_connects_on_its_host_only(clock: Clock, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["api.customer-a.com", "api.customer-b.com"]
    AllowedOrigin.objects.create(origin=PARTNER, hosts="api.customer-a.com")

    def on(host: bytes) -> list[tuple[bytes, bytes]]:
        return [(b"host", host), (b"origin", PARTNER.encode())]

    assert _connects(PARTNER, headers=on(b"api.customer-a.com:443"))
    assert not _connects(PARTNER, headers=on(b"api.customer-b.com"))
    # A Host that ALLOWED_HOSTS refuses reaches no grant, scoped or not.
    AllowedOrigin.objects.create(origin=APP)
    assert _connects(APP, headers=[(b"host", b"api.customer-b.com"), (b"origin", APP.encode())])
    assert not _connects(APP, headers=[(b"host", b"evil.net"), (b"origin", APP.encode())])
