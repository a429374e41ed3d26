"""Sensor Logger's HTTP Push door (ingest/push.py), answered with protocol v1's codes and
sentences as HTTP statuses.

Not a Django view: a device pushes every second, and Django's middleware stack (sessions, CSRF,
messages: none of which a device uses) hops to a thread for each of its sync middlewares on every
request — at 200 devices that overhead, not the push, was the cost (ack p50 3.3 s). A session's
next message, the common case, costs no database thread of its own: it joins the frame store's
next group (ingest/storage.py), as a watch's frame does."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import orjson
import redis
from django.conf import settings
from django.db import DatabaseError

from ingest import push, revocation
from ingest.consumer import device_bucket, device_of
from ingest.models import Device, PushSession, hash_token
from ingest.protocol import ErrorCode, ProtocolError
from ingest.storage import StorageUnavailable, Write, announce_stored, append_to_streams, frame_store, on_database_thread

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

# The database work of a push that needs the database's word (ingest/storage.py,
# on_database_thread, says how they keep their connections).
_PUSH_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sensor-logger-push")


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
    device = await on_database_thread(_PUSH_THREADS, device_of, token)
    if (known := _known_devices.get(key)) is not None:  # another push of this device asked meanwhile
        return known.device
    if device is not None:
        _known_devices[key] = known = _KnownDevice(key, device)
        revocation.opened(device.id, known)
    return device


_last_forgetting = time.monotonic()


def _forget_the_quiet() -> None:
    """Devices that stopped pushing leave the revocation check's list, and their sessions this
    process's memory (a pass a minute)."""
    global _last_forgetting
    now = time.monotonic()
    if now - _last_forgetting >= KNOWN_DEVICE_SECONDS:
        _last_forgetting = now
        for known in [k for k in _known_devices.values() if now - k.checked_at >= KNOWN_DEVICE_SECONDS]:
            _forget(known)
        for recording_id in [r for r, known in _known_sessions.items() if now - known.used_at >= KNOWN_DEVICE_SECONDS]:
            del _known_sessions[recording_id]


# Where the door is (config/routing.py), and so what the Devices page tells Sensor Logger.
PUSH_PATH = "ingest/sensor-logger/"


class _Disconnected(Exception):
    """The app hung up before its message was all sent: nothing to answer."""


class SensorLoggerPushDoor:
    """`POST /ingest/sensor-logger/?token=…` (or `Authorization: Bearer …`): 200 `{"stored": N}`
    once the message is durable, else a 4xx with `{"type": "error", "code", "detail"}`.

    A plain ASGI application, not a Channels consumer (which runs every request through a dispatch
    loop and handlers of its own): a push is one request and one answer."""

    async def __call__(self, scope: dict, receive, send) -> None:
        try:
            status, content, headers = await self._answer(scope, receive)
        except _Disconnected:
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": orjson.dumps(content)})

    async def _answer(self, scope: dict, receive) -> tuple[int, dict, list]:
        if scope["method"] != "POST":
            return 405, {"type": "error", "code": "method_not_allowed", "detail": "POST a push message"}, [(b"allow", b"POST")]
        try:
            return 200, {"stored": await _store(scope, await _body(scope, receive))}, []
        except ProtocolError as error:
            return STATUS_OF_CODE.get(error.code, 400), error.as_message(), []


async def _body(scope: dict, receive) -> bytes:
    """The request's body, refused as soon as it passes the limit (or declares it will), not after
    it was all read."""
    limit = settings.INGEST_MAX_PUSH_BYTES
    too_large = ProtocolError(ErrorCode.TOO_LARGE, f"a body over {limit} bytes; shorten the app's batch period", limit=limit)
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise too_large
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope: dict, name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name), "")


def _query(scope: dict) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(scope["query_string"].decode("latin-1")).items()}


def _token(scope: dict) -> str | None:
    """`Authorization: Bearer …`, else `?token=…` (what the app's URL field can carry)."""
    scheme, _, token = _header(scope, b"authorization").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return _query(scope).get("token")


async def _store(scope: dict, body: bytes) -> int:
    device = await _device(_token(scope))
    if device is None:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "missing, unknown or revoked device token: add ?token=… to the URL")
    message = push.parse_body(body)
    wait = device_bucket("push", device.id, settings.INGEST_MAX_FRAMES_PER_SECOND, settings.INGEST_FRAME_BURST).take()
    if wait:
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"more than {settings.INGEST_MAX_FRAMES_PER_SECOND:g} messages/s "
                            "from this device", retry_after_s=round(wait, 3))
    try:
        return await _receive(device, message, ios=_query(scope).get("platform", "ios").lower() != "android")
    except (DatabaseError, StorageUnavailable):
        log.warning("push not stored: the database is unavailable", exc_info=True)
        raise ProtocolError(ErrorCode.STORAGE_UNAVAILABLE, "storage is unavailable: message not stored, send it "
                            "again shortly", retry_after_s=1.0) from None


class _KnownSession:
    """A session this process moved last, as it then stood."""

    def __init__(self, session: PushSession) -> None:
        self.session, self.used_at = session, time.monotonic()


# Sessions this process moved lately: their next message is put on the grid without asking
# PostgreSQL, and written with one conditional UPDATE in the frame's group (push.NextMessage).
_known_sessions: dict[uuid.UUID, _KnownSession] = {}
# One message of a session at a time in this process: the next one waits for its state.
_session_locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()


async def _receive(device: Device, message: push.PushBody, *, ios: bool) -> int:
    recording_id = push.recording_id(message.sessionId)
    lock = _session_locks.get(recording_id) or _session_locks.setdefault(recording_id, asyncio.Lock())
    async with lock:
        known = _known_sessions.pop(recording_id, None)  # back only as the session stands after this message
        if known is not None and known.session.recording.device_id == device.id:
            session = known.session
            if message.messageId < session.next_message_id:  # a repeat: the session stands further on
                _known_sessions[recording_id] = known
                return 0
            if message.messageId == session.next_message_id:
                try:
                    moved = push.receive_next(session, message)
                except ProtocolError:
                    _known_sessions[recording_id] = known  # refused before anything moved
                    raise
                if moved is not None and await frame_store().write(Write(moved.frames, moved)):
                    _known_sessions[recording_id] = _KnownSession(session)
                    return moved.stored
        # The database's word: a first message, one out of order, a gap, or a session moved elsewhere.
        stored, frames, session = await on_database_thread(_PUSH_THREADS, functools.partial(push.receive, ios=ios), device, message)
        if frames:
            await _hand_over(frames)
        if session is not None and not session.holding:
            _forget_the_quiet()
            _known_sessions[recording_id] = _KnownSession(session)
        return stored


async def _hand_over(frames: list) -> None:
    """The frames are archived already: the stream and the pipeline's trigger follow. Redis away
    loses neither (the pipeline reads the archive where the stream lacks a frame, and the sweep
    finds a recording whose step was never queued)."""
    try:
        await append_to_streams(frames)
    except (redis.RedisError, OSError):
        log.warning("pushed frames not streamed", exc_info=True, extra={"recording": str(frames[0].recording_id)})
    await announce_stored(push.__name__, frames)
