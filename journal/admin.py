from django.contrib import admin
from django.db.models import Count

from journal.lag import lag_seconds, streaming_recordings_with_lag
from journal.models import Exercise, ExerciseSet, ModelVersion, Workout


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]


class ExerciseSetInline(admin.TabularInline):
    model = ExerciseSet
    fields = ["ordinal", "exercise", "start_s", "end_s", "reps", "weight_kg", "notes", "confidence", "closed", "source",
              "model_version"]
    readonly_fields = ["confidence", "closed", "model_version"]
    extra = 0


@admin.register(Workout)
class WorkoutAdmin(admin.ModelAdmin):
    # The lag is on the change page only: computing it per row of the list would be a query per workout.
    list_display = ["started_at", "owner", "duration_s", "set_count", "model_version", "processed_frames", "finalized_at"]
    list_filter = ["model_version", ("finalized_at", admin.EmptyFieldListFilter)]
    search_fields = ["owner__username", "notes"]
    date_hierarchy = "started_at"
    readonly_fields = ["recording", "model_path", "model_version", "processed_frames", "processed_samples", "tail_frame",
                       "tail_sample", "finalized_at", "lag"]
    exclude = ["probabilities"]
    inlines = [ExerciseSetInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner").annotate(n_sets=Count("sets"))

    @admin.display(description="sets", ordering="n_sets")
    def set_count(self, workout):
        return workout.n_sets

    @admin.display(description="pipeline lag")
    def lag(self, workout):
        """Frames stored but not yet processed, and how long the oldest has waited."""
        behind = streaming_recordings_with_lag().filter(pk=workout.pk).first()
        if behind is None:
            return "–" if workout.finalized_at else "waiting for the final pass"
        return f"{behind.frames_behind} frames, {lag_seconds(behind):.1f} s"


@admin.register(ExerciseSet)
class ExerciseSetAdmin(admin.ModelAdmin):
    list_display = ["workout", "ordinal", "exercise", "reps", "start_s", "end_s", "confidence", "closed", "source", "model_version"]
    list_filter = ["source", "closed", "exercise"]
    search_fields = ["workout__owner__username", "exercise__name"]
    readonly_fields = ["confidence", "closed", "model_version", "detected_start_s"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "channels", "active", "created_at", "path"]
    list_filter = ["active"]
    readonly_fields = ["name", "path", "channels", "metrics", "active", "created_at"]
    actions = ["activate"]

    @admin.action(description="Activate (workers use it for new recordings from their next step)")
    def activate(self, request, queryset):
        for version in queryset:
            version.activate()
