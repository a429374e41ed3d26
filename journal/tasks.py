"""The pipeline's Celery tasks: a live step whenever frames arrive, a final pass when a recording
ends or goes quiet. One task per recording at a time (a Redis lock); any number of recordings in
parallel across workers. Delivery is at least once (acks_late); every step is idempotent."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import redis

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Max, Q
from django.utils import timezone

from config.redis import redis_client
from ingest.models import Recording
from ingest.storage import processed_key
from journal import notices, pipeline
from journal.models import Workout

log = logging.getLogger(__name__)

# One round trip each: take the recording's lock and clear its pending flag (frames stored from
# then on queue another run); release the lock only if it is still ours.
_ACQUIRE = "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then redis.call('del', KEYS[2]); return 1 end; return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def pending_key(recording_id) -> str:
    return f"pipeline:pending:{recording_id}"


def lock_key(recording_id) -> str:
    return f"pipeline:lock:{recording_id}"


# PostgreSQL or Redis away for a moment: try again, backing off up to half a minute.
OUTAGES = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


@shared_task(ignore_result=True, autoretry_for=OUTAGES, retry_backoff=1, retry_backoff_max=30, max_retries=None)
def process_recording(recording_id: str, final: bool = False) -> None:
    """Bring the recording's sets up to date: a live step; the final pass too once it has ended
    (or `final`, when it went quiet)."""
    client = redis_client()
    token = uuid.uuid4().hex
    if not client.eval(_ACQUIRE, 2, lock_key(recording_id), pending_key(recording_id), token, settings.PIPELINE_LOCK_SECONDS):
        process_recording.apply_async((recording_id, final), countdown=1)  # the holder may have missed our frames
        return
    workout = None
    try:
        try:
            workout = pipeline.live_step(recording_id)
            changed = workout is not None
            workout = workout or Workout.objects.select_related("recording").get(pk=recording_id)
        except (Recording.DoesNotExist, Workout.DoesNotExist):
            log.warning("no such recording", extra={"recording": recording_id})
            return
        recording = workout.recording
        if (final or recording.status == Recording.Status.ENDED) and workout.processed_frames >= recording.next_seq \
                and workout.finalized_at is None:
            pipeline.final_pass(recording.id)
            changed = True
        if changed:
            notices.sets_changed(recording.id)
    except LookupError as error:  # no model reads this recording's channels: nothing to do, ever
        log.error("recording not processed", extra={"recording": recording_id, "error": str(error)})
    finally:
        try:
            with client.pipeline(transaction=False) as pipe:
                if workout is not None:  # how far the ingest may let the watch run ahead (its backpressure)
                    pipe.set(processed_key(recording_id), workout.processed_frames, ex=7 * 24 * 3600)
                pipe.eval(_RELEASE, 1, lock_key(recording_id), token)
                pipe.execute()
        except redis.RedisError:
            pass  # Redis is away: the lock expires by itself, and the next step sets the cursor


@shared_task(ignore_result=True)
def sweep_recordings() -> None:
    """Final passes nobody asked for: recordings ended without their trigger arriving, and
    recordings that went quiet (the watch died or walked out of range)."""
    quiet_since = timezone.now() - timedelta(seconds=settings.PIPELINE_QUIET_SECONDS)
    candidates = (
        Recording.objects.filter(workout__finalized_at__isnull=True)
        .annotate(last_frame_at=Max("frames__received_at"))
        .filter(last_frame_at__isnull=False)
    )
    for recording in candidates.filter(Q(status=Recording.Status.ENDED) | Q(last_frame_at__lt=quiet_since)):
        process_recording.delay(str(recording.id), final=True)


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
def reprocess_recording(recording_id: str) -> None:
    """The final pass again with the model active now: machine sets replaced, labelled ones kept."""
    pipeline.final_pass(uuid.UUID(recording_id), active_model=True)
    notices.sets_changed(recording_id)
