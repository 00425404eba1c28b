"""The example project as ASGI: Django for HTTP, Channels for ``/ws/whoami/``, behind credcors' OriginValidator.

``python3 dev.py demo`` serves this with daphne.  The two lines that matter
are the ``"websocket"`` entry: the same allow-list as CORS (the admin's rows,
settings, expiry) decides which pages may open the socket.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
django_asgi_app = get_asgi_application()

# After the apps are loaded: the consumer imports the auth models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from credcors.websocket import OriginValidator  # noqa: E402
from example_project.api.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
