"""The pipeline's Celery tasks: live steps whenever frames arrive, a final pass when a recording
ends or goes quiet. One step per recording at a time (the workout's row lock); any number of
recordings in parallel across workers. Delivery is at least once (acks_late); every step is
idempotent."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import redis

from asgiref.sync import async_to_sync
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Max, Q
from django.utils import timezone

from ingest.models import Recording
from ingest.handoff import report_processed
from ingest.push import flush_waiting
from ingest.storage import append_to_streams
from journal import notices, pipeline
from journal.models import Workout

log = logging.getLogger(__name__)

# PostgreSQL or Redis away for a moment: try again, backing off up to half a minute.
OUTAGES = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


@shared_task(ignore_result=True, autoretry_for=OUTAGES, retry_backoff=1, retry_backoff_max=30, max_retries=None)
def process_recordings(recording_ids: list[str], final: bool = False) -> None:
    """Bring the recordings' sets up to date: a live step each, all in one transaction; the final
    pass too for each that has ended (or, with `final`, went quiet). A recording another step holds
    is queued again for a second later, not waited for. When a batch fails for any other reason than
    an outage, each of its recordings is tried on its own: one that cannot be processed must not
    hold up the others."""
    try:
        _process(recording_ids, final)
    except OUTAGES:
        raise
    except Exception:
        if len(recording_ids) == 1:
            raise
        log.exception("a batch of steps failed: each recording on its own", extra={"recordings": len(recording_ids)})
        for recording_id in recording_ids:
            try:
                _process([recording_id], final)
            except OUTAGES:
                raise
            except Exception:
                log.exception("step failed", extra={"recording": str(recording_id)})


def _process(recording_ids: list[str], final: bool) -> None:
    ids = [uuid.UUID(str(r)) for r in recording_ids]
    steps = pipeline.live_steps(ids)
    if steps.busy:  # their steps may have read the streams before our frames arrived
        process_recordings.apply_async(([str(r) for r in steps.busy], final), countdown=1)
    workouts = steps.workouts
    for missing in set(ids) - workouts.keys() - set(steps.busy):
        log.warning("no such recording", extra={"recording": str(missing)})
    changed = set(steps.stepped)
    for workout in list(workouts.values()):
        recording = workout.recording
        if (final or recording.status == Recording.Status.ENDED) and workout.processed_frames >= recording.next_seq \
                and workout.finalized_at is None:
            try:
                workouts[workout.pk] = pipeline.final_pass(recording.id)
            except LookupError as error:  # no model reads this recording's channels: nothing to do, ever
                log.warning("recording not processed", extra={"recording": str(recording.id), "error": str(error)})
                # Final with no sets, so that the sweep stops asking for it every few seconds.
                Workout.objects.filter(pk=recording.id).update(finalized_at=timezone.now())
                continue
            changed.add(recording.id)
    notices.sets_changed(*changed)
    report_processed({recording_id: workout.processed_frames for recording_id, workout in workouts.items()})


@shared_task(ignore_result=True)
def sweep_recordings() -> None:
    """Final passes nobody asked for: recordings ended without their trigger arriving, and
    recordings that went quiet (the watch died or walked out of range). Pushed messages held for
    one that never came are put on their recordings first (a step follows for them)."""
    flushed = flush_waiting()
    if flushed:
        try:  # the live step reads the streams; the final pass, the archive, which has them already
            async_to_sync(append_to_streams)(flushed)
        except (redis.RedisError, OSError):
            log.warning("flushed push frames not streamed", exc_info=True)
        process_recordings.delay(sorted({str(frame.recording_id) for frame in flushed}))
    quiet_since = timezone.now() - timedelta(seconds=settings.PIPELINE_QUIET_SECONDS)
    due = (
        Recording.objects.filter(workout__finalized_at__isnull=True)
        .annotate(last_frame_at=Max("frames__received_at"))
        .filter(Q(status=Recording.Status.ENDED) | Q(last_frame_at__lt=quiet_since), last_frame_at__isnull=False)
        .order_by()
    )
    # Ids only (a row's other columns are the recording's own task's business), and each
    # recording a task of its own: one that cannot be processed fails its own task (logged
    # there) and holds up nobody else's final pass.
    for recording_id, last_frame_at, pushed in due.values_list("id", "last_frame_at", "push"):
        if pushed is not None:  # the app's silence is the only end a pushed recording has
            Recording.objects.filter(pk=recording_id, status=Recording.Status.RECORDING).update(
                status=Recording.Status.ENDED, ended_at=last_frame_at)
        process_recordings.delay([str(recording_id)], final=True)


@shared_task(ignore_result=True)
def retrain_model(run_id: int) -> None:
    """An admin's retraining, with its progress on the TrainingRun (journal/retraining.py)."""
    from journal.models import TrainingRun
    from journal.retraining import retrain

    try:
        retrain(TrainingRun.objects.get(pk=run_id))
    except ValueError as error:  # a reason for the admin, already on the run: not a crash
        log.warning("retraining refused", extra={"run": run_id, "error": str(error)})


@shared_task(ignore_result=True, autoretry_for=OUTAGES, retry_backoff=1, retry_backoff_max=30, max_retries=None)
def rebuild_memory(owner_id: int) -> None:
    """The athlete's exercise memory from their labelled sets as they are now (journal/athlete_memory.py),
    then its gain measured on the training queue."""
    from journal.athlete_memory import rebuild, rebuild_started

    rebuild_started(owner_id)
    rebuild(owner_id)
    measure_memory_gain.delay(owner_id)


@shared_task(ignore_result=True, autoretry_for=OUTAGES, retry_backoff=1, retry_backoff_max=30, max_retries=None)
def measure_memory_gain(owner_id: int) -> None:
    """How much better the athlete's memory names their own sets than the general model (leave one set out)."""
    from journal.athlete_memory import measure_gain

    measure_gain(owner_id)


@shared_task(ignore_result=True, autoretry_for=OUTAGES, retry_backoff=1, retry_backoff_max=30, max_retries=None)
def reprocess_recording(recording_id: str) -> None:
    """The final pass again with the model active now: machine sets replaced, labelled ones kept."""
    pipeline.final_pass(uuid.UUID(recording_id), active_model=True)
    notices.sets_changed(recording_id)
