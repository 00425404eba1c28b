"""The example project's WebSocket routes (Channels), wrapped by credcors' OriginValidator in ``asgi.py``."""

from __future__ import annotations

from django.urls import path

from example_project.api.consumers import WhoAmI

websocket_urlpatterns = [path("ws/whoami/", WhoAmI.as_asgi())]
