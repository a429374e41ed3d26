"""Search the sets: exercise, date range, reps range and words in the notes, combinable; the
query string is the shareable URL, and the same filter drives the CSV export and /api/sets/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from journal.filters import ExerciseSetFilter
from journal.models import ExerciseSet
from journal.stats import exercise_totals


def own_sets(user):
    return ExerciseSet.objects.filter(owner=user).newest_first()


@login_required
def search(request):
    found = ExerciseSetFilter(request.GET, queryset=own_sets(request.user))
    page = Paginator(found.qs.none() if found.errors else found.qs, 25).get_page(request.GET.get("page"))
    return render(request, "web/search.html", {
        "filter": found, "page": page, "searched": any(value for key, value in request.GET.items() if key != "page"),
        "exercises": exercise_totals(request.user),
    })
