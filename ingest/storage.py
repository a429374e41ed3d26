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

A write may carry an `Advance`: state that moves on with its frames in the same transaction, or
not at all (the push door's session, ingest/push.py). Its frames are stored only if it applies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

import numpy as np
import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
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
    if not frames:
        return
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


class Advance(Protocol):
    """State that moves on with a write's frames, in their transaction, or not at all."""

    key: Hashable

    @classmethod
    def apply_all(cls, advances: list[Self]) -> set[Hashable]:
        """Apply those that still can; the keys of those applied."""


@dataclass(frozen=True)
class Write:
    frames: list[AcceptedFrame]
    advance: Advance | None = None


def write_group(writes: list[Write]) -> set[Hashable]:
    """Archive a group's frames, those of an advance that no longer applies left out (one
    transaction then); the keys of the advances applied."""
    advances = [write.advance for write in writes if write.advance is not None]
    if not advances:
        archive([frame for write in writes for frame in write.frames])
        return set()
    with transaction.atomic():
        applied = type(advances[0]).apply_all(advances)  # one kind of advance: the push door's
        archive([frame for write in writes if _written(write, applied) for frame in write.frames])
    return applied


# The archive's own thread (and so its own PostgreSQL connection): archive writes never queue
# behind the connect-time queries that Channels runs on its shared sync thread. One per process,
# not per store: a store per event loop (an import makes a loop per file) would each keep a
# thread and a connection open until the server ran out of connections.
_ARCHIVE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-archive")


def _with_connection_checked(function, *args):
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


async def on_database_thread(executor: ThreadPoolExecutor, function, *args):
    """`function(*args)` on one of the executor's threads, each keeping its own connection for
    CONN_MAX_AGE and checking it before and after each call, as Django does around a request.
    Plain run_in_executor: through channels' database_sync_to_async on such an executor a
    connection outlived CONN_MAX_AGE=0 (the test database could not be dropped after the tests)."""
    return await asyncio.get_running_loop().run_in_executor(executor, _with_connection_checked, function, *args)


class FrameStore:
    """Stores frames in groups; `await store(frame)` returns once the frame is durable."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Write, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    async def store(self, frame: AcceptedFrame) -> None:
        await self.write(Write([frame]))

    async def write(self, write: Write) -> bool:
        """True once the write's frames are durable; False when its advance no longer applied
        (nothing of it stored)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((write, done))
        self._wake.set()
        return await done

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._waiting = self._waiting, []
            applied, streamed = await self._archive_then_stream([write for write, _ in group])
            for write, done in group:
                if done.done():  # its sender went away (connection closed)
                    continue
                if isinstance(applied, BaseException):
                    done.set_exception(_unavailable(applied))
                elif write.advance is not None:
                    # Its state moved on with the archive: the stream follows later if Redis is away.
                    done.set_result(write.advance.key in applied)
                elif isinstance(streamed, BaseException):
                    done.set_exception(_unavailable(streamed))
                else:
                    done.set_result(True)
            if not isinstance(applied, BaseException):
                # After the acks: a slow listener must not hold up the watches.
                await announce_stored(FrameStore, [f for write, _ in group if _written(write, applied) for f in write.frames])

    async def _archive_then_stream(self, writes: list[Write]) -> tuple[set | BaseException, None | BaseException]:
        """The group into the archive, then what went in onto the streams (nothing is streamed that
        is not archived): the keys of the advances applied, or the archive's error; the streams' error."""
        try:
            applied = await on_database_thread(_ARCHIVE_THREAD, write_group, writes)
        except Exception as error:
            _log_failure(error, writes)
            return error, None
        try:
            await append_to_streams([frame for write in writes if _written(write, applied) for frame in write.frames])
        except Exception as error:
            _log_failure(error, writes)
            return applied, error
        return applied, None


async def announce_stored(sender, frames: list[AcceptedFrame]) -> None:
    """frames_stored for the recordings of frames now durable (the pipeline's trigger); a failing
    listener is logged, not raised: the frames are stored whatever it does."""
    if not frames:
        return
    for receiver, outcome in await frames_stored.asend_robust(sender, recording_ids={f.recording_id for f in frames}):
        if isinstance(outcome, Exception):
            log.warning("frames_stored listener failed", extra={"receiver": repr(receiver), "error": repr(outcome)})


def _written(write: Write, applied: set) -> bool:
    return write.advance is None or write.advance.key in applied


def _log_failure(error: Exception, writes: list[Write]) -> None:
    if not isinstance(error, (DatabaseError, redis.RedisError, OSError)):
        log.error("frame group failed", exc_info=error)
    log.warning("frame group not stored", extra={"frames": sum(len(w.frames) for w in writes), "error": repr(error)})


def _unavailable(error: BaseException) -> StorageUnavailable:
    return StorageUnavailable(f"{type(error).__name__}: {error}")


_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameStore] = weakref.WeakKeyDictionary()


def frame_store() -> FrameStore:
    """The store of the running event loop: one per server process."""
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        store = _stores[loop] = FrameStore()
    return store
