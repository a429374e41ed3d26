"""The API's shapes. A set corrected through the API becomes a label: the machine never
overwrites it (journal/pipeline.py keeps labelled sets)."""

from __future__ import annotations

from rest_framework import serializers

from ingest.models import Device
from journal.models import Exercise, ExerciseSet, Workout


class ExerciseSetSerializer(serializers.ModelSerializer):
    exercise = serializers.SlugRelatedField(slug_field="slug", queryset=Exercise.objects.all())
    exercise_name = serializers.CharField(source="exercise.name", read_only=True)
    workout = serializers.PrimaryKeyRelatedField(read_only=True)
    date = serializers.DateField(source="workout.date", read_only=True)

    class Meta:
        model = ExerciseSet
        fields = ["id", "workout", "date", "ordinal", "exercise", "exercise_name", "start_s", "end_s", "reps",
                  "rep_times_s", "confidence", "closed", "source", "model_version"]
        read_only_fields = ["ordinal", "start_s", "end_s", "rep_times_s", "confidence", "closed", "source", "model_version"]

    def update(self, instance, validated_data):
        validated_data["source"] = ExerciseSet.Source.LABELLED
        return super().update(instance, validated_data)


class WorkoutSerializer(serializers.ModelSerializer):
    sets = ExerciseSetSerializer(many=True, read_only=True)
    device = serializers.CharField(source="recording.device.name", read_only=True, default=None)

    class Meta:
        model = Workout
        fields = ["recording", "date", "started_at", "duration_s", "device", "notes", "model_version", "finalized_at", "sets"]
        read_only_fields = ["recording", "date", "started_at", "duration_s", "model_version", "finalized_at"]


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "name", "token_prefix", "created_at", "last_seen_at", "revoked_at"]
        read_only_fields = ["token_prefix", "created_at", "last_seen_at", "revoked_at"]
