from django.urls import path

from ingest.consumer import IngestConsumer

websocket_urlpatterns = [path("ws/ingest/", IngestConsumer.as_asgi())]
