"""What a person does to the machine's sets: correct, split, merge, delete. Every change makes a
label the pipeline never overwrites (a corrected set is `labelled`; a deleted one leaves its span
in `Workout.dismissed`). Each runs in a transaction holding the workout's row lock, the same lock
a pipeline step holds, so a correction and a step never interleave."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from journal.models import Exercise, ExerciseSet, Workout

LABELLED = ExerciseSet.Source.LABELLED


class CorrectionError(ValueError):
    """A correction that cannot be made, with a message for the person who asked."""


def _lock(set_id: int, owner) -> tuple[Workout, ExerciseSet]:
    exercise_set = ExerciseSet.objects.select_related("workout").get(pk=set_id, owner=owner)
    workout = Workout.objects.select_for_update().get(pk=exercise_set.workout_id)
    return workout, ExerciseSet.objects.get(pk=set_id)  # read again under the lock


def renumber(workout: Workout) -> None:
    """Ordinals in time order again (the unique constraint is checked at commit), and a new
    `sets_version`: every correction ends here."""
    for ordinal, row in enumerate(workout.sets.order_by("start_s", "pk")):
        if row.ordinal != ordinal:
            ExerciseSet.objects.filter(pk=row.pk).update(ordinal=ordinal)
    Workout.objects.filter(pk=workout.pk).update(sets_version=F("sets_version") + 1)


@transaction.atomic
def correct(set_id: int, owner, **changes) -> ExerciseSet:
    """Change any of exercise (a slug; a new name becomes a new exercise), reps, weight_kg, notes."""
    workout, exercise_set = _lock(set_id, owner)
    if "exercise" in changes:
        slug = changes.pop("exercise")
        Exercise.ensure({slug})
        exercise_set.exercise_id = slug
    for field, value in changes.items():
        setattr(exercise_set, field, value)
    exercise_set.source, exercise_set.labelled_by = LABELLED, owner
    exercise_set.save()
    renumber(workout)
    return exercise_set


@transaction.atomic
def split(set_id: int, owner, at_s: float) -> tuple[ExerciseSet, ExerciseSet]:
    """Two sets meeting at `at_s` (seconds into the workout); repetitions go to the side they fell on."""
    workout, first = _lock(set_id, owner)
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
        closed=True, source=LABELLED, labelled_by=owner, model_version=first.model_version,
    )
    second.save()
    first.end_s, first.reps, first.rep_times_s, first.source, first.closed = at_s, reps_before, before, LABELLED, True
    first.labelled_by = owner
    first.save()
    renumber(workout)
    return first, second


@transaction.atomic
def merge_with_next(set_id: int, owner) -> ExerciseSet:
    """One set from this one and the next: the reps added, the first one's exercise and load."""
    workout, first = _lock(set_id, owner)
    following = workout.sets.filter(start_s__gt=first.start_s).order_by("start_s").first()
    if following is None:
        raise CorrectionError("this is the workout's last set: there is nothing after it to merge with")
    first.end_s = max(first.end_s, following.end_s)
    first.reps += following.reps
    first.rep_times_s = list(first.rep_times_s) + list(following.rep_times_s)
    first.notes = "\n".join(n for n in (first.notes, following.notes) if n)
    first.confidence = min(first.confidence, following.confidence)
    first.source, first.closed, first.labelled_by = LABELLED, True, owner
    following.delete()
    first.save()
    renumber(workout)
    return first


@transaction.atomic
def delete(set_id: int, owner) -> None:
    """Remove the set; the machine will not find one in its place again."""
    workout, exercise_set = _lock(set_id, owner)
    workout.dismissed = [*workout.dismissed, [exercise_set.start_s, exercise_set.end_s]]
    workout.save(update_fields=["dismissed", "updated_at"])
    exercise_set.delete()
    renumber(workout)
