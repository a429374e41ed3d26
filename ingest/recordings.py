"""Bringing recordings in without a watch, through the same durable path as streamed frames."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings

from classifier.gymformat import GymRecording, read_gym_csv
from classifier.sensorlogger import read_sensor_logger_zip
from ingest.models import Device, Placement, Recording
from ingest.protocol import check_rate, check_samples, check_started_at
from ingest.storage import AcceptedFrame, frame_store


IMPORTABLE_SUFFIXES = (".csv", ".csv.gz", ".zip")


def read_recording_file(path: Path | str) -> tuple[GymRecording, datetime | None]:
    """An importable file, and when it started where the file says so: a gym-format CSV (.csv or
    .csv.gz; no time of day), or a Sensor Logger zip export (classifier/sensorlogger.py). A
    ValueError says what is wrong with one that cannot be imported."""
    if str(path).lower().endswith(".zip"):
        try:
            export = read_sensor_logger_zip(path)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        return export.recording, export.started_at
    return read_gym_csv(path), None


def import_key(recording: GymRecording) -> str:
    """The file's signal as a digest: the same signal imported again by the same person is the
    same recording, so importing a file twice is harmless."""
    digest = hashlib.sha256(recording.samples.tobytes())
    digest.update(f"|{','.join(recording.channels)}|{recording.rate_hz!r}".encode())
    return digest.hexdigest()


def check_recording(recording: GymRecording, started_at: datetime) -> None:
    """What the watch door refuses, refused here too (a ValueError saying what and where)."""
    check_rate(recording.rate_hz)
    check_samples(recording.samples, max_abs=settings.INGEST_MAX_ABS_VALUE)
    try:
        check_started_at(started_at)
    except ValueError as error:
        raise ValueError(f"the start time {error}") from None


def import_gym_recording(
    recording: GymRecording, *, owner, started_at: datetime, device: Device | None = None, frame_size: int = 50,
    side: str | None = None, placement: str | None = None,
) -> tuple[Recording, bool]:
    """Archive and stream a recording as frames of `frame_size` samples. Returns (recording, created).
    How it was worn (`side`, `placement`) defaults to the device's settings, else not said and
    the wrist. A signal the watch door would refuse raises ValueError and stores nothing."""
    check_recording(recording, started_at)
    row, created = Recording.objects.get_or_create(  # a concurrent import of the same file finds this one
        owner=owner, import_key=import_key(recording),
        defaults={
            "device": device, "rate_hz": recording.rate_hz, "channels": recording.channels,
            "started_at": started_at, "ended_at": started_at, "status": Recording.Status.ENDED,
            "source": Recording.Source.IMPORT,
            "side": side if side is not None else (device.side if device else ""),
            "placement": placement or (device.placement if device else Placement.WRIST),
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
