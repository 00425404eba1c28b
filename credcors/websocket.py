"""The ASGI adapter for WebSocket handshakes: the allow-list guards sockets too.

CORS does not protect WebSockets: a page on any site may open a socket to
the API, and the browser sends the user's cookies with the handshake
(cross-site WebSocket hijacking, issue #23).  The only defence is the
handshake's ``Origin``, which browsers always send.  :class:`OriginValidator`
decides it with the same snapshot, the same :func:`~credcors.core.decide.decide`
and the same policy as an HTTP ``GET`` would get, so one list serves both.
Plain ASGI: Django Channels is not needed, but it wraps Channels' routers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from credcors.conf import get_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Decision, Reason
from credcors.core.snapshot import Snapshot
from credcors.hosting import header_host
from credcors.log import log_refusal
from credcors.refused.flush import get_refused_log
from credcors.store.current import get_store

__all__ = ["OriginValidator", "allows_no_origin", "decide_handshake"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Application = Callable[[Scope, Receive, Send], Awaitable[None]]

_ORIGIN = b"origin"
# The ASGI extension that lets a server answer a handshake with an HTTP
# response instead of a bare close (daphne and uvicorn support it).
_HTTP_RESPONSE = "websocket.http.response"
# RFC 6455 §7.4.1: 1008, "policy violation".
_POLICY_VIOLATION = 1008
_BODY = b"Origin not allowed.\n"


def decide_handshake(
    snapshot: Snapshot, origin: str | None, policy: str = DEFAULT_POLICY, host: str | None = None
) -> Decision:
    """Decide a WebSocket handshake: the answer an HTTP ``GET`` from ``origin`` gets under ``policy``.

    ``origin`` is ``None`` when the handshake has none, which this refuses
    (a decision with reason ``no-origin``) unless the policy's
    ``WEBSOCKET_ALLOW_NO_ORIGIN`` says otherwise; the caller checks that.
    ``host`` is the handshake's host as :func:`~credcors.core.decide.decide` takes
    it.  The one place the validator and ``credcors explain --websocket`` ask.
    """
    return decide(snapshot, "GET", origin, None, None, policy, host)


def allows_no_origin(policy: str) -> bool:
    """Whether ``policy`` lets a handshake without ``Origin`` through (``WEBSOCKET_ALLOW_NO_ORIGIN``)."""
    config = get_config().policy(policy)
    return config is not None and config.websocket_allow_no_origin


class OriginValidator:
    """Refuse WebSocket handshakes whose ``Origin`` the allow-list does not allow.

    Wrap the ``"websocket"`` application of ``asgi.py``, outside any
    authentication middleware, so a refused socket never reaches a consumer::

        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),

    ``policy`` names the list (a policy of ``CREDCORS["POLICIES"]``, or
    ``"default"``).  ``http`` and ``lifespan`` scopes pass through untouched.
    """

    def __init__(self, application: Application, policy: str = DEFAULT_POLICY) -> None:
        self.application = application
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return await self.application(scope, receive, send)
        headers = scope.get("headers", ())
        origin = _origin(headers)
        # aget() never blocks the loop: a due refresh starts in the
        # background, and only a process's very first load waits, in a thread.
        snapshot = await get_store().aget()
        host = header_host(headers)
        decision = decide_handshake(snapshot, origin, self.policy, host)
        if decision.allowed or (origin is None and allows_no_origin(self.policy)):
            return await self.application(scope, receive, send)
        path = str(scope.get("path", ""))
        _report_refusal(decision, origin, path, self.policy, host)
        await _refuse(scope, receive, send)


def _origin(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    values = [value for name, value in headers if name.lower() == _ORIGIN]
    if not values:
        return None
    # Two Origin headers are no browser's: joined, decide() refuses them as
    # multiple origins, as it does for HTTP.  Latin-1 maps every byte, so a
    # hostile value reaches the decision (and the quoted log) as sent.
    return ", ".join(value.decode("latin-1") for value in values)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    # ASGI: the first event of a socket is websocket.connect; answering it
    # before websocket.accept rejects the handshake.  Channels' validators
    # send websocket.close here, which servers turn into HTTP 403; with the
    # http.response extension the 403 says so itself.
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # The client went away before the handshake finished.
    if _HTTP_RESPONSE in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(_BODY))],
            }
        )
        await send({"type": "websocket.http.response.body", "body": _BODY})
        return
    await send({"type": "websocket.close", "code": _POLICY_VIOLATION})


def _report_refusal(decision: Decision, origin: str | None, path: str, policy: str, host: str | None) -> None:
    if origin is None:
        # Nothing a staff member could allow; logged like a refused request.
        log_refusal(decision, "", path)
        return
    log_refusal(decision, origin, path)
    refused = get_config().refused
    if refused.record and decision.reason is Reason.ORIGIN_NOT_ALLOWED:
        # Counted in memory (no I/O on the loop); the refused log's thread
        # writes RefusedOrigin, so staff can allow the origin in one click,
        # on the host the handshake was sent to.
        get_refused_log().record(origin, path, policy, refused, serialized=True, host=host)
