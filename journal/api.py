"""The REST API for a phone app: workouts, sets (read, search, correct, split, merge, delete),
progress stats, devices. Every query starts from the requesting user's own rows, so another
user's object answers 404."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, status, views, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from classifier.preprocessing import resample
from ingest.models import DamagedArchive, Device, Recording
from journal import set_changes, stats
from journal.filters import DeviceFilter, ExerciseSetFilter, WorkoutFilter
from journal.models import Exercise, ExerciseSet, Workout
from journal.serializers import (
    DeviceSerializer,
    ExerciseSetSerializer,
    ExerciseStatsSerializer,
    ProgressQuerySerializer,
    RecordingLabelsSerializer,
    RecordSerializer,
    SplitSerializer,
    WeekSerializer,
    WorkoutSerializer,
)


class OwnRowsViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Read and update the requesting user's rows of `queryset` (each has an `owner`)."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a user
            return self.queryset.none()
        return self.queryset.filter(owner=self.request.user)


class WorkoutViewSet(OwnRowsViewSet):
    """Your workouts, newest first, each with its sets. PATCH changes the notes."""

    queryset = (Workout.objects.select_related("recording__device")
                .prefetch_related(Prefetch("sets", queryset=ExerciseSet.objects.select_related("exercise", "labelled_by").order_by("ordinal")))
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
        set_changes.delete(instance.pk, self.request.user)

    @extend_schema(request=SplitSerializer, responses={200: ExerciseSetSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        """Two sets meeting at `at_s`; the repetitions go to the side they fell on."""
        exercise_set = self.get_object()
        params = SplitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            halves = set_changes.split(exercise_set.pk, request.user, params.validated_data["at_s"])
        except set_changes.CorrectionError as error:
            raise exceptions.ValidationError({"at_s": [str(error)]}) from None
        return Response(self.get_serializer(halves, many=True).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """This set and the next one become one."""
        exercise_set = self.get_object()
        try:
            merged = set_changes.merge_with_next(exercise_set.pk, request.user)
        except set_changes.CorrectionError as error:
            raise exceptions.ValidationError({"detail": str(error)}) from None
        return Response(self.get_serializer(merged).data)


class StatsViewSet(viewsets.GenericViewSet):
    """Progress: your exercises with their totals (most sets first); per exercise the weekly
    sets, reps and volume over the last `weeks` weeks and the personal records."""

    serializer_class = ExerciseStatsSerializer
    queryset = Exercise.objects.all()  # the shared vocabulary; every figure is the requester's own
    lookup_field = "slug"

    @extend_schema(parameters=[OpenApiParameter(name, str, description="as on /api/sets/") for name in
                               ("exercise", "date_after", "date_before", "reps_min", "reps_max", "q", "source")])
    def list(self, request):
        """Totals per exercise; the search's filters narrow the sets counted (e.g. one month)."""
        counted = ExerciseSetFilter(request.query_params, queryset=ExerciseSet.objects.order_by())
        if not counted.is_valid():
            raise exceptions.ValidationError(counted.errors)
        page = self.paginate_queryset(stats.exercise_totals(request.user, counted.qs))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[ProgressQuerySerializer],
                   responses=inline_serializer("ExerciseProgress", {"exercise": serializers.CharField(),
                                                                     "weeks": WeekSerializer(many=True),
                                                                     "records": RecordSerializer(many=True)}))
    def retrieve(self, request, slug=None):
        """An exercise the requester has done; any other answers 404, as an unknown name does (the
        vocabulary holds other athletes' own names, which must not be told apart from nothing)."""
        if not ExerciseSet.objects.filter(owner=request.user, exercise_id=slug).exists():
            raise exceptions.NotFound("you have no sets of this exercise")
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
        device, token = Device.create_with_token(owner=request.user, **serializer.validated_data)
        return Response({"id": device.id, "name": device.name, "token": token}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        device = self.get_object()
        if device.revoked_at is None:
            device.revoke()
        return Response(self.get_serializer(device).data)


# Staff only: the labelling page's data (web/templates/web/label.html).

LABELLING_RATE_HZ = 25.0  # what the labelling page draws: enough to see every repetition


class RecordingSignalView(views.APIView):
    """A recording's signal for the labelling page, at most 25 Hz, one list per channel."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(responses=inline_serializer("RecordingSignal", {
        "rate_hz": serializers.FloatField(), "channels": serializers.ListField(child=serializers.CharField()),
        "duration_s": serializers.FloatField(),
        "samples": serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))}))
    def get(self, request, recording_id):
        recording = get_object_or_404(Recording, pk=recording_id)
        try:
            samples = recording.read_samples()
        except DamagedArchive as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        rate = min(recording.rate_hz, LABELLING_RATE_HZ)
        drawn = resample(samples, recording.rate_hz, rate) if rate < recording.rate_hz else samples
        return Response({"rate_hz": rate, "channels": list(recording.channels), "duration_s": len(samples) / recording.rate_hz,
                         "samples": np.round(drawn.T.astype(np.float64), 3).tolist()})


class RecordingLabelsView(views.APIView):
    """A recording's sets as a labeller edits them. PUT makes them the recording's sets if `version`
    is still the current one, else answers 409 and changes nothing: a set sent with its `id` edits
    that set (what the labeller did not change stays), one without is the stored set of the same
    span or a new one, one left out is removed (its span not filled by the machine again)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = RecordingLabelsSerializer

    def get(self, request, recording_id):
        recording = get_object_or_404(Recording, pk=recording_id)
        workout = Workout.objects.filter(pk=recording.pk).select_related("labelled_by").first()
        return Response(self._shown(workout))

    def put(self, request, recording_id):
        recording = get_object_or_404(Recording, pk=recording_id)
        data = RecordingLabelsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sets = [set_changes.LabelledSet(s["exercise"], s["start_s"], s["end_s"], s["reps"], tuple(s["rep_times_s"]), s["id"])
                for s in data.validated_data["sets"]]
        try:
            workout = set_changes.save_labels(recording, sets, by=request.user, version=data.validated_data["version"],
                                         mark_labelled=data.validated_data["mark_labelled"])
        except set_changes.LabelConflict as conflict:
            return Response({"detail": str(conflict), "version": conflict.current_version}, status=status.HTTP_409_CONFLICT)
        except ValueError as error:
            raise exceptions.ValidationError({"sets": [str(error)]}) from None
        return Response(self._shown(workout))

    @staticmethod
    def _shown(workout: Workout | None) -> dict:
        if workout is None:  # the pipeline has not seen the recording yet
            return {"version": 0, "sets": [], "labelled_by": None, "labelled_at": None}
        sets = [{"id": s.pk, "exercise": s.exercise_id, "start_s": s.start_s, "end_s": s.end_s, "reps": s.reps,
                 "rep_times_s": s.rep_times_s, "source": s.source, "labelled_by": s.labelled_by.username if s.labelled_by else None}
                for s in workout.sets.select_related("labelled_by").order_by("ordinal")]
        return RecordingLabelsSerializer({"version": workout.sets_version, "sets": sets,
                                          "labelled_by": workout.labelled_by.username if workout.labelled_by else None,
                                          "labelled_at": workout.labelled_at}).data
