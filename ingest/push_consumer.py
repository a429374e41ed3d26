"""Sensor Logger's HTTP Push door (ingest/push.py), answered with protocol v1's codes and
sentences as HTTP statuses.

A Channels consumer, not a Django view: a device pushes every second, and Django's middleware
stack (sessions, CSRF, messages: none of which a device uses) hops to a thread for each of its
sync middlewares on every request — at 200 devices that overhead, not the push, was the cost
(ack p50 3.3 s). Here a push costs one hop to a database thread."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import orjson
import redis
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from ingest import push, revocation
from ingest.consumer import device_bucket, device_of
from ingest.models import Device, hash_token
from ingest.protocol import ErrorCode, ProtocolError
from ingest.signals import frames_stored
from ingest.storage import append_to_streams

log = logging.getLogger(__name__)

STATUS_OF_CODE = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.SESSION_FORBIDDEN: 403,
    ErrorCode.SESSION_ENDED: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.NON_FINITE: 422,
    ErrorCode.OUT_OF_RANGE: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}

# Every push's database work runs on these threads, each keeping its own connection for
# CONN_MAX_AGE and checking it before and after each call, as Django does around a request (a new
# thread per request, Django's way for an async view, meant a new connection per message). Plain
# run_in_executor: through channels' database_sync_to_async on this executor one connection
# outlived CONN_MAX_AGE=0 (the test database could not be dropped after the tests).
_PUSH_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sensor-logger-push")


def _with_connection_checked(function, *args, **kwargs):
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


async def _on_push_thread(function, *args, **kwargs):
    call = functools.partial(_with_connection_checked, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_PUSH_THREADS, call)


class _KnownDevice:
    """A device that pushed lately, known without asking PostgreSQL (two queries a message
    otherwise). Held as an open socket is in ingest/revocation.py, so a revoked device is forgotten
    within INGEST_REVOCATION_CHECK_SECONDS by the one query per process that checks them all."""

    def __init__(self, key: str, device: Device) -> None:
        self.key, self.device, self.checked_at = key, device, time.monotonic()

    async def refuse_revoked(self) -> None:
        _forget(self)


# Asked again (and last_seen_at brought up to now) after a minute: "last seen" needs no more.
KNOWN_DEVICE_SECONDS = 60.0
_known_devices: dict[str, _KnownDevice] = {}


def _forget(known: _KnownDevice) -> None:
    if _known_devices.get(known.key) is known:
        del _known_devices[known.key]
    revocation.closed(known.device.id, known)


async def _device(token: str | None) -> Device | None:
    if not token:
        return None
    key = hash_token(token)
    known = _known_devices.get(key)
    if known is not None and time.monotonic() - known.checked_at < KNOWN_DEVICE_SECONDS:
        return known.device
    if known is not None:
        _forget(known)
    _forget_the_quiet()
    device = await _on_push_thread(device_of, token)
    if (known := _known_devices.get(key)) is not None:  # another push of this device asked meanwhile
        return known.device
    if device is not None:
        _known_devices[key] = known = _KnownDevice(key, device)
        revocation.opened(device.id, known)
    return device


_last_forgetting = time.monotonic()


def _forget_the_quiet() -> None:
    """Devices that stopped pushing leave the revocation check's list (a pass a minute)."""
    global _last_forgetting
    now = time.monotonic()
    if now - _last_forgetting >= KNOWN_DEVICE_SECONDS:
        _last_forgetting = now
        for known in [k for k in _known_devices.values() if now - k.checked_at >= KNOWN_DEVICE_SECONDS]:
            _forget(known)


# Where the door is (config/routing.py), and so what the Devices page tells Sensor Logger.
PUSH_PATH = "ingest/sensor-logger/"


class SensorLoggerPushConsumer(AsyncHttpConsumer):
    """`POST /ingest/sensor-logger/?token=…` (or `Authorization: Bearer …`): 200 `{"stored": N}`
    once the message is durable, else a 4xx with `{"type": "error", "code", "detail"}`."""

    # Nothing is ever sent to a push: without a channel layer a request costs no Redis channel.
    channel_layer_alias = None

    async def http_request(self, message):
        # The body is refused as soon as it passes the limit, not after it was all read.
        received = sum(map(len, self.body)) + len(message.get("body", b""))
        limit = settings.INGEST_MAX_PUSH_BYTES
        declared = self._header("content-length")
        if received > limit or (declared.isdigit() and int(declared) > limit):
            await self._refuse(ProtocolError(ErrorCode.TOO_LARGE, f"a body over {limit} bytes; shorten the app's "
                                             "batch period", limit=limit))
            raise StopConsumer()
        await super().http_request(message)

    async def handle(self, body: bytes) -> None:
        if self.scope["method"] != "POST":
            await self._answer(405, {"type": "error", "code": "method_not_allowed", "detail": "POST a push message"},
                               (b"Allow", b"POST"))
            return
        try:
            stored = await self._receive(body)
        except ProtocolError as error:
            await self._refuse(error)
            return
        await self._answer(200, {"stored": stored})

    def _header(self, name: str) -> str:
        wanted = name.encode()
        return next((value.decode("latin-1") for key, value in self.scope["headers"] if key.lower() == wanted), "")

    def _query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.scope["query_string"].decode("latin-1")).items()}

    def _token(self) -> str | None:
        """`Authorization: Bearer …`, else `?token=…` (what the app's URL field can carry)."""
        scheme, _, token = self._header("authorization").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return self._query().get("token")

    async def _receive(self, body: bytes) -> int:
        try:
            return await self._store(body)
        except DatabaseError:
            log.warning("push not stored: the database is unavailable", exc_info=True)
            raise ProtocolError(ErrorCode.STORAGE_UNAVAILABLE, "storage is unavailable: message not stored, send it "
                                "again shortly", retry_after_s=1.0) from None

    async def _store(self, body: bytes) -> int:
        device = await _device(self._token())
        if device is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "missing, unknown or revoked device token: add ?token=… to the URL")
        message = push.parse_body(body)
        wait = device_bucket("push", device.id, settings.INGEST_MAX_FRAMES_PER_SECOND, settings.INGEST_FRAME_BURST).take()
        if wait:
            raise ProtocolError(ErrorCode.RATE_LIMITED, f"more than {settings.INGEST_MAX_FRAMES_PER_SECOND:g} messages/s "
                                "from this device", retry_after_s=round(wait, 3))
        ios = self._query().get("platform", "ios").lower() != "android"
        stored, frames = await _on_push_thread(push.receive, device, message, ios=ios)
        if frames:
            await _hand_over(frames)
        return stored

    async def _refuse(self, error: ProtocolError) -> None:
        await self._answer(STATUS_OF_CODE.get(error.code, 400), error.as_message())

    async def _answer(self, status: int, content: dict, *headers: tuple[bytes, bytes]) -> None:
        await self.send_response(status, orjson.dumps(content), headers=[(b"Content-Type", b"application/json"), *headers])


async def _hand_over(frames: list) -> None:
    """The frames are archived already: the stream and the pipeline's trigger follow. Redis away
    loses neither (the pipeline reads the archive where the stream lacks a frame, and the sweep
    finds a recording whose step was never queued)."""
    try:
        await append_to_streams(frames)
    except (redis.RedisError, OSError):
        log.warning("pushed frames not streamed", exc_info=True, extra={"recording": str(frames[0].recording_id)})
    for receiver, outcome in await frames_stored.asend_robust(push.__name__, recording_ids={f.recording_id for f in frames}):
        if isinstance(outcome, Exception):
            log.warning("frames_stored listener failed", extra={"receiver": repr(receiver), "error": repr(outcome)})
