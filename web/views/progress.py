"""Progress per exercise: sets, reps and volume per week over the last year, personal records."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from journal import stats
from web import charts

WEEKS_SHOWN = 52


@login_required
def progress(request):
    totals = [t for t in stats.exercise_totals(request.user) if t["exercise"] != "unknown"]
    chosen = next((t for t in totals if t["exercise"] == request.GET.get("exercise")), totals[0] if totals else None)
    context = {"totals": totals, "chosen": chosen}
    if chosen:
        today = timezone.localdate()
        weeks = stats.weekly(request.user, chosen["exercise"], today - timedelta(weeks=WEEKS_SHOWN - 1), today)
        context.update(weeks=weeks, chart=charts.weekly_bars(weeks, title=f"{chosen['name']}: reps per week"),
                       records=stats.records(request.user, chosen["exercise"]),
                       has_volume=any(w.volume_kg for w in weeks), trained_weeks=[w for w in weeks if w.sets])
    return render(request, "web/progress.html", context)
