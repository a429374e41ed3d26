"""Every change of a workout's sets, in one place: the machine's sets replaced by a pipeline step
or final pass, a person's correction (correct, split, merge, delete) and a labeller's save. Each
holds the workout's row lock (the one a pipeline step holds, so a person's change and a step never
interleave), numbers the sets in time order and moves `sets_version` on.

What a person does makes a label the machine never overwrites: a corrected set is `labelled`, a
deleted one leaves its span in `Workout.dismissed`, where the machine puts no set again."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from classifier.set_finder import FoundSet
from ingest.models import Recording
from journal.athlete_memory import labels_changed
from journal.models import Exercise, ExerciseSet, Workout
from journal.row_updates import update_rows

LABELLED = ExerciseSet.Source.LABELLED
MACHINE = ExerciseSet.Source.MACHINE


# --- the lock ---------------------------------------------------------------------------------------

def workouts_of(recording_ids: list[uuid.UUID], *, skip_locked: bool = False) -> list[Workout]:
    """The recordings' workouts with their recordings (one query once they exist), made on first
    use, locked until the transaction ends, in a fixed order (two batches never wait on each
    other in a cycle). A recording that does not exist has none; with `skip_locked`, neither has
    one whose workout another transaction holds (it is not waited for — except while that
    transaction is making the workout, at a recording's very first step)."""
    ids = sorted(set(recording_ids))
    found = {w.pk: w for w in Workout.objects.select_for_update(of=("self",), skip_locked=skip_locked)
             .select_related("recording").filter(pk__in=ids).order_by("pk")}
    for recording in Recording.objects.filter(id__in=[i for i in ids if i not in found], workout__isnull=True).order_by("id"):
        found[recording.id], _ = Workout.objects.select_for_update().get_or_create(
            recording=recording,
            defaults={"owner_id": recording.owner_id, "date": timezone.localdate(recording.started_at),
                      "started_at": recording.started_at},
        )
    return [found[i] for i in ids if i in found]


def workout_of(recording_id: uuid.UUID) -> Workout:
    """The recording's workout, as `workouts_of`. Raises Recording.DoesNotExist."""
    workouts = workouts_of([recording_id])
    if not workouts:
        raise Recording.DoesNotExist(f"no recording {recording_id}")
    return workouts[0]


def _lock_set(set_id: int, owner) -> tuple[Workout, ExerciseSet]:
    exercise_set = ExerciseSet.objects.select_related("workout").get(pk=set_id, owner=owner)
    workout = Workout.objects.select_for_update().get(pk=exercise_set.workout_id)
    return workout, ExerciseSet.objects.get(pk=set_id)  # read again under the lock


# --- what every change ends with -------------------------------------------------------------------

def _renumber(rows: Iterable[ExerciseSet]) -> list[ExerciseSet]:
    """Ordinals in time order (their uniqueness is checked at commit); the rows whose ordinal changed."""
    moved = []
    for ordinal, row in enumerate(sorted(rows, key=lambda r: (r.start_s, r.pk is None, r.pk or 0))):
        if row.ordinal != ordinal:
            row.ordinal = ordinal
            moved.append(row)
    return moved


def _dismiss(workout: Workout, removed: Iterable[ExerciseSet], kept: Iterable[ExerciseSet] = ()) -> None:
    """The spans of removed sets, where nothing kept covers them: the machine finds no set there again."""
    kept = list(kept)
    workout.dismissed = [*workout.dismissed, *([r.start_s, r.end_s] for r in removed
                                               if not any(k.start_s < r.end_s and r.start_s < k.end_s for k in kept))]


def _person_changed(workout: Workout) -> None:
    """After a person's change: every set numbered in time order again, a new version saved, the
    athlete's memory rebuilt from their labels once this commits."""
    for row in _renumber(workout.sets.all()):
        ExerciseSet.objects.filter(pk=row.pk).update(ordinal=row.ordinal)
    workout.sets_version += 1
    workout.save(update_fields=["sets_version", "dismissed", "updated_at"])
    labels_changed(workout.owner_id)


# --- the machine ------------------------------------------------------------------------------------

def replace_machine_sets(workout: Workout, found: list[FoundSet], version: str, *,
                         existing: list[ExerciseSet] | None = None, writes: SetWrites | None = None) -> None:
    """The workout's sets become the labelled ones plus the machine's `found` that overlap none of
    them nor a span a person deleted sets from, numbered in time order (`existing`: the workout's
    rows when the caller has them). Rows that did not change are not written: most steps only grow
    the open set, which keeps its row and id. Inside the caller's transaction, which saves the
    workout: its `sets_version` grows here when anything changed. With `writes`, the rows are
    written when the caller applies them (with other workouts'), else before this returns."""
    existing = list(workout.sets.all()) if existing is None else existing
    labelled = [s for s in existing if s.source == LABELLED]
    wanted = [
        workout.new_set(
            exercise_id=f.exercise, start_s=round(f.start_s, 3),
            detected_start_s=None if f.detected_start_s is None else round(f.detected_start_s, 3),
            end_s=round(f.end_s, 3), reps=f.reps, rep_times_s=[round(t, 3) for t in f.rep_times_s],
            confidence=f.confidence, closed=f.closed, source=MACHINE, model_version=version,
            learned_from=f.learned_from, suggestions=list(f.suggestions), arm_still=f.arm_still,
        )
        for f in found
        if workout.labelled_at is None  # a person marked every set right
        and not any(f.start_s < s.end_s and s.start_s < f.end_s for s in labelled)
        and not workout.overlaps_dismissed(f.start_s, f.end_s)
    ]
    moved = [row for row in _renumber(labelled + wanted) if row.pk is not None]
    stored = {_row_key(s): s for s in existing if s.source == MACHINE}
    unchanged = {_row_key(s) for s in wanted} & stored.keys()
    stale = {s.ordinal: s for key, s in stored.items() if key not in unchanged}
    fresh = [s for s in wanted if _row_key(s) not in unchanged]
    updated = []
    for s in fresh:  # a set that changed in its place keeps its row and id
        if (old := stale.pop(s.ordinal, None)) is not None:
            s.pk = old.pk
            updated.append(s)
    Exercise.ensure({s.exercise_id for s in fresh} - {s.exercise_id for s in existing})  # a query only for a new one
    batch = SetWrites() if writes is None else writes
    batch.renumbered += moved
    batch.deleted += [s.pk for s in stale.values()]
    batch.updated += updated
    batch.inserted += [s for s in fresh if s.pk is None]
    if writes is None:
        batch.apply()
    if moved or stale or fresh:
        workout.sets_version += 1


@dataclass
class SetWrites:
    """`replace_machine_sets`' row writes for any number of workouts, sent together: a live step's
    batch pays a round trip per kind of write, not one per workout (under load a worker waited on
    these more than on anything else). In the transaction that holds the workouts' locks; the
    ordinals' uniqueness is checked at its commit, so the order of the writes does not matter."""

    renumbered: list[ExerciseSet] = dataclasses.field(default_factory=list)
    deleted: list[int] = dataclasses.field(default_factory=list)
    updated: list[ExerciseSet] = dataclasses.field(default_factory=list)  # usually each workout's open set
    inserted: list[ExerciseSet] = dataclasses.field(default_factory=list)

    def apply(self) -> None:
        update_rows(self.renumbered, ["ordinal"])
        if self.deleted:
            ExerciseSet.objects.filter(pk__in=self.deleted).delete()
        update_rows(self.updated, _MACHINE_FIELDS)
        if self.inserted:
            ExerciseSet.objects.bulk_create(self.inserted)


_MACHINE_FIELDS = ["exercise_id", "start_s", "detected_start_s", "end_s", "reps", "rep_times_s", "confidence", "closed",
                   "source", "model_version", "learned_from", "suggestions", "arm_still"]


def _row_key(s: ExerciseSet) -> tuple:
    return (s.ordinal, s.exercise_id, s.start_s, s.end_s, s.detected_start_s, s.reps, tuple(s.rep_times_s), s.confidence,
            s.closed, s.model_version, s.learned_from, tuple(s.suggestions), s.arm_still)


# --- the athlete ------------------------------------------------------------------------------------

class CorrectionError(ValueError):
    """A correction that cannot be made, with a message for the person who asked."""


@transaction.atomic
def correct(set_id: int, owner, **changes) -> ExerciseSet:
    """Change any of exercise (a slug; a new name becomes a new exercise), reps, weight_kg, notes."""
    workout, exercise_set = _lock_set(set_id, owner)
    if "exercise" in changes:
        slug = changes.pop("exercise")
        Exercise.ensure({slug})
        exercise_set.exercise_id = slug
        exercise_set.learned_from, exercise_set.suggestions = 0, []  # the person named it
    for field, value in changes.items():
        setattr(exercise_set, field, value)
    if "reps" in changes:
        exercise_set.arm_still = False  # the count the watch could not give is given
    exercise_set.source, exercise_set.labelled_by, exercise_set.teaches = LABELLED, owner, True
    exercise_set.save()
    _person_changed(workout)
    return exercise_set


@transaction.atomic
def split(set_id: int, owner, at_s: float) -> tuple[ExerciseSet, ExerciseSet]:
    """Two sets meeting at `at_s` (seconds into the workout); repetitions go to the side they fell on."""
    workout, first = _lock_set(set_id, owner)
    if not first.start_s < at_s < first.end_s:
        raise CorrectionError(f"split at {at_s:.1f} s: the set runs from {first.start_s:.1f} s to {first.end_s:.1f} s")
    before = [t for t in first.rep_times_s if t < at_s]
    after = [t for t in first.rep_times_s if t >= at_s]
    if first.rep_times_s:
        reps_before = len(before)
    else:  # no instants (e.g. entered by hand): share the count by duration
        reps_before = round(first.reps * (at_s - first.start_s) / first.duration_s)
    second = workout.new_set(
        ordinal=first.ordinal + 1, exercise_id=first.exercise_id, start_s=at_s, end_s=first.end_s,
        reps=first.reps - reps_before, rep_times_s=after, weight_kg=first.weight_kg, confidence=first.confidence,
        closed=True, source=LABELLED, labelled_by=owner, model_version=first.model_version, arm_still=first.arm_still,
    )
    second.save()
    first.end_s, first.reps, first.rep_times_s, first.source, first.closed = at_s, reps_before, before, LABELLED, True
    first.labelled_by, first.teaches = owner, True
    first.save()
    _person_changed(workout)
    return first, second


@transaction.atomic
def merge_with_next(set_id: int, owner) -> ExerciseSet:
    """One set from this one and the next: the reps added, the first one's exercise and load."""
    workout, first = _lock_set(set_id, owner)
    following = workout.sets.filter(start_s__gt=first.start_s).order_by("start_s").first()
    if following is None:
        raise CorrectionError("this is the workout's last set: there is nothing after it to merge with")
    first.end_s = max(first.end_s, following.end_s)
    first.reps += following.reps
    first.rep_times_s = list(first.rep_times_s) + list(following.rep_times_s)
    first.notes = "\n".join(n for n in (first.notes, following.notes) if n)
    first.confidence = min(first.confidence, following.confidence)
    first.arm_still = first.arm_still or following.arm_still  # a count missing from either is missing from the sum
    first.source, first.closed, first.labelled_by, first.teaches = LABELLED, True, owner, True
    following.delete()
    first.save()
    _person_changed(workout)
    return first


@transaction.atomic
def delete(set_id: int, owner) -> None:
    """Remove the set; the machine will not find one in its place again."""
    workout, exercise_set = _lock_set(set_id, owner)
    _dismiss(workout, [exercise_set])
    exercise_set.delete()
    _person_changed(workout)


# --- the labeller -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelledSet:
    exercise: str
    start_s: float
    end_s: float
    reps: int
    rep_times_s: tuple[float, ...] = ()
    id: int | None = None  # the stored set it edits; None for a set the labeller drew


class LabelConflict(Exception):
    """The sets changed since the labeller loaded them (another labeller, the athlete, the pipeline)."""

    def __init__(self, workout: Workout):
        super().__init__(f"the sets changed since you loaded them "
                         f"(at {timezone.localtime(workout.updated_at):%H:%M:%S}); reload to see the change, then redo yours")
        self.current_version = workout.sets_version


_LABEL_FIELDS = ["exercise_id", "start_s", "end_s", "reps", "rep_times_s"]


@transaction.atomic
def save_labels(recording: Recording, sets: list[LabelledSet], *, by, version: int | None, mark_labelled: bool,
                labelled_at: datetime | None = None) -> Workout:
    """The recording's sets become `sets`. A set that names a stored one (`id`; without an id, as
    from a labelled folder imported again, the stored set of the very same span) edits it in
    place: what the labeller did not change — the athlete's weight and notes, the source, the
    confidence of a set left as it was — stays. Changed and new sets become labels by `by`; the
    spans of sets removed are dismissed where nothing kept covers them (the machine puts none
    back). `version` is the `sets_version` the labeller saw: any other is a conflict.
    `mark_labelled` says every set is right (who, and when: now unless `labelled_at` says
    otherwise, as an imported folder does), so the machine's sets left as they were become
    labels too."""
    workout = workout_of(recording.id)
    if version is not None and version != workout.sets_version:
        raise LabelConflict(workout)
    ordered = sorted(sets, key=lambda s: s.start_s)
    for before, after in zip(ordered, ordered[1:]):
        if after.start_s < before.end_s:
            raise ValueError(f"sets overlap at {after.start_s:.1f} s: a moment belongs to one set at most")
    stored = {row.pk: row for row in workout.sets.all()}
    named_by_machine = {row.pk: row.exercise_id for row in stored.values()}
    rows, edited = [], []
    for s in ordered:
        values = _label_values(s.exercise, s.start_s, s.end_s, s.reps, s.rep_times_s)
        # popped: a second set naming the same id is a new one
        row = stored.pop(s.id if s.id is not None else _same_span(stored, values), None)
        if row is None:
            row = workout.new_set(**values, ordinal=0, confidence=1.0, closed=True, source=LABELLED, labelled_by=by,
                                  model_version=workout.model_version)
        elif _label_values(row.exercise_id, row.start_s, row.end_s, row.reps, row.rep_times_s) != values or \
                (mark_labelled and row.source != LABELLED):  # edited, or confirmed as the machine found it
            for field, value in values.items():
                setattr(row, field, value)
            row.source, row.closed, row.labelled_by, row.teaches = LABELLED, True, by, True
            if row.exercise_id != named_by_machine[row.pk]:
                row.learned_from, row.suggestions = 0, []  # the labeller named it
            edited.append(row)
        rows.append(row)
    removed = list(stored.values())
    _dismiss(workout, removed, kept=rows)
    ExerciseSet.objects.filter(pk__in=[r.pk for r in removed]).delete()
    Exercise.ensure({s.exercise for s in ordered})
    changed = {id(row) for row in [*_renumber(rows), *edited]}
    for row in rows:  # a row as it was is not written
        if row.pk is None:
            row.save()
        elif id(row) in changed:
            row.save(update_fields=["ordinal", *_LABEL_FIELDS, "source", "closed", "labelled_by", "teaches", "learned_from",
                                    "suggestions", "updated_at"])
    if mark_labelled:
        workout.labelled_by, workout.labelled_at = by, labelled_at or timezone.now()
    workout.sets_version += 1
    workout.save()
    labels_changed(workout.owner_id)
    return workout


def _label_values(exercise: str, start_s: float, end_s: float, reps: int, rep_times_s) -> dict:
    """What a labeller edits of a set, rounded as a save stores it (a stored set a split left with
    more decimals compares equal)."""
    return {"exercise_id": exercise, "start_s": round(start_s, 3), "end_s": round(end_s, 3), "reps": reps,
            "rep_times_s": [round(t, 3) for t in rep_times_s]}


def _same_span(stored: dict[int, ExerciseSet], values: dict) -> int | None:
    return next((pk for pk, row in stored.items()
                 if (round(row.start_s, 3), round(row.end_s, 3)) == (values["start_s"], values["end_s"])), None)
