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
        since = timezone.localdate() - timedelta(weeks=WEEKS_SHOWN)
        weeks = stats.weekly(request.user, chosen["exercise"], since)
        context.update(weeks=weeks, chart=charts.weekly_bars(weeks, title=f"{chosen['name']}: reps per week"),
                       records=stats.records(request.user, chosen["exercise"]),
                       has_volume=any(w.volume_kg for w in weeks))
    return render(request, "web/progress.html", context)
