from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from config.health import healthz
from journal.api import (DeviceViewSet, ExerciseSetViewSet, RecordingLabelsView, RecordingSignalView, StatsViewSet,
                         WorkoutViewSet)

api = DefaultRouter()
api.register("workouts", WorkoutViewSet, basename="workout")
api.register("sets", ExerciseSetViewSet, basename="set")
api.register("devices", DeviceViewSet, basename="device")
api.register("stats", StatsViewSet, basename="stats")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Browsers and tools ask for it whatever the page's <link rel="icon"> says.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("web/icon.svg"), permanent=True)),
    path("api/", include(api.urls)),
    path("api/token/", obtain_auth_token, name="api-token"),
    path("api/recordings/<uuid:recording_id>/signal/", RecordingSignalView.as_view(), name="recording-signal"),
    path("api/recordings/<uuid:recording_id>/labels/", RecordingLabelsView.as_view(), name="recording-labels"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("web.urls")),
]
