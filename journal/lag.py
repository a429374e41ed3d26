"""How far the pipeline is behind the watches, for the recordings still being streamed."""

from __future__ import annotations

from django.db.models import F, Max, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ingest.models import Frame, Recording


def streaming_recordings_with_lag():
    """Recordings still streaming, each annotated with `frames_behind` (stored but not processed)
    and `oldest_waiting_at` (when the oldest of those arrived)."""
    oldest_waiting = (
        Frame.objects.filter(recording=OuterRef("pk"), seq__gte=OuterRef("processed"))
        .order_by().values("recording").annotate(first=Min("received_at")).values("first")
    )
    return (
        Recording.objects.filter(status=Recording.Status.RECORDING)
        .annotate(processed=Coalesce("workout__processed_frames", Value(0)), last_seq=Max("frames__seq"))
        .exclude(last_seq=None)
        .annotate(frames_behind=F("last_seq") + 1 - F("processed"), oldest_waiting_at=Subquery(oldest_waiting))
    )


def lag_seconds(recording) -> float:
    """How long the oldest unprocessed frame of an annotated recording has waited."""
    if recording.oldest_waiting_at is None:
        return 0.0
    return max(0.0, (timezone.now() - recording.oldest_waiting_at).total_seconds())
