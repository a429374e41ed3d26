"""The REST API for a phone app: workouts, sets (read, search, correct, split, merge, delete),
progress stats, devices. Every query starts from the requesting user's own rows, so another
user's object answers 404."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ingest.models import Device
from journal import corrections, stats
from journal.filters import DeviceFilter, ExerciseSetFilter, WorkoutFilter
from journal.models import Exercise, ExerciseSet, Workout
from journal.serializers import (DeviceSerializer, ExerciseSetSerializer, ExerciseStatsSerializer, ProgressQuerySerializer,
                                 RecordSerializer, SplitSerializer, WeekSerializer, WorkoutSerializer)


class OwnRowsViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Read and update the requesting user's rows of `queryset` (each has an `owner`)."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a user
            return self.queryset.none()
        return self.queryset.filter(owner=self.request.user)


class WorkoutViewSet(OwnRowsViewSet):
    """Your workouts, newest first, each with its sets. PATCH changes the notes."""

    queryset = (Workout.objects.select_related("recording__device")
                .prefetch_related(Prefetch("sets", queryset=ExerciseSet.objects.select_related("exercise").order_by("ordinal")))
                .order_by("-started_at"))
    serializer_class = WorkoutSerializer
    filterset_class = WorkoutFilter


class ExerciseSetViewSet(mixins.DestroyModelMixin, OwnRowsViewSet):
    """Your sets, searched by exercise, date range, reps range, words in the notes (`q`), source.
    PATCH `exercise`, `reps`, `weight_kg` or `notes` to correct a set, or split, merge or delete
    it: every change becomes a label that the machine never overwrites."""

    queryset = ExerciseSet.objects.newest_first()
    serializer_class = ExerciseSetSerializer
    filterset_class = ExerciseSetFilter

    def perform_destroy(self, instance):
        corrections.delete(instance.pk, self.request.user)

    @extend_schema(request=SplitSerializer, responses={200: ExerciseSetSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        """Two sets meeting at `at_s`; the repetitions go to the side they fell on."""
        exercise_set = self.get_object()
        params = SplitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            halves = corrections.split(exercise_set.pk, request.user, params.validated_data["at_s"])
        except corrections.CorrectionError as error:
            raise exceptions.ValidationError({"at_s": [str(error)]}) from None
        return Response(self.get_serializer(halves, many=True).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """This set and the next one become one."""
        exercise_set = self.get_object()
        try:
            merged = corrections.merge_with_next(exercise_set.pk, request.user)
        except corrections.CorrectionError as error:
            raise exceptions.ValidationError({"detail": str(error)}) from None
        return Response(self.get_serializer(merged).data)


class StatsViewSet(viewsets.GenericViewSet):
    """Progress: your exercises with their totals (most sets first); per exercise the weekly
    sets, reps and volume over the last `weeks` weeks and the personal records."""

    serializer_class = ExerciseStatsSerializer
    queryset = Exercise.objects.all()  # the shared vocabulary; every figure is the requester's own
    lookup_field = "slug"

    def list(self, request):
        page = self.paginate_queryset(stats.exercise_totals(request.user))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[ProgressQuerySerializer],
                   responses=inline_serializer("ExerciseProgress", {"exercise": serializers.CharField(),
                                                                     "weeks": WeekSerializer(many=True),
                                                                     "records": RecordSerializer(many=True)}))
    def retrieve(self, request, slug=None):
        exercise = self.get_object()
        query = ProgressQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        weeks = query.validated_data["weeks"]
        today = timezone.localdate()
        progress = stats.weekly(request.user, exercise.slug, today - timedelta(weeks=weeks - 1), today)
        return Response({"exercise": exercise.slug,
                         "weeks": WeekSerializer([w for w in progress if w.sets], many=True).data,
                         "records": RecordSerializer(stats.records(request.user, exercise.slug), many=True).data})


class DeviceViewSet(OwnRowsViewSet):
    """Your watches. POST adds one and answers its token, once; PATCH renames; revoke stops its token."""

    queryset = Device.objects.order_by("name")
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter

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
