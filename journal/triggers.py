"""Starting the pipeline when the ingest stores frames: at most one queued step per recording
(a Redis flag), not one per frame and not a busy poll. The recordings that need a step are
gathered for BATCH_SECONDS into one task: a worker pays its fixed costs (the task, the
transaction, the round trips) once per batch instead of once per recording."""

from __future__ import annotations

import asyncio
import logging
import weakref

from ingest.handoff import mark_pending

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.05
BATCH_SIZE = 16


async def on_frames_stored(sender, recording_ids, **kwargs) -> None:
    fresh = await mark_pending(sorted(recording_ids))
    if fresh:
        _batches().add(fresh)


async def on_recording_ended(sender, recording_id, **kwargs) -> None:
    await asyncio.to_thread(_enqueue, [recording_id])


class _Batches:
    """Recording ids gathered for BATCH_SECONDS from the first, then sent as tasks of at most
    BATCH_SIZE. A loop that stops meanwhile (a management command's) still sends what it gathered."""

    def __init__(self) -> None:
        self.ids: list = []
        self.sender: asyncio.Task | None = None

    def add(self, ids: list) -> None:
        self.ids.extend(ids)
        if self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._send_later())

    async def _send_later(self) -> None:
        try:
            await asyncio.sleep(BATCH_SECONDS)
        finally:
            ids, self.ids, self.sender = self.ids, [], None
            try:
                await asyncio.to_thread(_enqueue, ids)
            except Exception:  # Redis away: the pending flags expire and later frames queue the steps
                log.warning("pipeline steps not queued", exc_info=True, extra={"recordings": len(ids)})


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batches] = weakref.WeakKeyDictionary()


def _batches() -> _Batches:
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop[loop] = _Batches()
    return _by_loop[loop]


def _enqueue(recording_ids: list) -> None:
    from journal.tasks import process_recordings

    ids = [str(recording_id) for recording_id in recording_ids]
    for first in range(0, len(ids), BATCH_SIZE):
        process_recordings.delay(ids[first:first + BATCH_SIZE])
