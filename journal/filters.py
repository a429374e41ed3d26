"""Query parameters of the set search (the search page and /api/sets/) and the workout list
(django-filter), e.g. ?exercise=pull_up&reps_min=8&date_after=2026-10-01&date_before=2026-10-31&q=grip.
The parameters are the shareable URL."""

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Q

from ingest.models import Device
from journal.models import ExerciseSet, Workout

CONFIG = "english"  # the expressions match the GIN indexes on the notes (journal/models.py)


class SetSearchForm(forms.Form):
    """An empty range is a mistake to point out (the page, or a 400 from the API), not a search
    that found nothing."""

    def clean(self):
        data = super().clean()
        reps, dates = data.get("reps"), data.get("date")
        if reps and None not in (reps.start, reps.stop) and reps.start > reps.stop:
            self.add_error("reps", f"at least {reps.start} and at most {reps.stop}: no number of reps is both; swap them")
        if dates and None not in (dates.start, dates.stop) and dates.start > dates.stop:
            self.add_error("date", f"from {dates.start:%Y-%m-%d} to {dates.stop:%Y-%m-%d}: the range ends before it starts")
        return data


class ExerciseSetFilter(django_filters.FilterSet):
    exercise = django_filters.CharFilter(field_name="exercise__slug", label="Exercise")
    date = django_filters.DateFromToRangeFilter(field_name="date", label="Date")
    reps = django_filters.RangeFilter(label="Reps")
    q = django_filters.CharFilter(method="filter_notes", label="Notes contain",
                                  help_text='Words in the set\'s or the workout\'s notes, e.g. "grip -elbow"')
    source = django_filters.ChoiceFilter(choices=ExerciseSet.Source.choices)
    workout = django_filters.UUIDFilter(field_name="workout_id")

    class Meta:
        model = ExerciseSet
        fields = ["exercise", "date", "reps", "q", "source", "workout"]
        form = SetSearchForm

    def filter_notes(self, queryset, name, value):
        """Sets whose own notes or whose workout's notes match: each side through its GIN index,
        then only the requester's rows (an OR over one expression would read every set)."""
        query = SearchQuery(value, config=CONFIG, search_type="websearch")
        noted_sets = ExerciseSet.objects.annotate(text=SearchVector("notes", config=CONFIG)).filter(text=query)
        noted_workouts = Workout.objects.annotate(text=SearchVector("notes", config=CONFIG)).filter(text=query)
        return queryset.filter(Q(pk__in=noted_sets.values("pk")) | Q(workout__in=noted_workouts.values("pk")))


class WorkoutFilter(django_filters.FilterSet):
    date = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Workout
        fields = ["date"]


class DeviceFilter(django_filters.FilterSet):
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True,
                                           label="Revoked (true) or still allowed to stream (false)")

    class Meta:
        model = Device
        fields = ["revoked"]
