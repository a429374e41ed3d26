"""What the journal and progress pages summarise: a workout's sets in a line, and per exercise
the weekly sets, reps and volume with the personal records. Aggregated in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from django.db.models import Count, F, Max, Sum
from django.db.models.functions import TruncWeek

from journal.models import ExerciseSet


def summarise(sets: Iterable[tuple[str, int | None]]) -> list[str]:
    """(exercise name, reps) of a workout's sets in order → ["Squat 3 × 10, 10, 8", …], the
    exercises in the order they were first done. A count of None — the watch's arm did not move
    and nobody entered one — is shown as "?", not as 0 repetitions."""
    by_exercise: dict[str, list[str]] = {}
    for name, reps in sets:
        by_exercise.setdefault(name, []).append("?" if reps is None else str(reps))
    return [f"{name} {len(reps)} × {', '.join(reps)}" for name, reps in by_exercise.items()]


def shown_reps(reps: int, arm_still: bool) -> int | None:
    """A set's count as the summaries show it: None where the machine had none to give."""
    return None if arm_still else reps


def sets_by_workout(workout_ids: list) -> dict[object, list[tuple[str, int | None]]]:
    """(exercise name, reps) of each workout's sets in order, in one query of plain values: a page
    of the journal holds hundreds of sets, and model instances for each cost more than the query."""
    rows = (ExerciseSet.objects.filter(workout_id__in=workout_ids).order_by("workout_id", "ordinal")
            .values_list("workout_id", "exercise__name", "reps", "arm_still"))
    return {workout_id: [(name, shown_reps(reps, arm_still)) for _, name, reps, arm_still in group]
            for workout_id, group in groupby(rows, key=lambda row: row[0])}


@dataclass(frozen=True)
class Week:
    start: date
    sets: int
    reps: int
    volume_kg: float


@dataclass(frozen=True)
class Record:
    what: str
    value: str
    on: date


def exercise_totals(owner, sets=None) -> list[dict]:
    """Every exercise the owner has done (in `sets`, a filtered queryset of theirs, when given):
    slug, name, sets, reps, last date — most sets first."""
    return list((ExerciseSet.objects.filter(owner=owner) if sets is None else sets.filter(owner=owner))
                .values("exercise", name=F("exercise__name"))
                .annotate(sets=Count("id"), reps=Sum("reps"), last=Max("date"))
                .order_by("-sets", "name"))


def weekly_totals(owner, exercise: str, since: date):
    """The weeks with sets, aggregated in PostgreSQL from the (owner, exercise, date) index."""
    return (ExerciseSet.objects.filter(owner=owner, exercise=exercise, date__gte=since)
            .annotate(week=TruncWeek("date")).values("week")
            .annotate(n_sets=Count("id"), n_reps=Sum("reps"), volume=Sum(F("reps") * F("weight_kg")))
            .order_by("week"))


def weekly(owner, exercise: str, since: date, until: date) -> list[Week]:
    """Every week from the one holding `since` to the one holding `until`, the empty ones too."""
    found = {r["week"]: Week(r["week"], r["n_sets"], r["n_reps"], r["volume"] or 0.0)
             for r in weekly_totals(owner, exercise, since)}
    monday, last = since - timedelta(days=since.weekday()), until - timedelta(days=until.weekday())
    return [found.get(week, Week(week, 0, 0, 0.0)) for week in (monday + timedelta(weeks=i) for i in range((last - monday).days // 7 + 1))]


def records(owner, exercise: str) -> list[Record]:
    """Most reps in one set, heaviest load, biggest single-set volume — each with its first date."""
    sets = ExerciseSet.objects.filter(owner=owner, exercise=exercise)
    found = []
    best_reps = sets.order_by("-reps", "date").values("reps", "date").first()
    if best_reps:
        found.append(Record("Most reps in a set", str(best_reps["reps"]), best_reps["date"]))
    loaded = sets.filter(weight_kg__isnull=False)
    heaviest = loaded.order_by("-weight_kg", "date").values("weight_kg", "reps", "date").first()
    if heaviest:
        found.append(Record("Heaviest set", f"{heaviest['weight_kg']:g} kg × {heaviest['reps']}", heaviest["date"]))
        volume = (loaded.annotate(volume=F("reps") * F("weight_kg")).order_by("-volume", "date")
                  .values("volume", "date").first())
        found.append(Record("Biggest set volume", f"{volume['volume']:g} kg", volume["date"]))
    return found
