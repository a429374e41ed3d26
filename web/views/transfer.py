"""Import a recording file (processed like a streamed one) and export the journal as CSV."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from ingest.recordings import import_gym_recording, read_recording_file
from journal.filters import ExerciseSetFilter
from web.forms import ImportForm
from web.views.search import own_sets

EXPORT_COLUMNS = ["date", "workout_started_at", "workout", "set", "exercise", "reps", "weight_kg", "start_s", "end_s",
                  "confidence", "source", "model_version", "notes", "workout_notes"]


@login_required
def import_recording(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        # pandas needs the name's suffix to see a .gz, so the upload is read from a named file.
        with tempfile.NamedTemporaryFile(suffix="".join(Path(upload.name).suffixes)) as copy:
            for chunk in upload.chunks():
                copy.write(chunk)
            copy.flush()
            try:  # a file the watch door would refuse is refused here too, and nothing is stored
                signal, file_started_at = read_recording_file(copy.name)
                started_at = form.cleaned_data["started_at"] or file_started_at or timezone.now()
                recording, created = import_gym_recording(signal, owner=request.user, started_at=started_at,
                                                          side=form.cleaned_data["side"],
                                                          placement=form.cleaned_data["placement"] or None)
            except ValueError as error:
                form.add_error("file", f"{upload.name} cannot be imported: " + str(error).replace(f"{copy.name}: ", ""))
            else:
                messages.success(request, f"{upload.name}: {signal.duration_s / 60:.1f} minutes imported; its sets appear "
                                          "below as the workers find them." if created else f"{upload.name} was imported before.")
                return redirect("live", recording_id=recording.id)
    return render(request, "web/import.html", {"form": form})


class _Echo:
    def write(self, value):
        return value


@login_required
def export_csv(request):
    """Every set (or those the search's parameters select), one row each, streamed."""
    sets = ExerciseSetFilter(request.GET, queryset=own_sets(request.user)).qs
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(EXPORT_COLUMNS)
        for s in sets.iterator(chunk_size=2000):
            yield writer.writerow([s.workout.date, s.workout.started_at.isoformat(), s.workout_id, s.ordinal + 1, s.exercise_id,
                                   s.reps, s.weight_kg, s.start_s, s.end_s, round(s.confidence, 3), s.source,
                                   s.model_version, s.notes, s.workout.notes])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="journal-{timezone.localdate():%Y-%m-%d}.csv"'
    return response
