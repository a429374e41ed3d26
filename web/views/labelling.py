"""The labelling page (staff only): a recording's signal with its sets, to correct by hand. The
page is a shell; web/static/web/label.js draws and edits through /api/recordings/<id>/…"""

from pathlib import Path

from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from ingest.models import Recording
from journal.models import Exercise, ModelVersion


@staff_member_required
def label(request, recording_id):
    recording = get_object_or_404(Recording.objects.select_related("owner", "device"), pk=recording_id)
    return render(request, "web/label.html", {
        "recording": recording, "exercises": dict(Exercise.objects.exclude(slug="rest").values_list("slug", "name")),
    })


@staff_member_required
def model_confusion(request, version_id):
    """A registered version's confusion matrix on its held-out recordings (shown in the admin)."""
    version = get_object_or_404(ModelVersion, pk=version_id)
    path = Path(version.path) / "evaluation" / "confusion.png"
    if not path.is_file():
        raise Http404("this version has no confusion matrix")
    return FileResponse(path.open("rb"), content_type="image/png")
