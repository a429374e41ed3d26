"""Query parameters of the list endpoints (django-filter), e.g.
/api/sets/?exercise=pull_up&reps_min=8&date_after=2026-10-01&date_before=2026-10-31."""

import django_filters

from journal.models import ExerciseSet, Workout


class ExerciseSetFilter(django_filters.FilterSet):
    exercise = django_filters.CharFilter(field_name="exercise__slug")
    date = django_filters.DateFromToRangeFilter(field_name="workout__date")
    reps = django_filters.RangeFilter()
    source = django_filters.ChoiceFilter(choices=ExerciseSet.Source.choices)
    workout = django_filters.UUIDFilter(field_name="workout_id")

    class Meta:
        model = ExerciseSet
        fields = ["exercise", "date", "reps", "source", "workout"]


class WorkoutFilter(django_filters.FilterSet):
    date = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Workout
        fields = ["date"]
