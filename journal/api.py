"""The REST API for a phone app: workouts, sets (read, correct), devices. Every query starts
from the requesting user's own rows, so another user's object answers 404."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ingest.models import Device
from journal.filters import ExerciseSetFilter, WorkoutFilter
from journal.models import ExerciseSet, Workout
from journal.serializers import DeviceSerializer, ExerciseSetSerializer, WorkoutSerializer


class OwnRowsViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Read and update the requesting user's rows of `queryset` (reached through `owner_field`)."""

    owner_field = "owner"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a user
            return self.queryset.none()
        return self.queryset.filter(**{self.owner_field: self.request.user})


class WorkoutViewSet(OwnRowsViewSet):
    """Your workouts, newest first, each with its sets. PATCH changes the notes."""

    queryset = (Workout.objects.select_related("recording__device")
                .prefetch_related(Prefetch("sets", queryset=ExerciseSet.objects.select_related("exercise").order_by("ordinal")))
                .order_by("-started_at"))
    serializer_class = WorkoutSerializer
    filterset_class = WorkoutFilter


class ExerciseSetViewSet(OwnRowsViewSet):
    """Your sets, filtered by exercise, date range, reps range, source. PATCH `exercise` or
    `reps` to correct a set: it becomes a label that the machine never overwrites."""

    queryset = ExerciseSet.objects.select_related("exercise", "workout").order_by("-workout__started_at", "ordinal")
    owner_field = "workout__owner"
    serializer_class = ExerciseSetSerializer
    filterset_class = ExerciseSetFilter


class DeviceViewSet(OwnRowsViewSet):
    """Your watches. POST adds one and answers its token, once; PATCH renames; revoke stops its token."""

    queryset = Device.objects.order_by("name")
    serializer_class = DeviceSerializer

    @extend_schema(responses={201: inline_serializer("NewDevice", {"id": serializers.IntegerField(),
                                                                    "name": serializers.CharField(),
                                                                    "token": serializers.CharField()})})
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, token = Device.create_with_token(owner=request.user, name=serializer.validated_data["name"])
        return Response({"id": device.id, "name": device.name, "token": token}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        device = self.get_object()
        if device.revoked_at is None:
            device.revoke()
        return Response(self.get_serializer(device).data)
