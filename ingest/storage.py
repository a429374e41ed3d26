"""Durable storage of accepted frames: the PostgreSQL archive and a Redis Stream per recording.

A frame is acknowledged only once it is in both. Writing each frame on its own would cost a
PostgreSQL commit (an fsync) and a Redis round trip per frame; a thousand watches send a
thousand frames a second. So frames are stored in groups ("group commit"): while one
group is being written, the frames that arrive meanwhile gather into the next one, and
every frame of a group is acknowledged when its group is stored. Under light load a group
is one frame and nothing waits; under heavy load groups grow and the cost per frame falls.

Both writes are idempotent, so a group that failed half-way can simply be sent again:
the archive's key is (recording, seq) and rows that exist are skipped; a stream entry's id
is derived from seq, and Redis refuses an id that is not past the stream's last one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from config.redis import async_redis_client
from ingest.handoff import stream_entry_id, stream_key
from ingest.models import SAMPLE_DTYPE, Frame
from ingest.signals import frames_stored

log = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """PostgreSQL or Redis did not take the frame: it is not acknowledged, the watch re-sends."""


@dataclass(frozen=True)
class AcceptedFrame:
    recording_id: uuid.UUID
    seq: int
    samples: np.ndarray  # (samples, channels)

    def payload(self) -> bytes:
        return np.ascontiguousarray(self.samples, dtype=SAMPLE_DTYPE).tobytes()


def archive(frames: list[AcceptedFrame], received_at: datetime | None = None) -> None:
    """The frames into the PostgreSQL archive, those already there skipped. One INSERT of five
    arrays (unnest), sent as five parameters: the ORM's bulk_create built five placeholders a
    frame and compiled them on every group, the web process's largest cost under load."""
    if not frames:
        return
    received_at = received_at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_archive_sql(), [[f.recording_id for f in frames], [f.seq for f in frames],
                                        [len(f.samples) for f in frames], [f.payload() for f in frames],
                                        [received_at] * len(frames)])


@functools.cache
def _archive_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Frame._meta.get_field(name).column) for name in ("recording", "seq", "n_samples", "samples", "received_at"))
    return (f"INSERT INTO {quote(Frame._meta.db_table)} ({columns}) "
            "SELECT * FROM unnest(%s::uuid[], %s::integer[], %s::integer[], %s::bytea[], %s::timestamptz[]) "
            "ON CONFLICT DO NOTHING")


async def append_to_streams(frames: list[AcceptedFrame]) -> None:
    pipe = async_redis_client().pipeline(transaction=False)
    for f in frames:
        pipe.xadd(
            stream_key(f.recording_id),
            {"n": len(f.samples), "samples": f.payload()},
            id=stream_entry_id(f.seq),
            maxlen=settings.INGEST_STREAM_MAX_FRAMES,
            approximate=True,
        )
    for result in await pipe.execute(raise_on_error=False):
        already_there = isinstance(result, redis.ResponseError) and "equal or smaller" in str(result)
        if isinstance(result, Exception) and not already_there:
            raise result


# The archive's own thread (and so its own PostgreSQL connection): archive writes never queue
# behind the connect-time queries that Channels runs on its shared sync thread. One per process,
# not per store: a store per event loop (an import makes a loop per file) would each keep a
# thread and a connection open until the server ran out of connections.
_ARCHIVE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-archive")


class FrameStore:
    """Stores frames in groups; `await store(frame)` returns once the frame is durable."""

    def __init__(self) -> None:
        self._archive = database_sync_to_async(archive, thread_sensitive=False, executor=_ARCHIVE_THREAD)
        self._waiting: list[tuple[AcceptedFrame, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    async def store(self, frame: AcceptedFrame) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((frame, done))
        self._wake.set()
        await done

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._waiting = self._waiting, []
            frames = [frame for frame, _ in group]
            # Both writes finish before the next group starts, even when one of them fails.
            results = await asyncio.gather(self._archive(frames), append_to_streams(frames), return_exceptions=True)
            errors = [result for result in results if isinstance(result, BaseException)]
            for error in errors:
                if not isinstance(error, (DatabaseError, redis.RedisError, OSError)):
                    log.error("frame group failed", exc_info=error)
            if errors:
                log.warning("frame group not stored", extra={"frames": len(frames), "error": repr(errors[0])})
            for _, done in group:
                if done.done():  # its sender went away (connection closed)
                    continue
                if errors:
                    done.set_exception(StorageUnavailable(f"{type(errors[0]).__name__}: {errors[0]}"))
                else:
                    done.set_result(None)
            if not errors:
                # After the acks: a slow listener must not hold up the watches.
                for receiver, outcome in await frames_stored.asend_robust(FrameStore, recording_ids={f.recording_id for f in frames}):
                    if isinstance(outcome, Exception):
                        log.warning("frames_stored listener failed", extra={"receiver": repr(receiver), "error": repr(outcome)})


_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameStore] = weakref.WeakKeyDictionary()


def frame_store() -> FrameStore:
    """The store of the running event loop: one per server process."""
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        store = _stores[loop] = FrameStore()
    return store
