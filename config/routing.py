from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from ingest.consumer import IngestConsumer
from ingest.push_door import PUSH_PATH, SensorLoggerPushDoor
from web.consumers import LiveWorkoutConsumer

websocket_urlpatterns = [
    # Watches authenticate with their device token; browsers with their session cookie, from our own pages only.
    path("ws/ingest/", IngestConsumer.as_asgi()),
    path("ws/workouts/<uuid:recording_id>/", AllowedHostsOriginValidator(AuthMiddlewareStack(LiveWorkoutConsumer.as_asgi()))),
]

# Devices' HTTP door, ahead of Django's middleware (ingest/push_door.py says why).
http_urlpatterns = [
    path(PUSH_PATH, SensorLoggerPushDoor()),
]
