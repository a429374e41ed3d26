"""The watch-facing WebSocket endpoint, protocol v1 (docs/protocol.md)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ingest import protocol, revocation
from ingest.models import Device, Recording, hash_token
from ingest.protocol import ErrorCode, ProtocolError
from ingest.signals import recording_ended
from ingest.handoff import processed_frames
from ingest.storage import AcceptedFrame, StorageUnavailable, frame_store

log = logging.getLogger(__name__)


def bearer_token(scope: dict) -> str | None:
    """The token from `Authorization: Bearer …`, else from `?token=…`."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return tokens[0] if tokens else None


def device_of(token: str | None) -> Device | None:
    """The active device with this token (its last_seen_at brought up to now), or None."""
    if not token:
        return None
    device = Device.objects.active().filter(token_hash=hash_token(token)).first()
    if device is not None:
        Device.objects.filter(pk=device.pk).update(last_seen_at=timezone.now())
    return device


authenticate = database_sync_to_async(device_of)


@dataclass
class OpenSession:
    recording_id: uuid.UUID
    n_channels: int
    next_seq: int
    ended: bool
    processed: int = 0  # frames the pipeline has processed, as last read from Redis
    processed_read_at: float = float("-inf")


@database_sync_to_async
def open_session(device: Device, start: protocol.StartMessage) -> OpenSession:
    """Create the recording, or resume it when it is this device's and unchanged."""
    try:
        recording, created = Recording.objects.get_or_create(
            id=start.session,
            defaults={
                "owner_id": device.owner_id,
                "device": device,
                "rate_hz": start.rate_hz,
                "channels": list(start.channels),
                "started_at": start.started_at,
                "side": start.side or device.side,
                "placement": start.placement or device.placement,
            },
        )
    except IntegrityError:  # created by another connection between get and create
        recording, created = Recording.objects.get(id=start.session), False
    if recording.device_id != device.id:
        raise ProtocolError(
            ErrorCode.SESSION_FORBIDDEN, "this session belongs to another device", session=str(start.session)
        )
    if not created and (recording.rate_hz != start.rate_hz or recording.channels != list(start.channels)):
        raise ProtocolError(
            ErrorCode.SESSION_MISMATCH,
            f"this session was started at {recording.rate_hz:g} Hz with channels {recording.channels}",
            session=str(start.session),
        )
    return OpenSession(
        recording_id=recording.id,
        n_channels=len(recording.channels),
        next_seq=recording.next_seq,
        ended=recording.status == Recording.Status.ENDED,
    )


@database_sync_to_async
def end_recording(recording_id: uuid.UUID) -> None:
    Recording.objects.filter(id=recording_id, ended_at__isnull=True).update(
        status=Recording.Status.ENDED, ended_at=timezone.now()
    )


class TokenBucket:
    """Events (frames, starts) per second per device: `rate` sustained, `burst` at once (e.g. after a resume)."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> float:
        """0 when the event may pass now, else the seconds to wait."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


# Per server process: a device's connections share one bucket of frames and one of starts
# (a start creates a row; a device that starts hundreds a second is not a watch).
_buckets: dict[tuple[str, int], TokenBucket] = {}


def device_bucket(kind: str, device_id: int, rate: float, burst: int) -> TokenBucket:
    bucket = _buckets.get((kind, device_id))
    if bucket is None:
        bucket = _buckets[kind, device_id] = TokenBucket(rate, burst)
    return bucket


