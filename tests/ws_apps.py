"""ASGI applications for the WebSocket system check (credcors.W012): guarded, unguarded, none."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from credcors.websocket import OriginValidator


async def http_app(scope: Any, receive: Any, send: Any) -> None:
    """Never called: the check only looks at the routing."""


_sockets = [path("ws/chat/", AsyncWebsocketConsumer.as_asgi())]

unguarded = ProtocolTypeRouter({"http": http_app, "websocket": AuthMiddlewareStack(URLRouter(_sockets))})
guarded = ProtocolTypeRouter({"http": http_app, "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(_sockets)))})
guarded_inside = ProtocolTypeRouter(
    {"http": http_app, "websocket": AuthMiddlewareStack(OriginValidator(URLRouter(_sockets)))}
)
channels_guarded = ProtocolTypeRouter(
    {"http": http_app, "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(_sockets)))}
)
http_only = ProtocolTypeRouter({"http": http_app})


class _Loop:
    """A wrapper that wraps itself: the check must stop following it, and warn."""

    def __init__(self) -> None:
        self.app = self


looped = ProtocolTypeRouter({"http": http_app, "websocket": _Loop()})
