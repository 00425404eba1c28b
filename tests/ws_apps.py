"""ASGI applications for the WebSocket system checks (credcors.W012, W013): guarded, unguarded, none, open."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.sessions import SessionMiddlewareStack
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

# W013: validators of the policy "open" (ALLOW_ALL_ORIGINS in the tests' settings).
open_over_cookies = ProtocolTypeRouter(
    {"http": http_app, "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(_sockets)), policy="open")}
)
cookies_over_open = ProtocolTypeRouter(
    {"http": http_app, "websocket": SessionMiddlewareStack(OriginValidator(URLRouter(_sockets), policy="open"))}
)
# One route of the router reads cookies, deep inside: still found.
open_one_route_with_cookies = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": OriginValidator(
            URLRouter(
                [
                    path("ws/public/", AsyncWebsocketConsumer.as_asgi()),
                    path("ws/private/", AuthMiddlewareStack(URLRouter(_sockets))),
                ]
            ),
            policy="open",
        ),
    }
)
# Another validator on the route lists its origins: refused pages stop there, whichever side it is on.
open_over_listed = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": OriginValidator(OriginValidator(AuthMiddlewareStack(URLRouter(_sockets))), policy="open"),
    }
)
listed_over_open = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(OriginValidator(URLRouter(_sockets), policy="open"))
        ),
    }
)
open_without_cookies = ProtocolTypeRouter(
    {"http": http_app, "websocket": OriginValidator(URLRouter(_sockets), policy="open")}
)


class _Loop:
    """A wrapper that wraps itself: the check must stop following it, and warn."""

    def __init__(self) -> None:
        self.app = self


looped = ProtocolTypeRouter({"http": http_app, "websocket": _Loop()})
