"""The journal (workouts by day, a month calendar), a workout with its sets and the athlete's
corrections, its signal, and the live page. Every query starts from the signed-in user's rows."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import etag, require_POST

from classifier.preprocessing import select_channels
from ingest.models import Device, Recording
from journal import set_changes, stats
from journal.filters import WorkoutFilter
from journal.models import Exercise, ExerciseSet, Workout
from web import charts
from web.forms import NameForm, SetForm, SplitForm, WorkoutNotesForm


def _summary(sets: list[ExerciseSet]) -> list[str]:
    return stats.summarise((s.exercise.name, stats.shown_reps(s.reps, s.arm_still)) for s in sets)


@login_required
def journal(request):
    workouts = Workout.objects.filter(owner=request.user).select_related("recording__device").order_by("-started_at")
    filtered = WorkoutFilter(request.GET, queryset=workouts.defer("probabilities", "segmenter", "dismissed"))
    page = Paginator(filtered.qs, 20).get_page(request.GET.get("page"))
    sets = stats.sets_by_workout([w.pk for w in page])
    days = [(day, [(w, stats.summarise(sets.get(w.pk, [])), len(sets.get(w.pk, []))) for w in group])
            for day, group in groupby(page, key=lambda w: w.date)]
    return render(request, "web/journal.html", {
        "page": page, "days": days, "month": _month(request), "filtered": bool(request.GET.get("date_after")),
        "live": Recording.objects.filter(owner=request.user, status=Recording.Status.RECORDING).first(),
    })


def _month(request) -> dict:
    """A month calendar with the number of workouts on each day; ?month=2026-10."""
    today = timezone.localdate()
    try:
        year, month = map(int, request.GET.get("month", "").split("-"))
        first = date(year, month, 1)
    except ValueError:
        first = today.replace(day=1)
    if not date.min.year < first.year < date.max.year:  # the month before or after would not be a date
        first = today.replace(day=1)
    weeks = calendar.Calendar().monthdatescalendar(first.year, first.month)
    counts = dict(Workout.objects.filter(owner=request.user, date__range=(weeks[0][0], weeks[-1][-1]))
                  .values_list("date").annotate(n=Count("pk")))
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return {"first": first, "today": today, "previous": previous, "next": following,
            "weeks": [[(day, counts.get(day, 0), day.month == first.month) for day in week] for week in weeks]}


def _own_workout(request, recording_id) -> Workout:
    return get_object_or_404(Workout.objects.select_related("recording__device"), pk=recording_id, owner=request.user)


@login_required
def workout(request, recording_id):
    item = _own_workout(request, recording_id)
    sets = list(item.sets.select_related("exercise", "labelled_by").order_by("ordinal"))
    known = set(item.model_labels()) | set(ExerciseSet.objects.filter(owner=request.user)
                                           .values_list("exercise_id", flat=True).order_by().distinct())
    suggested = {slug for s in sets if s.source == ExerciseSet.Source.MACHINE for slug in s.suggestions}
    names = dict(Exercise.objects.filter(slug__in=suggested).values_list("slug", "name")) if suggested else {}
    for s in sets:  # an unknown set's closest exercises of the athlete's own, by name, for one tap
        s.suggested = [(slug, names.get(slug, slug)) for slug in s.suggestions] if s.source == ExerciseSet.Source.MACHINE else []
    return render(request, "web/workout.html", {
        "workout": item, "sets": sets, "summary": _summary(sets), "exercises": sorted(known - {"rest"}),
        "notes_form": WorkoutNotesForm(instance=item),
    })


def _signal_etag(request, recording_id):
    """The drawing changes only with new frames or changed sets: a browser that has it asks once."""
    state = Workout.objects.filter(pk=recording_id, owner=request.user).values_list("processed_frames", "sets_version").first()
    return None if state is None else f"{recording_id}-{state[0]}-{state[1]}"


@login_required
@etag(_signal_etag)
def signal_svg(request, recording_id):
    """The recorded signal's envelope with the sets over it (an <img> of the workout page, so the
    page itself never waits for the archive)."""
    item = _own_workout(request, recording_id)
    samples = item.recording.read_samples()
    channels = list(item.recording.channels)
    drawn = select_channels(samples, channels, [name for name in channels if name.startswith("gyr")] or channels)
    sets = list(item.sets.select_related("exercise"))
    duration_s = len(samples) / item.recording.rate_hz
    svg = charts.timeline(sets, duration_s, charts.envelope(drawn), height=200, title="The recorded signal and its sets")
    return HttpResponse(svg, content_type="image/svg+xml")


@login_required
@require_POST
def notes(request, recording_id):
    form = WorkoutNotesForm(request.POST, instance=_own_workout(request, recording_id))
    if form.is_valid():
        form.save()
        messages.success(request, "Notes saved.")
    return redirect("workout", recording_id=recording_id)


def _own_set(request, set_id) -> ExerciseSet:
    return get_object_or_404(ExerciseSet, pk=set_id, owner=request.user)


def _back(exercise_set: ExerciseSet):
    return redirect(reverse("workout", args=[exercise_set.workout_id]) + "#sets")


@login_required
@require_POST
def edit_set(request, set_id):
    return _corrected(request, set_id, SetForm, done="corrected; the machine will keep it as you left it", failed="changed")


@login_required
@require_POST
def name_set(request, set_id):
    """One tap on a suggestion: the set's exercise named, nothing else of it changed."""
    return _corrected(request, set_id, NameForm, done="named; the journal learns from it", failed="named")


