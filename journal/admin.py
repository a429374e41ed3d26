from pathlib import Path

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ingest.admin import RecordingAdmin
from ingest.models import Recording
from journal.lag import lag_seconds, streaming_recordings_with_lag
from journal.models import AthleteMemory, Exercise, ExerciseSet, ModelVersion, TrainingRun, Workout
from journal.tasks import reprocess_recording, retrain_model


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]


class ReadOnlySets:
    """Sets are shown here, not changed: every change goes through journal/set_changes.py (the
    labelling page for staff), which numbers them, versions them and makes them labels."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ExerciseSetInline(ReadOnlySets, admin.TabularInline):
    model = ExerciseSet
    fields = ["ordinal", "exercise", "start_s", "end_s", "reps", "weight_kg", "notes", "confidence", "closed", "source",
              "model_version"]
    extra = 0


@admin.register(Workout)
class WorkoutAdmin(admin.ModelAdmin):
    # The lag is on the change page only: computing it per row of the list would be a query per workout.
    list_display = ["started_at", "owner", "duration_s", "set_count", "model_version", "processed_frames", "finalized_at"]
    list_filter = ["model_version", ("finalized_at", admin.EmptyFieldListFilter)]
    search_fields = ["owner__username", "notes"]
    date_hierarchy = "started_at"
    # Only the notes are the admin's to edit: the rest is the recording's, the pipeline's, or the
    # sets' (their owner and date are copied onto every set; dismissed spans and the version
    # are set_changes.py's).
    readonly_fields = ["recording", "owner", "date", "started_at", "duration_s", "labelling_page", "dismissed", "sets_version",
                       "labelled_by", "labelled_at", "model_path", "model_version", "processed_frames", "processed_samples",
                       "tail_frame", "tail_sample", "finalized_at", "lag"]
    exclude = ["probabilities", "segmenter"]
    inlines = [ExerciseSetInline]

    @admin.display(description="change the sets")
    def labelling_page(self, workout):
        return format_html('<a href="{}">on the labelling page</a>', reverse("label", args=[workout.pk]))

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
class ExerciseSetAdmin(ReadOnlySets, admin.ModelAdmin):
    list_display = ["workout", "ordinal", "exercise", "reps", "start_s", "end_s", "confidence", "closed", "source", "model_version"]
    list_filter = ["source", "closed", "exercise"]
    search_fields = ["workout__owner__username", "exercise__name"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "channels", "active", "held_out_accuracy", "active_model_accuracy", "activated_by", "activated_at",
                    "created_at"]
    list_filter = ["active"]
    readonly_fields = ["name", "path", "channels", "active", "activated_by", "activated_at", "created_at", "side_by_side",
                       "confusion", "metrics", "recordings"]
    exclude = ["comparison"]
    actions = ["activate", "deactivate"]

    @admin.display(description="accuracy (held out)")
    def held_out_accuracy(self, version):
        return _score(version.comparison.get("new", {}).get("accuracy", version.metrics.get("accuracy_mean")))

    @admin.display(description="active model, same recordings")
    def active_model_accuracy(self, version):
        return _score(version.comparison.get("active", {}).get("accuracy"))

    @admin.display(description="beside the active model")
    def side_by_side(self, version):
        """This version and the model active when it was trained, on the same held-out recordings."""
        compared = version.comparison
        if not compared:
            return "–"
        new = compared["new"]
        rows = [("", new["name"], compared["active"]["name"]),
                ("accuracy", _score(new["accuracy"]), _score(compared["active"]["accuracy"])),
                ("macro-F1", _score(new["macro_f1"]), _score(compared["active"]["macro_f1"])),
                (f"over {new['seeds']} seeds", f"accuracy {_score(new['accuracy_mean'])} ± {_score(new['accuracy_sd'])}, "
                                               f"macro-F1 {_score(new['macro_f1_mean'])} ± {_score(new['macro_f1_sd'])}", "")]
        labels = sorted(set(compared["new"]["per_class_f1"]) | set(compared["active"]["per_class_f1"]))
        rows += [(f"F1 {label}", _score(compared["new"]["per_class_f1"].get(label)),
                  _score(compared["active"]["per_class_f1"].get(label))) for label in labels]
        rows = [row for row in rows if row[1] != "–" or row[2] != "–"]  # classes the held-out people did
        body = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<p>Held out: {} ({} windows)</p><table>{}</table>", ", ".join(compared["held_out"]),
                           compared["windows"], body)

    @admin.display(description="confusion matrix (held out)")
    def confusion(self, version):
        if not (Path(version.path) / "evaluation" / "confusion.png").is_file():
            return "–"
        return format_html('<img src="{}" alt="Confusion matrix of {}" style="max-width: 640px">',
                           reverse("model-confusion", args=[version.pk]), version.name)

    @admin.action(description="Activate (workers use it for new recordings from their next step)")
    def activate(self, request, queryset):
        for version in queryset:
            version.activate(by=request.user)
            self.message_user(request, f"{version.name} is active for recordings with {', '.join(version.channels)}. "
                                       "Activate the previous version to undo.")

    @admin.action(description="Deactivate (back to the other active or the committed models)")
    def deactivate(self, request, queryset):
        queryset.update(active=False)


@admin.register(AthleteMemory)
class AthleteMemoryAdmin(admin.ModelAdmin):
    """Each athlete's memory: the exercises and labelled sets behind it, and what it gains on the
    athlete's own sets (leave one set out) over the general model. Rebuilt by the workers, never by hand."""

    list_display = ["owner", "model_version", "version", "exercises", "sets", "gain_shown", "built_at"]
    list_filter = ["model_version"]
    search_fields = ["owner__username"]
    exclude = ["data"]
    readonly_fields = ["owner", "model_version", "version", "sets_taught", "gain", "built_at"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="exercises")
    def exercises(self, memory):
        return ", ".join(f"{exercise} ({count})" for exercise, count in memory.sets_taught.items())

    @admin.display(description="sets")
    def sets(self, memory):
        return sum(memory.sets_taught.values())

    @admin.display(description="named right: memory / general (its last sets, each left out)")
    def gain_shown(self, memory):
        gain = memory.gain
        return f"{gain['memory_accuracy']:.0%} / {gain['general_accuracy']:.0%} of {gain['sets']}" if gain.get("sets") else "–"


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "requested_by", "channels", "status", "progress_bar", "message", "version", "finished_at"]
    list_filter = ["status"]
    readonly_fields = ["requested_by", "recordings", "datasets", "channels", "epochs", "status", "progress", "message", "version",
                       "created_at", "finished_at"]
    change_list_template = "admin/journal/trainingrun/change_list.html"  # reloads itself while a run is going

    def has_add_permission(self, request):
        return False  # runs start from the recordings list: "Retrain a model from the selected labelled recordings"

    @admin.display(description="progress")
    def progress_bar(self, run):
        return format_html('<progress value="{}" max="1" aria-label="{} %"></progress> {} %', run.progress,
                           round(100 * run.progress), round(100 * run.progress))


