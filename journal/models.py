"""The journal: a workout per recording, and its exercise sets ("activity segments")."""

from __future__ import annotations

import functools

import numpy as np
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from classifier.card import ModelCard
from ingest.models import Recording

PROBABILITY_DTYPE = np.dtype("<f4")
# What a person may enter for a set, through every door (the web form, the API, the labelling
# page, the admin): past these no set is real, and 1e308 kg made every progress figure overflow.
MAX_REPS = 1000
MAX_WEIGHT_KG = 1000.0


class Exercise(models.Model):
    """The exercise vocabulary: a model's class names, "unknown", and names people give."""

    slug = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(max_length=100, help_text="As the journal shows it, e.g. 'Bench press'.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def ensure(cls, slugs: set[str]) -> None:
        """Every slug a row, named from the slug unless it has a name already (one query; none for no slugs)."""
        cls.objects.bulk_create([cls(slug=slug, name=slug.replace("_", " ").capitalize()) for slug in sorted(slugs)],
                                ignore_conflicts=True)


class ModelVersion(models.Model):
    """A classifier artefact the pipeline may use. New recordings get the active one that reads
    the most of their channels; a workout keeps the model it started with."""

    name = models.CharField(max_length=200, unique=True, help_text="card name@version, e.g. journal-gyro@2")
    path = models.CharField(max_length=500, help_text="The artefact folder (card.json, model.tflite).")
    channels = ArrayField(models.CharField(max_length=16))
    metrics = models.JSONField(default=dict, blank=True, help_text="From the model card.")
    comparison = models.JSONField(default=dict, blank=True,
                                  help_text="This version and the active one scored on the same held-out recordings.")
    recordings = models.JSONField(default=list, blank=True, help_text="The labelled recordings it was trained or tested on.")
    active = models.BooleanField(default=False)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def activate(self, by=None) -> None:
        """Active from the next step on, in every worker: no restart. Replaces the active model
        that reads the same channels (activating that one again undoes it)."""
        ModelVersion.objects.filter(active=True, channels=self.channels).exclude(pk=self.pk).update(active=False)
        self.active, self.activated_by, self.activated_at = True, by, timezone.now()
        self.save(update_fields=["active", "activated_by", "activated_at"])


class Workout(models.Model):
    """One recording as the journal sees it, with the pipeline's progress through it.

    The cursor (`processed_frames`, `processed_samples`), the window probabilities so far, the
    live segmenter's state and the sets they produced are written in one transaction: a task that dies before committing leaves
    no trace, and the next one starts from the same cursor."""

    recording = models.OneToOneField(Recording, on_delete=models.CASCADE, primary_key=True, related_name="workout")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workouts")
    date = models.DateField(db_index=True)
    started_at = models.DateTimeField()
    duration_s = models.FloatField(default=0.0)
    notes = models.TextField(blank=True)
    dismissed = models.JSONField(default=list, blank=True,
                                 help_text="[start_s, end_s] spans a person deleted sets from: the machine finds none there again.")
    sets_version = models.PositiveIntegerField(default=0, help_text="Grows with every change of the sets, by anyone: "
                                                                    "a labeller's save against an older one is a conflict.")
    labelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    labelled_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When a person marked every set right: the machine adds none any more.")
    # pipeline state
    model_path = models.CharField(max_length=500, blank=True, help_text="The artefact classifying this workout.")
    model_version = models.CharField(max_length=100, blank=True)
    processed_frames = models.PositiveIntegerField(default=0, help_text="Frames 0..n-1 are processed.")
    processed_samples = models.PositiveBigIntegerField(default=0)
    tail_frame = models.PositiveIntegerField(default=0, help_text="First frame whose samples live sets may still need.")
    tail_sample = models.PositiveBigIntegerField(default=0, help_text="Sample index where tail_frame starts.")
    probabilities = models.BinaryField(default=bytes, help_text="float32 (windows, classes) of the model, live pass, "
                                       "from the segmenter's origin on (the windows of stored closed sets are let go).")
    segmenter = models.JSONField(default=dict, blank=True, help_text="The live segmenter's state after those windows "
                                 "(LiveSegmenter.state): a step resumes it instead of replaying the workout.")
    finalized_at = models.DateTimeField(null=True, blank=True, help_text="When the final pass ran over the whole recording.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["owner", "-date"]),
                   GinIndex(SearchVector("notes", config="english"), name="workout_notes_search")]

    def __str__(self):
        return f"{self.owner} {self.started_at:%Y-%m-%d %H:%M}"

    def forget_live_state(self) -> None:
        """The live pass starts over from the first frame at its next step (another model is
        taking over: its windows, probabilities and segmenter are not this one's)."""
        self.probabilities, self.segmenter, self.tail_frame, self.tail_sample = b"", {}, 0, 0

    def overlaps_dismissed(self, start_s: float, end_s: float) -> bool:
        return any(start_s < end and start < end_s for start, end in self.dismissed)

    def window_probabilities(self, n_classes: int) -> np.ndarray:
        return np.frombuffer(bytes(self.probabilities), dtype=PROBABILITY_DTYPE).reshape(-1, n_classes)

    def model_labels(self) -> tuple[str, ...]:
        """The classes of the workout's model (none before its first step)."""
        return _card_labels(self.model_path) if self.model_path else ()

    def new_set(self, **fields) -> ExerciseSet:
        """An unsaved set of this workout, with the owner and date it copies."""
        return ExerciseSet(workout=self, owner_id=self.owner_id, date=self.date, **fields)

    def current_activity(self) -> tuple[str, float] | None:
        """The newest classified window's most likely class and its probability."""
        labels = self.model_labels()
        if not labels or not self.probabilities:
            return None
        newest = self.window_probabilities(len(labels))[-1]
        return labels[int(newest.argmax())], float(newest.max())


@functools.lru_cache(maxsize=64)
def _card_labels(folder: str) -> tuple[str, ...]:
    return tuple(ModelCard.load(folder).labels)


class ExerciseSetQuerySet(models.QuerySet):
    def newest_first(self):
        """Newest workout first, a workout's sets in order (the search page and /api/sets/): the
        (owner, -date) index gives the days in order, and only a day's sets are sorted further."""
        return self.select_related("exercise", "workout", "labelled_by").order_by("-date", "-workout__started_at", "ordinal")


class ExerciseSet(models.Model):
    class Source(models.TextChoices):
        MACHINE = "machine"
        LABELLED = "labelled"  # corrected by a person: the machine never overwrites it

    # No index of their own: (workout, ordinal) below serves the workout's sets, the owner's
    # indexes the searches; each index is paid for on every row a live step rewrites.
    workout = models.ForeignKey(Workout, on_delete=models.CASCADE, related_name="sets", db_index=False)
    # The workout's owner and date, copied by Workout.new_set (they never change) so that an athlete's sets are
    # found through their own indexes, not by joining every set of everyone to its workout.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exercise_sets", editable=False,
                              db_index=False)  # the indexes below start with it
    date = models.DateField(editable=False)
    ordinal = models.PositiveSmallIntegerField(help_text="Order of the set in its workout, from 0.")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="sets", db_index=False)
    start_s = models.FloatField()
    end_s = models.FloatField()
    detected_start_s = models.FloatField(null=True, blank=True, editable=False,
                                         help_text="Where the live segmenter's windows put the start; identifies a closed set.")
    reps = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MAX_REPS)])
    weight_kg = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(MAX_WEIGHT_KG)],
                                  help_text="The load, when the athlete enters it.")
    notes = models.TextField(blank=True)
    rep_times_s = ArrayField(models.FloatField(), default=list, blank=True)
    confidence = models.FloatField()
    closed = models.BooleanField(default=False, help_text="False while a live set may still grow.")
    source = models.CharField(max_length=10, choices=Source, default=Source.MACHINE)
    labelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False, help_text="Who made it a label: the athlete, or a labeller.")
    model_version = models.CharField(max_length=100, blank=True)
    learned_from = models.PositiveSmallIntegerField(default=0, help_text="The athlete's labelled sets of this exercise "
                                                    "its name was learned from (0: the general model named it).")
    suggestions = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                             help_text="An unknown set: the athlete's own exercises it is closest to.")
    arm_still = models.BooleanField(default=False, help_text="The watch's arm did not move: the set's repetitions (another "
                                    "limb's, as in a one-arm row with the other arm) could not be counted from it, "
                                    "until a person enters the count.")
    teaches = models.BooleanField(default=True, help_text="A label that teaches the athlete's memory (False: labelled "
                                  "before the athlete reset it).")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExerciseSetQuerySet.as_manager()

    class Meta:
        ordering = ["workout", "ordinal"]
        # Deferred: renumbering sets inside a transaction may pass through a doubled ordinal.
        constraints = [models.UniqueConstraint(fields=["workout", "ordinal"], name="one_set_per_ordinal",
                                               deferrable=models.Deferrable.DEFERRED),
                       models.CheckConstraint(condition=models.Q(reps__lte=MAX_REPS), name="reps_in_range"),
                       models.CheckConstraint(condition=models.Q(weight_kg__gte=0, weight_kg__lte=MAX_WEIGHT_KG)
                                              | models.Q(weight_kg__isnull=True), name="weight_in_range")]
        indexes = [
            GinIndex(SearchVector("notes", config="english"), name="set_notes_search"),
            # search by exercise (and dates), progress and the exercise totals, read from the index alone
            models.Index(fields=["owner", "exercise", "date"], include=["reps", "weight_kg"], name="set_owner_exercise_date"),
            models.Index(fields=["owner", "-date"], name="set_owner_date"),  # newest first, date ranges
        ]

    def __str__(self):
        return f"{self.exercise} × {self.reps}"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def volume_kg(self) -> float | None:
        return None if self.weight_kg is None else self.reps * self.weight_kg


