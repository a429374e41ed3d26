"""A revoked device's open sockets are closed (4401), not only its next connection refused.

The watch door does not join the channel layer (a Redis restart would break every socket, see
the README), so each web process asks PostgreSQL instead: every INGEST_REVOCATION_CHECK_SECONDS,
while it holds watch sockets, one query names the devices among them that are no longer active
(revoked or deleted). One query per process, whatever the number of watches.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from ingest.models import Device

log = logging.getLogger(__name__)


class WatchSocket(Protocol):
    async def refuse_revoked(self) -> None: ...


_open: defaultdict[int, set[WatchSocket]] = defaultdict(set)
_checker: asyncio.Task | None = None


def opened(device_id: int, socket: WatchSocket) -> None:
    global _checker
    _open[device_id].add(socket)
    loop = asyncio.get_running_loop()
    if _checker is None or _checker.done() or _checker.get_loop() is not loop:
        _checker = loop.create_task(_check_while_open(), name="revoked-device-check")


def closed(device_id: int, socket: WatchSocket) -> None:
    sockets = _open.get(device_id)
    if sockets is not None:
        sockets.discard(socket)
        if not sockets:
            del _open[device_id]


@database_sync_to_async
def _inactive(device_ids: list[int]) -> set[int]:
    return set(device_ids) - set(Device.objects.active().filter(id__in=device_ids).values_list("id", flat=True))


async def _check_while_open() -> None:
    while _open:
        await asyncio.sleep(settings.INGEST_REVOCATION_CHECK_SECONDS)
        try:
            gone = await _inactive(list(_open))
        except DatabaseError:  # the database is away: the sockets stay until it answers again
            log.warning("could not check for revoked devices", exc_info=True)
            continue
        for device_id in gone:
            for socket in list(_open.pop(device_id, ())):
                try:
                    await socket.refuse_revoked()
                except Exception:  # a socket already gone must not stop the checks of the others
                    log.warning("could not close a revoked device's socket", exc_info=True, extra={"device": device_id})