class LabelledFilter(admin.SimpleListFilter):
    title = "labelled"
    parameter_name = "labelled"

    def lookups(self, request, model_admin):
        return [("yes", "labelled"), ("no", "not labelled")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(workout__labelled_at__isnull=self.value() == "no")
        return queryset


admin.site.unregister(Recording)


@admin.register(Recording)
class JournalRecordingAdmin(RecordingAdmin):
    """The ingest's recordings list, with what the journal knows of each: the pipeline's progress,
    whether a person labelled it, and the labelling page."""

    list_display = ["started_at", "owner", "device", "status", "source", "frames", "frames_behind", "journal_state", "label_link"]
    list_display_links = ["started_at"]
    list_filter = [*RecordingAdmin.list_filter, LabelledFilter, "device"]
    actions = ["retrain", "reprocess"]

    def get_queryset(self, request):
        return (super().get_queryset(request).select_related("workout__labelled_by")
                .defer("workout__probabilities", "workout__segmenter", "workout__dismissed"))

    @admin.display(description="frames behind")
    def frames_behind(self, recording):
        processed = getattr(getattr(recording, "workout", None), "processed_frames", 0)
        return max(0, self.next_seq(recording) - processed)

    @admin.display(description="journal")
    def journal_state(self, recording):
        workout = getattr(recording, "workout", None)
        if workout is None:
            return "waiting for the pipeline"
        if workout.labelled_at:
            return f"labelled by {workout.labelled_by or 'an import'}"
        return "final" if workout.finalized_at else "live"

    @admin.display(description="")
    def label_link(self, recording):
        return format_html('<a href="{}">Label</a>', reverse("label", args=[recording.pk]))

    @admin.action(description="Retrain a model from the selected labelled recordings")
    def retrain(self, request, queryset):
        chosen = [str(pk) for pk in queryset.filter(workout__labelled_at__isnull=False).values_list("pk", flat=True)]
        if not chosen:
            self.message_user(request, "None of the selected recordings is labelled: label them first.", messages.ERROR)
            return
        run = TrainingRun.objects.create(requested_by=request.user, recordings=chosen)
        transaction.on_commit(lambda: retrain_model.delay(run.pk))
        self.message_user(request, format_html('Retraining on {} labelled recordings: follow it under <a href="{}">training runs</a>.',
                                               len(chosen), reverse("admin:journal_trainingrun_changelist")))

    @admin.action(description="Re-process with the active model (machine sets replaced, labelled ones kept)")
    def reprocess(self, request, queryset):
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        transaction.on_commit(lambda: [reprocess_recording.delay(recording_id) for recording_id in ids])
        self.message_user(request, f"{len(ids)} recordings queued for a new final pass.")


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
