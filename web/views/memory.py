"""What the journal learned from the athlete's own labelled sets (journal/athlete_memory.py), and
the reset that makes it forget."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from journal import athlete_memory
from journal.models import AthleteMemory, Exercise


@login_required
def memory(request):
    memories = list(AthleteMemory.objects.filter(owner=request.user).defer("data").order_by("model_version"))
    # One memory per model (each reads its own embedding), taught the same labelled sets: the
    # athlete sees the exercises once, with the most sets any of them learned from.
    learned: dict[str, int] = {}
    for memory in memories:
        for exercise, count in memory.sets_taught.items():
            learned[exercise] = max(learned.get(exercise, 0), count)
    names = dict(Exercise.objects.filter(slug__in=learned).values_list("slug", "name"))
    return render(request, "web/memory.html", {"memories": memories,
                                                "learned": sorted((names.get(slug, slug), count) for slug, count in learned.items()),
                                                "built_at": max((m.built_at for m in memories), default=None)})


@login_required
@require_POST
def reset(request):
    athlete_memory.reset(request.user.pk)
    messages.success(request, "The journal forgot what it learned from your sets. The sets you name from now on teach it again; "
                              "your sets keep their names.")
    return redirect("memory")