class IngestConsumer(AsyncWebsocketConsumer):
    # No channel layer: sensor frames must never travel there (DESIGN.md), and listening on
    # it would tie every watch connection to a Redis connection that a Redis restart breaks.
    channel_layer_alias = None
    device: Device | None = None

    async def connect(self):
        # Accept first: a WebSocket can only be closed with a code (4401) once accepted.
        await self.accept()
        self.device = await authenticate(bearer_token(self.scope))
        if self.device is None:
            await self.send_json(
                ProtocolError(ErrorCode.UNAUTHORIZED, "missing, unknown or revoked device token").as_message()
            )
            await self.close(code=protocol.CLOSE_UNAUTHORIZED)
            return
        self.sessions: dict[uuid.UUID, OpenSession] = {}
        self.frames_bucket = device_bucket(
            "frames", self.device.id, settings.INGEST_MAX_FRAMES_PER_SECOND, settings.INGEST_FRAME_BURST
        )
        self.starts_bucket = device_bucket(
            "starts", self.device.id, settings.INGEST_MAX_STARTS_PER_MINUTE / 60, settings.INGEST_START_BURST
        )
        revocation.opened(self.device.id, self)
        log.debug("watch connected", extra={"device": self.device.id})

    async def disconnect(self, code):
        if self.device is not None:
            revocation.closed(self.device.id, self)

    async def refuse_revoked(self) -> None:
        """The device was revoked while connected: nothing more is accepted (what was acked stays)."""
        if self.device is None:
            return
        log.info("revoked device disconnected", extra={"device": self.device.id})
        self.device = None
        await self.send_json(ProtocolError(ErrorCode.UNAUTHORIZED, "this device was revoked").as_message())
        await self.close(code=protocol.CLOSE_UNAUTHORIZED)

    async def dispatch(self, message):
        # Channels' dispatch first closes stale DB connections, a hop to its one sync thread
        # for every frame; at a thousand frames a second that thread becomes the queue.
        # Every DB call here goes through database_sync_to_async, which does that itself.
        await getattr(self, get_handler_name(message))(message)

    async def receive(self, text_data=None, bytes_data=None):
        if self.device is None:
            return  # closing after a refused token: nothing is accepted
        try:
            if text_data is None:
                raise ProtocolError(ErrorCode.BINARY_NOT_SUPPORTED, "protocol v1 takes JSON text frames only")
            message = protocol.parse_message(text_data, max_chars=settings.INGEST_MAX_MESSAGE_BYTES)
            if isinstance(message, protocol.FrameMessage):
                reply = await self.on_frame(message)
            elif isinstance(message, protocol.StartMessage):
                reply = await self.on_start(message)
            else:
                reply = await self.on_end(message)
        except ProtocolError as error:
            reply = error.as_message()
        await self.send_json(reply)

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=orjson.dumps(message).decode())

    async def on_start(self, start: protocol.StartMessage) -> dict:
        wait = self.starts_bucket.take()
        if wait:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED, f"more than {settings.INGEST_MAX_STARTS_PER_MINUTE} starts a minute from this device",
                session=str(start.session), retry_after_s=round(wait, 3),
            )
        session = await open_session(self.device, start)
        self.sessions[start.session] = session
        return protocol.started(start.session, session.next_seq)

    def _session(self, session_id: uuid.UUID) -> OpenSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise ProtocolError(
                ErrorCode.NOT_STARTED, "send 'start' for this session on this connection first", session=str(session_id)
            )
        return session

    async def on_frame(self, frame: protocol.FrameMessage) -> dict:
        session = self._session(frame.session)
        if frame.seq < session.next_seq:
            return protocol.ack(frame.session, frame.seq)  # stored before: acknowledged again, not stored twice
        if session.ended:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "this session has ended", session=str(frame.session))
        if frame.seq > session.next_seq:
            raise ProtocolError(
                ErrorCode.OUT_OF_ORDER,
                f"expected frame {session.next_seq}, got {frame.seq}; frames are numbered without gaps",
                session=str(frame.session), seq=frame.seq, expected_seq=session.next_seq,
            )
        samples = protocol.frame_array(
            frame, session.n_channels,
            max_samples=settings.INGEST_MAX_SAMPLES_PER_FRAME, max_abs=settings.INGEST_MAX_ABS_VALUE,
        )
        await self._refuse_beyond_backlog(session, frame)
        wait = self.frames_bucket.take()
        if wait:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED, f"more than {settings.INGEST_MAX_FRAMES_PER_SECOND:g} frames/s from this device",
                session=str(frame.session), seq=frame.seq, retry_after_s=round(wait, 3),
            )
        try:
            await frame_store().store(AcceptedFrame(session.recording_id, frame.seq, samples))
        except StorageUnavailable:
            raise ProtocolError(
                ErrorCode.STORAGE_UNAVAILABLE, "storage is unavailable: frame not stored, send it again shortly",
                session=str(frame.session), seq=frame.seq,
            ) from None
        session.next_seq = frame.seq + 1
        return protocol.ack(frame.session, frame.seq)

    async def _refuse_beyond_backlog(self, session: OpenSession, frame: protocol.FrameMessage) -> None:
        """The stream is the buffer between the watches and the workers, but a bounded one: a
        session too far ahead of its processing is asked to wait (its watch keeps the frames)."""
        if frame.seq - session.processed < settings.INGEST_MAX_BACKLOG_FRAMES:
            return
        now = time.monotonic()
        if now - session.processed_read_at >= 1.0:  # one Redis read per second at most, not one per frame
            session.processed = await processed_frames(session.recording_id)
            session.processed_read_at = now
        backlog = frame.seq - session.processed
        if backlog >= settings.INGEST_MAX_BACKLOG_FRAMES:
            raise ProtocolError(
                ErrorCode.BACKLOG, f"the server is {backlog} frames behind on this session; send frame {frame.seq} again later",
                session=str(frame.session), seq=frame.seq, retry_after_s=settings.INGEST_BACKLOG_RETRY_SECONDS,
            )

    async def on_end(self, end: protocol.EndMessage) -> dict:
        session = self._session(end.session)
        last_stored = session.next_seq - 1
        if end.last_seq > last_stored:
            raise ProtocolError(
                ErrorCode.MISSING_FRAMES, f"frames {last_stored + 1}..{end.last_seq} were never stored; send them first",
                session=str(end.session), expected_seq=session.next_seq,
            )
        if end.last_seq < last_stored:
            raise ProtocolError(
                ErrorCode.BAD_LAST_SEQ, f"frames up to {last_stored} are stored, last_seq says {end.last_seq}",
                session=str(end.session), expected_seq=session.next_seq,
            )
        await end_recording(session.recording_id)
        session.ended = True
        await recording_ended.asend_robust(IngestConsumer, recording_id=session.recording_id)
        return protocol.ended(end.session)
