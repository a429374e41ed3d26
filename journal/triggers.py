"""Starting the pipeline when the ingest stores frames: at most one queued task per recording
(a Redis flag), not one per frame and not a busy poll."""

from __future__ import annotations

import asyncio

from config.redis import async_redis_client

PENDING_SECONDS = 60  # a flag whose task was lost expires, and the next frames queue a new one


async def on_frames_stored(sender, recording_ids, **kwargs) -> None:
    from journal.tasks import pending_key

    ids = sorted(recording_ids)
    pipe = async_redis_client().pipeline(transaction=False)
    for recording_id in ids:
        pipe.set(pending_key(recording_id), 1, nx=True, ex=PENDING_SECONDS)
    fresh = [recording_id for recording_id, newly_set in zip(ids, await pipe.execute()) if newly_set]
    if fresh:
        await asyncio.to_thread(_enqueue, fresh)


async def on_recording_ended(sender, recording_id, **kwargs) -> None:
    await asyncio.to_thread(_enqueue, [recording_id])


def _enqueue(recording_ids) -> None:
    from journal.tasks import process_recording

    for recording_id in recording_ids:
        process_recording.delay(str(recording_id))