class AthleteMemory(models.Model):
    """What the journal learned from one athlete's labelled sets for one model (its embedding):
    classifier.memory.ExerciseMemory, rebuilt by journal/athlete_memory.py after every change of
    the athlete's labels. Never shared across athletes."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories")
    model_version = models.CharField(max_length=100, help_text="The model whose embedding it reads, e.g. journal-acc-gyro@2.")
    version = models.PositiveIntegerField(default=1, help_text="Grows with every rebuild.")
    data = models.BinaryField(help_text="ExerciseMemory.to_bytes()")
    sets_taught = models.JSONField(default=dict, help_text="exercise → the athlete's labelled sets behind it")
    gain = models.JSONField(default=dict, blank=True, help_text="Its labelled sets named by the memory taught without each "
                            "(leave one set out) and by the general model.")
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "model_version"], name="one_memory_per_athlete_and_model")]

    def __str__(self):
        return f"{self.owner}'s memory for {self.model_version} (v{self.version})"


class TrainingRun(models.Model):
    """A retraining from labelled recordings, run by a Celery worker (journal/retraining.py)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recordings = models.JSONField(default=list, help_text="Labelled recordings to learn from; empty: all of them.")
    datasets = models.JSONField(default=list, blank=True, help_text="Gym-format folders to learn from as well.")
    channels = models.CharField(max_length=16, default="gyro", help_text="gyro or acc+gyro")
    epochs = models.PositiveSmallIntegerField(default=40)
    seeds = models.PositiveSmallIntegerField(default=3, help_text="Models trained to measure the spread; the version is the first.")
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    message = models.TextField(blank=True)
    version = models.OneToOneField(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_run")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"training run {self.pk} ({self.status})"

    def report(self, progress: float, message: str) -> None:
        TrainingRun.objects.filter(pk=self.pk).update(progress=progress, message=message)
        self.progress, self.message = progress, message
