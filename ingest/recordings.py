"""Bringing recordings in without a watch, through the same durable path as streamed frames."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime

from asgiref.sync import async_to_sync

from classifier.gymformat import GymRecording
from ingest.models import Device, Recording
from ingest.storage import AcceptedFrame, frame_store

IMPORT_NAMESPACE = uuid.UUID("5f1c3b7e-1d0a-4c55-9a39-6b1f3c2e8d10")


def import_id(recording: GymRecording, owner_id: int) -> uuid.UUID:
    """The same signal imported by the same person always gets the same id, so importing a file
    twice is harmless; another person importing that file gets a recording of their own."""
    digest = hashlib.sha256(recording.samples.tobytes() + ",".join(recording.channels).encode())
    return uuid.uuid5(IMPORT_NAMESPACE, f"{digest.hexdigest()}@{recording.rate_hz}/{owner_id}")


def import_gym_recording(
    recording: GymRecording, *, owner, started_at: datetime, device: Device | None = None, frame_size: int = 50
) -> tuple[Recording, bool]:
    """Archive and stream a recording as frames of `frame_size` samples. Returns (recording, created)."""
    row, created = Recording.objects.get_or_create(
        id=import_id(recording, owner.pk),
        defaults={
            "owner": owner, "device": device, "rate_hz": recording.rate_hz, "channels": recording.channels,
            "started_at": started_at, "ended_at": started_at, "status": Recording.Status.ENDED,
            "source": Recording.Source.IMPORT,
        },
    )
    frames = [
        AcceptedFrame(row.id, seq, recording.samples[start:start + frame_size])
        for seq, start in enumerate(range(0, len(recording.samples), frame_size))
    ]
    # Frames already archived by an interrupted import are skipped by the store itself.
    store_frames(frames)
    return row, created


def store_frames(frames: list[AcceptedFrame]) -> None:
    """Store accepted frames as the ingest does (archive + stream), from synchronous code."""
    async_to_sync(_store_all)(frames)


async def _store_all(frames: list[AcceptedFrame]) -> None:
    store = frame_store()
    await asyncio.gather(*(store.store(frame) for frame in frames))  # a few large groups