def _corrected(request, set_id, form_class, *, done: str, failed: str):
    """The athlete's set changed as the form says (its fields only), and a message either way."""
    exercise_set = _own_set(request, set_id)
    form = form_class(request.POST)
    if form.is_valid():
        set_changes.correct(exercise_set.pk, request.user, **form.cleaned_data)
        messages.success(request, f"Set {exercise_set.ordinal + 1} {done}.")
    else:
        messages.error(request, f"Set {exercise_set.ordinal + 1} not {failed}: " + "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
    return _back(exercise_set)


@login_required
@require_POST
def split_set(request, set_id):
    exercise_set = _own_set(request, set_id)
    form = SplitForm(request.POST)
    try:
        if not form.is_valid():
            raise set_changes.CorrectionError(" ".join(form.errors["at_s"]))
        set_changes.split(exercise_set.pk, request.user, form.cleaned_data["at_s"])
        messages.success(request, f"Set {exercise_set.ordinal + 1} split in two.")
    except set_changes.CorrectionError as error:
        messages.error(request, f"Set {exercise_set.ordinal + 1} not split: {error}.")
    return _back(exercise_set)


@login_required
@require_POST
def merge_set(request, set_id):
    exercise_set = _own_set(request, set_id)
    try:
        set_changes.merge_with_next(exercise_set.pk, request.user)
        messages.success(request, f"Sets {exercise_set.ordinal + 1} and {exercise_set.ordinal + 2} merged.")
    except set_changes.CorrectionError as error:
        messages.error(request, f"Not merged: {error}.")
    return _back(exercise_set)


@login_required
@require_POST
def delete_set(request, set_id):
    exercise_set = _own_set(request, set_id)
    set_changes.delete(exercise_set.pk, request.user)
    messages.success(request, f"Set {exercise_set.ordinal + 1} deleted; the machine will not put one there again.")
    return _back(exercise_set)


@login_required
def live(request, recording_id=None):
    """The workout being recorded: sets appear and counts grow as they happen (web/consumers.py).
    Without an id, the newest recording in progress, or a page that waits for one."""
    recordings = Recording.objects.filter(owner=request.user)
    if recording_id is None:
        newest = recordings.filter(status=Recording.Status.RECORDING).order_by("-started_at").first()
        if newest is not None:
            return redirect("live", recording_id=newest.id)
        return render(request, "web/live_waiting.html",
                      {"has_watch": Device.objects.active().filter(owner=request.user).exists()})
    recording = get_object_or_404(recordings.select_related("device"), id=recording_id)
    return render(request, "web/live.html", {"recording": recording, **live_context(recording)})


def live_context(recording: Recording) -> dict:
    """What the live page shows and its WebSocket updates: sets, timeline, current activity."""
    item = Workout.objects.filter(pk=recording.pk).first()
    sets = list(item.sets.select_related("exercise").order_by("ordinal")) if item else []
    activity = item.current_activity() if item and recording.status == Recording.Status.RECORDING else None
    return {"workout": item, "sets": sets, "summary": _summary(sets), "activity": activity,
            "ended": recording.status == Recording.Status.ENDED, "finalized": bool(item and item.finalized_at),
            "timeline": charts.timeline(sets, item.duration_s if item else 0.0, title="Sets so far")}
