"""Everything the ingest and the consumer of its frames (the journal's pipeline) share in Redis,
in one place, so that a reader of either side finds the contract here rather than by grepping
for key names:

- a **stream** per recording, its entries the accepted frames (entry id = seq), written by the
  ingest (storage.py) and read by the pipeline;
- a **pending flag** per recording, set when frames are stored and no step is queued yet (at
  most one queued step per recording), cleared by the step as it reads the stream;
- the **processed count** per recording, written by the pipeline after each batch of steps and
  read by the ingest, which asks a watch too far ahead of it to wait (backpressure)."""

from __future__ import annotations

import uuid

from config.redis import async_redis_client, redis_client

PENDING_SECONDS = 60  # a flag whose task was lost expires, and the next frames queue a new one
PROCESSED_SECONDS = 7 * 24 * 3600


def stream_key(recording_id: uuid.UUID) -> str:
    return f"ingest:stream:{recording_id}"


def stream_entry_id(seq: int) -> str:
    # seq as the id's time part: ids rise with seq, so Redis itself refuses a doubled frame.
    return f"{seq}-1"


def _pending_key(recording_id: uuid.UUID) -> str:
    return f"pipeline:pending:{recording_id}"


def _processed_key(recording_id: uuid.UUID) -> str:
    return f"ingest:processed:{recording_id}"


async def mark_pending(recording_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Flag the recordings as waiting for a step; those not flagged already (they need one queued)."""
    pipe = async_redis_client().pipeline(transaction=False)
    for recording_id in recording_ids:
        pipe.set(_pending_key(recording_id), 1, nx=True, ex=PENDING_SECONDS)
    return [recording_id for recording_id, newly_set in zip(recording_ids, await pipe.execute()) if newly_set]


def take_frames(first_frames: dict[uuid.UUID, int]) -> dict[uuid.UUID, list[tuple[bytes, dict]]]:
    """Each recording's stream entries from its first frame on, in one round trip that first
    clears the pending flags: frames stored from then on queue another step."""
    with redis_client().pipeline(transaction=False) as pipe:
        for recording_id, first in first_frames.items():
            pipe.delete(_pending_key(recording_id))
            pipe.xrange(stream_key(recording_id), min=stream_entry_id(first), max="+")
        streams = pipe.execute()[1::2]
    return dict(zip(first_frames, streams))


def report_processed(processed_frames: dict[uuid.UUID, int]) -> None:
    """How many frames of each recording the pipeline has processed: how far the ingest may let
    its watch run ahead."""
    with redis_client().pipeline(transaction=False) as pipe:
        for recording_id, frames in processed_frames.items():
            pipe.set(_processed_key(recording_id), frames, ex=PROCESSED_SECONDS)
        pipe.execute()


async def processed_frames(recording_id: uuid.UUID) -> int:
    """The last count `report_processed` gave for the recording (0 before any)."""
    return int(await async_redis_client().get(_processed_key(recording_id)) or 0)
