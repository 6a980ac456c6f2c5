"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skilllink.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from skilllink.routing import websocket_urlpatterns  # noqa: E402
from skilllink.wiring.periodic import InProcessJobs  # noqa: E402
from skilllink.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402

application = InProcessJobs(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)
