"""The API's shapes. A set corrected through the API becomes a label: the machine never
overwrites it (journal/set_changes.py)."""

from __future__ import annotations

from rest_framework import serializers

from ingest.models import Device
from journal import set_changes
from journal.models import MAX_REPS, Exercise, ExerciseSet, Workout


class ExerciseSetSerializer(serializers.ModelSerializer):
    exercise = serializers.SlugRelatedField(slug_field="slug", queryset=Exercise.objects.all())
    exercise_name = serializers.CharField(source="exercise.name", read_only=True)
    workout = serializers.PrimaryKeyRelatedField(read_only=True)
    date = serializers.DateField(source="workout.date", read_only=True)
    labelled_by = serializers.CharField(source="labelled_by.username", read_only=True, default=None,
                                        help_text="Who made the set a label (source 'labelled'): the athlete or a labeller.")

    class Meta:
        model = ExerciseSet
        fields = ["id", "workout", "date", "ordinal", "exercise", "exercise_name", "start_s", "end_s", "reps", "weight_kg",
                  "notes", "rep_times_s", "confidence", "closed", "source", "labelled_by", "model_version", "learned_from",
                  "suggestions", "arm_still"]
        read_only_fields = ["ordinal", "start_s", "end_s", "rep_times_s", "confidence", "closed", "source", "model_version",
                            "learned_from", "suggestions", "arm_still"]

    def update(self, instance, validated_data):
        if "exercise" in validated_data:
            validated_data["exercise"] = validated_data["exercise"].slug
        return set_changes.correct(instance.pk, self.context["request"].user, **validated_data)


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
        fields = ["id", "name", "side", "placement", "token_prefix", "created_at", "last_seen_at", "revoked_at"]
        read_only_fields = ["token_prefix", "created_at", "last_seen_at", "revoked_at"]


MAX_SET_SECONDS = 24 * 3600  # seconds into a recording: no recording is longer than a day


class LabelledSetSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, default=None,
                                  help_text="The stored set this one edits (as GET gave it); none for a new set. "
                                            "What is not changed of it — weight, notes, source — stays.")
    exercise = serializers.RegexField(r"^[a-z0-9_]{1,64}$", help_text="snake_case, e.g. bench_press")
    start_s = serializers.FloatField(min_value=0, max_value=MAX_SET_SECONDS)
    end_s = serializers.FloatField(min_value=0, max_value=MAX_SET_SECONDS)
    reps = serializers.IntegerField(min_value=0, max_value=MAX_REPS)
    rep_times_s = serializers.ListField(child=serializers.FloatField(min_value=0, max_value=MAX_SET_SECONDS), max_length=MAX_REPS, default=list)
    source = serializers.CharField(read_only=True)
    labelled_by = serializers.CharField(read_only=True, allow_null=True)

    def validate(self, data):
        if data["end_s"] <= data["start_s"]:
            raise serializers.ValidationError(f"a set must end after it starts ({data['start_s']} → {data['end_s']} s)")
        return data


class RecordingLabelsSerializer(serializers.Serializer):
    """A labeller's view of a recording: its sets, and the version they are at."""

    version = serializers.IntegerField(min_value=0, help_text="The sets_version the labeller saw; another one on save is a conflict (409).")
    sets = LabelledSetSerializer(many=True)
    mark_labelled = serializers.BooleanField(default=False, write_only=True, help_text="Every set is right: mark the recording labelled.")
    labelled_by = serializers.CharField(read_only=True, allow_null=True)
    labelled_at = serializers.DateTimeField(read_only=True, allow_null=True)
