"""The API's shapes. A set corrected through the API becomes a label: the machine never
overwrites it (journal/corrections.py)."""

from __future__ import annotations

from rest_framework import serializers

from ingest.models import Device
from journal import corrections
from journal.models import Exercise, ExerciseSet, Workout


class ExerciseSetSerializer(serializers.ModelSerializer):
    exercise = serializers.SlugRelatedField(slug_field="slug", queryset=Exercise.objects.all())
    exercise_name = serializers.CharField(source="exercise.name", read_only=True)
    workout = serializers.PrimaryKeyRelatedField(read_only=True)
    date = serializers.DateField(source="workout.date", read_only=True)

    class Meta:
        model = ExerciseSet
        fields = ["id", "workout", "date", "ordinal", "exercise", "exercise_name", "start_s", "end_s", "reps", "weight_kg",
                  "notes", "rep_times_s", "confidence", "closed", "source", "model_version"]
        read_only_fields = ["ordinal", "start_s", "end_s", "rep_times_s", "confidence", "closed", "source", "model_version"]

    def update(self, instance, validated_data):
        if "exercise" in validated_data:
            validated_data["exercise"] = validated_data["exercise"].slug
        return corrections.correct(instance.pk, self.context["request"].user, **validated_data)


class SplitSerializer(serializers.Serializer):
    at_s = serializers.FloatField(help_text="Seconds into the workout where the second set starts.")


class ProgressQuerySerializer(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=520, default=52, help_text="How far back, in weeks.")


class WeekSerializer(serializers.Serializer):
    start = serializers.DateField()
    sets = serializers.IntegerField()
    reps = serializers.IntegerField()
    volume_kg = serializers.FloatField()


class RecordSerializer(serializers.Serializer):
    what = serializers.CharField()
    value = serializers.CharField()
    on = serializers.DateField()


class ExerciseStatsSerializer(serializers.Serializer):
    exercise = serializers.CharField()
    name = serializers.CharField()
    sets = serializers.IntegerField()
    reps = serializers.IntegerField()
    last = serializers.DateField()


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
