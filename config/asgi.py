"""ASGI entry point: HTTP goes to Django but for the devices' push door; WebSockets to the
Channels routes."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before the consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from config.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402

# Django's import-time objects live for the whole process: frozen, the collector's full
# passes no longer walk them (shorter pauses under a thousand watches).
gc.freeze()

application = ProtocolTypeRouter(
    {
        "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
