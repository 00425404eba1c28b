"""The WebSocket browser test's ASGI application: real Channels routing behind ``OriginValidator``."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from credcors.websocket import OriginValidator  # noqa: E402

urlpatterns: list[Any] = []


class WhoAmI(AsyncWebsocketConsumer):
    """Records that it ran, then sends the logged-in user's name."""

    async def connect(self) -> None:
        with open(os.environ["CREDCORS_WS_RAN"], "a") as ran:
            ran.write(f"{self.scope['path']}\n")
        await self.accept()
        user = self.scope["user"]
        await self.send(text_data=user.get_username() if user.is_authenticated else "")


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter([path("ws/whoami/", WhoAmI.as_asgi())]))),
    }
)
