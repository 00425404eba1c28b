"""A WebSocket that needs the user's session cookie: it sends the logged-in user's name."""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncWebsocketConsumer

logger = logging.getLogger(__name__)


class WhoAmI(AsyncWebsocketConsumer):
    """``/ws/whoami/``: accepts, sends the user's name (empty when nobody is logged in), and stays open.

    It runs only for handshakes ``credcors.websocket.OriginValidator`` let
    through; the log line is how you (and the browser tests) see that it ran.
    """

    async def connect(self) -> None:
        user = self.scope["user"]
        name = user.get_username() if user.is_authenticated else ""
        origin = dict(self.scope["headers"]).get(b"origin", b"").decode("latin-1")
        logger.info("whoami socket opened from %r for %r", origin, name)
        await self.accept()
        await self.send(text_data=name)
