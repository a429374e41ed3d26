"""Sensor Logger's HTTP Push (tszheichoi/awesome-sensor-logger, PUSHING.md) into the same durable
archive and stream as a protocol-v1 frame: the pipeline, the live page and the journal see no
difference.

The app posts a message every batch period: {messageId, sessionId, deviceId, payload: [{name,
time (epoch ns), values: {...}}]}. Push is at most once: a message may come twice, late, or never.
So a message is first made durable as it came (a HeldMessage; then the 200), and messages are put
on the recording's uniform grid strictly in messageId order: one that waits for an earlier message
is held until that one comes, or until it has waited `INGEST_PUSH_HOLD_SECONDS` — then the earlier
one is declared lost, the signal is interpolated across its span (so nothing after it shifts) and
the span is kept as one of the recording's gaps. Each message's grid samples become one frame, in
the same transaction that advances the session: a retry after a failure writes the same frames
under the same seqs, which the archive's key makes harmless.

A new sessionId is a new recording (its id derived from the sessionId); it ends when the app stops
sending, at the pipeline's quiet time.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import operator
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.channels import ACC, GYRO
from classifier.sensorlogger import WRIST_QUANTITIES, XYZ, nominal_rate_hz, phone_acceleration, wrist_motion
from ingest.models import SAMPLE_DTYPE, Device, HeldMessage, PushSession, Recording
from ingest.protocol import (EARLIEST_START, LATEST_START_AHEAD, MAX_SEQ, ErrorCode, ProtocolError, check_rate,
                             check_samples)
from ingest.storage import AcceptedFrame, archive

log = logging.getLogger(__name__)

# Recording ids of pushed sessions: uuid5 of the app's sessionId in this namespace.
PUSH_NAMESPACE = uuid.UUID("8f5e0a4c-2b1d-4c61-9a57-4f3f6f3c1a10")
# A jump between consecutive readings longer than this is a gap on the workout page.
GAP_SECONDS = 1.0


class Reading(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    time: Annotated[int, Field(strict=True, ge=0, lt=2**63)]  # epoch nanoseconds
    values: dict[str, Any] = {}


class PushBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    messageId: Annotated[int, Field(strict=True, ge=0, le=MAX_SEQ)]
    sessionId: Annotated[str, Field(min_length=1, max_length=200)]
    deviceId: str = ""
    payload: list[Reading]


def parse_body(body: bytes) -> PushBody:
    try:
        return PushBody.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        if error["type"] == "json_invalid":
            raise ProtocolError(ErrorCode.BAD_JSON, f"the body is not JSON: {error['msg']}") from None
        where = ".".join(str(part) for part in error["loc"])
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{where}: {error['msg']}" if where else error["msg"]) from None


def recording_id(session_id: str) -> uuid.UUID:
    return uuid.uuid5(PUSH_NAMESPACE, session_id)


@dataclass(frozen=True)
class Motion:
    """One message's readings of one sensor, in the journal's units."""

    sensor: str  # PushSession.Sensor
    t_ns: np.ndarray  # (n,) int64, epoch nanoseconds
    values: np.ndarray  # (n, channels) float64

    def rows(self, epoch_ns: int) -> bytes:
        """As a HeldMessage keeps them: seconds since the session's epoch (float64 keeps a
        nanosecond there for days; epoch seconds would keep only a quarter of a microsecond), then the values."""
        return np.column_stack([(self.t_ns - epoch_ns) / 1e9, self.values]).astype("<f8").tobytes()


def motion(body: PushBody, *, sensor: str | None, ios: bool, channels: int | None = None) -> Motion | None:
    """The message's motion readings: the watch's wrist motion when the session is the watch's (or,
    for a first message, when it holds any), else the phone's. None when it holds none of them."""
    by_name: dict[str, list[Reading]] = {}
    for reading in body.payload:
        by_name.setdefault(reading.name.lower(), []).append(reading)
    if sensor in (None, PushSession.Sensor.WATCH) and "wristmotion" in by_name:
        wrist = by_name["wristmotion"]
        t_ns = _times(wrist, "wristmotion")
        keep = _increasing(t_ns, "wristmotion")
        values = _values(wrist, [f"{q}{a}" for q in WRIST_QUANTITIES for a in XYZ], "wristmotion")[keep]
        return _checked(Motion(PushSession.Sensor.WATCH, t_ns[keep], wrist_motion(*np.hsplit(values, 3))))
    if sensor == PushSession.Sensor.WATCH:
        return None
    if "totalacceleration" in by_name:
        base, name, ios = by_name["totalacceleration"], "totalacceleration", False  # Android's, gravity included
        t_ns = _times(base, name)
        acc = _values(base, ["x", "y", "z"], name)
    elif "accelerometer" in by_name and "gravity" in by_name:
        base, name = by_name["accelerometer"], "accelerometer"  # the user's acceleration: gravity added
        t_ns = _times(base, name)
        acc = _values(base, ["x", "y", "z"], name) + _at(t_ns, by_name["gravity"], "gravity")
    else:
        return None
    keep = _increasing(t_ns, name)
    values = [phone_acceleration(acc, ios=ios)]
    wants_gyroscope = len(ACC + GYRO) if channels is None else channels
    if wants_gyroscope > len(ACC):
        if "gyroscope" not in by_name:
            if channels is None:  # a first message without it: the recording has no gyroscope
                return _checked(Motion(PushSession.Sensor.PHONE, t_ns[keep], values[0][keep]))
            return None
        values.append(np.degrees(_at(t_ns, by_name["gyroscope"], "gyroscope")))
    return _checked(Motion(PushSession.Sensor.PHONE, t_ns[keep], np.column_stack(values)[keep]))


def _times(readings: list[Reading], name: str) -> np.ndarray:
    t_ns = np.array([reading.time for reading in readings], dtype=np.int64)
    earliest, latest = EARLIEST_START, timezone.now() + LATEST_START_AHEAD
    outside = (t_ns < int(earliest.timestamp() * 1e9)) | (t_ns > int(latest.timestamp() * 1e9))
    if outside.any():
        at = datetime.fromtimestamp(min(t_ns[outside][0] / 1e9, 1e11), tz=UTC)
        raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"a '{name}' reading's time ({at:%Y-%m-%d %H:%M:%S} UTC) lies "
                            f"before {earliest:%Y} or more than a day ahead of the server's clock")
    return t_ns


def _increasing(t_ns: np.ndarray, name: str) -> np.ndarray:
    """Which readings to keep: a reading logged twice counts once; time going backwards is refused."""
    steps = np.diff(t_ns)
    if (steps < 0).any():
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"the '{name}' readings' times go backwards "
                            f"(reading {int(np.argmax(steps < 0)) + 1})")
    return np.concatenate([[True], steps > 0])


def _values(readings: list[Reading], fields: list[str], name: str) -> np.ndarray:
    fields_of = operator.itemgetter(*fields)
    try:
        flat = list(itertools.chain.from_iterable(fields_of(reading.values) for reading in readings))
    except KeyError as missing:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"a '{name}' reading lacks values.{missing.args[0]}") from None
    # JSON numbers only: numpy would read "1.5" and true as numbers. null is JavaScript's NaN.
    if not _NUMBER_TYPES.issuperset(map(type, flat)):
        index = next(i for i, value in enumerate(flat) if type(value) not in _NUMBER_TYPES)
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"a '{name}' reading's values.{fields[index % len(fields)]} is not a number")
    values = np.array(flat, dtype=np.float64).reshape(-1, len(fields))
    finite = np.isfinite(values)
    if not finite.all():
        column = int(np.argwhere(~finite)[0][1])
        raise ProtocolError(ErrorCode.NON_FINITE, f"a '{name}' reading's values.{fields[column]} is null or not finite")
    return values


_NUMBER_TYPES = frozenset({float, int, type(None)})


def _at(t_ns: np.ndarray, readings: list[Reading], name: str) -> np.ndarray:
    """Another sensor's x, y, z at the times `t_ns` (the phone's sensors tick on their own clocks)."""
    times = _times(readings, name)
    order = np.argsort(times, kind="stable")
    values = _values(readings, ["x", "y", "z"], name)[order]
    since = (times[order] - t_ns[0]) / 1e9
    return np.column_stack([np.interp((t_ns - t_ns[0]) / 1e9, since, values[:, i]) for i in range(3)])


def _checked(found: Motion) -> Motion:
    check_samples(found.values, max_abs=settings.INGEST_MAX_ABS_VALUE)
    return found


def receive(device: Device, body: PushBody, *, ios: bool,
            now: datetime | None = None) -> tuple[int, list[AcceptedFrame], PushSession | None]:
    """Make the message durable (on the grid, or held), then put on the grid whatever can go there
    now: (readings stored, the frames written, the session as it now stands). A ProtocolError says
    why a message is refused; nothing is stored then."""
    now = now or timezone.now()
    with transaction.atomic():
        session = PushSession.objects.select_for_update(of=("self",)).select_related("recording").filter(
            recording_id=recording_id(body.sessionId)).first()
        opened = None
        if session is None:
            opened = motion(body, sensor=None, ios=ios)
            if opened is None or not len(opened.t_ns):
                return 0, [], None  # nothing to start a recording from (the app's test push, or location only)
            session = _open(device, body, opened, ios=ios)
        elif session.recording.device_id != device.id:
            raise _forbidden(body.sessionId)
        if session.recording.status == Recording.Status.ENDED:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "this session ended when the app went quiet; start a new "
                                "recording in the app", session=body.sessionId)
        if opened is not None and session.next_message_id == 0 and session.sensor == opened.sensor:
            found = opened  # this message opened the session
        else:  # read as the session reads: a concurrent first message may have opened it with other sensors
            found = motion(body, sensor=session.sensor, ios=session.ios, channels=len(session.recording.channels))
        if body.messageId < session.next_message_id:
            return 0, [], session  # a message sent twice, or one that came after it was given up as lost
        if found is not None:
            _check_span(session, found)
        arrived = HeldMessage(session=session, message_id=body.messageId, received_at=now,
                              readings=found.rows(session.epoch_ns) if found is not None else b"")
        return (0 if found is None else len(found.t_ns)), _advance(session, now, arrived=arrived), session


def receive_next(session: PushSession, body: PushBody) -> NextMessage | None:
    """The message a session expects next (and nothing held), put on its grid in memory — the
    door's way for a session it advanced last: no lock, no query; the session's move is written
    with the frame, and only if the session still stands where it stood (`NextMessage.apply_all`).
    None when the move needs the database's word: it opens a gap.
    The session is moved in place: its holder forgets it unless the move is written."""
    found = motion(body, sensor=session.sensor, ios=session.ios, channels=len(session.recording.channels))
    if found is not None:
        _check_span(session, found)
    was_message_id, gaps = session.next_message_id, []
    frames = [] if found is None else _place(session, (found.t_ns - session.epoch_ns) / 1e9, found.values, gaps)
    if gaps:
        return None
    session.next_message_id += 1
    return NextMessage(session.pk, was_message_id, session, frames, stored=0 if found is None else len(found.t_ns))


@dataclass(frozen=True)
class NextMessage:
    """A session moved on by its next message (a storage.Advance)."""

    key: uuid.UUID  # the session's
    was_message_id: int
    now: PushSession
    frames: list[AcceptedFrame]
    stored: int  # readings

    @classmethod
    def apply_all(cls, advances: list[NextMessage]) -> set[uuid.UUID]:
        """Each session moved where it still stands as it was (no other process, nor the sweep,
        moved it since) and its recording has not ended: one UPDATE of arrays, RETURNING those moved."""
        with connection.cursor() as cursor:
            cursor.execute(_move_sql(), [
                [a.key for a in advances], [a.was_message_id for a in advances],
                [a.now.next_message_id for a in advances], [a.now.next_seq for a in advances],
                [a.now.next_sample for a in advances], [a.now.origin for a in advances],
                # as array literals: unnest flattens an array of arrays; repr keeps every bit of a float
                ["{" + ",".join(map(repr, a.now.tail)) + "}" if a.now.tail is not None else None for a in advances]])
            return {row[0] for row in cursor.fetchall()}


@functools.cache
def _move_sql() -> str:
    quote = connection.ops.quote_name

    def column(model: type, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    moved = ("next_message_id", "next_seq", "next_sample", "origin", "tail")
    return (f"UPDATE {quote(PushSession._meta.db_table)} AS s SET "
            + ", ".join(f"{column(PushSession, name)} = u.{name}" for name in moved[:-1])
            + f", {column(PushSession, 'tail')} = u.tail::float8[] "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::text[]) "
            f"AS u(key, was, {', '.join(moved)}) "
            f"WHERE s.{quote(PushSession._meta.pk.column)} = u.key AND s.{column(PushSession, 'next_message_id')} = u.was "
            f"AND NOT s.{column(PushSession, 'holding')} AND EXISTS (SELECT 1 FROM {quote(Recording._meta.db_table)} r "
            f"WHERE r.{column(Recording, 'id')} = u.key AND r.{column(Recording, 'status')} <> '{Recording.Status.ENDED.value}') "
            f"RETURNING s.{quote(PushSession._meta.pk.column)}")


# A message spans one batch period (seconds) and follows the one before it: the grid it makes is
# bounded by these, not by what a device claims (a reading a day later would be a frame of
# millions of samples).
MAX_MESSAGE_SPAN_S = 60.0
MAX_SILENCE_S = 600.0


def _check_span(session: PushSession, found: Motion) -> None:
    span = (found.t_ns[-1] - found.t_ns[0]) / 1e9
    if span > MAX_MESSAGE_SPAN_S:
        raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"a message's readings span {span:.0f} s; at most "
                            f"{MAX_MESSAGE_SPAN_S:.0f} s (the app's batch period)")
    if session.tail is not None:
        silence = (found.t_ns[0] - session.epoch_ns) / 1e9 - session.tail[0]
        if silence > MAX_SILENCE_S:
            raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"readings {silence:.0f} s after the session's last; after "
                                f"{MAX_SILENCE_S:.0f} s of silence start a new recording in the app")


def _forbidden(session_id: str) -> ProtocolError:
    return ProtocolError(ErrorCode.SESSION_FORBIDDEN, "this sessionId belongs to another device", session=session_id)


def _open(device: Device, body: PushBody, found: Motion, *, ios: bool) -> PushSession:
    if len(found.t_ns) < 2:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a session's first message needs two readings or more, "
                            "to tell the sampling rate")
    rate_hz = nominal_rate_hz((found.t_ns - found.t_ns[0]) / 1e9)
    check_rate(rate_hz)
    # As the device is worn now: the door's device may be a minute old, and the athlete may just
    # have said which arm.
    worn = Device.objects.values("side", "placement").get(pk=device.pk)
    recording = Recording(id=recording_id(body.sessionId), owner_id=device.owner_id, device=device, rate_hz=rate_hz,
                          channels=list(ACC + GYRO)[:found.values.shape[1]], **worn,
                          started_at=datetime.fromtimestamp(found.t_ns[0] / 1e9, tz=UTC))
    try:
        with transaction.atomic():
            recording.save(force_insert=True)
    except IntegrityError:  # opened meanwhile by this session's other message, or a recording of protocol v1
        recording = Recording.objects.get(pk=recording.pk)
        if recording.device_id != device.id:
            raise _forbidden(body.sessionId) from None
        session, created = PushSession.objects.get_or_create(
            recording=recording,
            defaults={"session_id": body.sessionId, "sensor": found.sensor, "ios": ios, "epoch_ns": int(found.t_ns[0])})
        if created:  # a recording of protocol v1 (a watch chose this id), not a pushed one
            raise _forbidden(body.sessionId)
        return PushSession.objects.select_for_update(of=("self",)).select_related("recording").get(pk=session.pk)
    # Both rows are this transaction's until it commits: nobody else sees or locks them.
    return PushSession.objects.create(recording=recording, session_id=body.sessionId, sensor=found.sensor, ios=ios,
                                      epoch_ns=int(found.t_ns[0]))


def flush_waiting() -> list[AcceptedFrame]:
    """Put on the grid the messages still held past the hold, whatever is missing before them: the
    app went quiet after losing one, so no later message comes to move them on. The frames
    written (archived; the caller streams them)."""
    cutoff = timezone.now() - timedelta(seconds=settings.INGEST_PUSH_HOLD_SECONDS)
    written = []
    for session_pk in PushSession.objects.filter(held__received_at__lt=cutoff).values_list("pk", flat=True).distinct():
        try:
            with transaction.atomic():
                session = PushSession.objects.select_for_update(of=("self",)).select_related("recording").filter(
                    pk=session_pk).first()
                if session is not None:  # its workout may have been deleted since
                    written += _advance(session, timezone.now(), give_up_waiting=True)
        except Exception:  # one session's trouble holds up nobody else's
            log.exception("held push messages not placed", extra={"recording": str(session_pk)})
    return written


def _advance(session: PushSession, now: datetime, *, arrived: HeldMessage | None = None,
             give_up_waiting: bool = False) -> list[AcceptedFrame]:
    """Put the held messages (and the one that just `arrived`, not yet saved) on the grid in
    messageId order, as far as none is missing; save the arrived one if it must wait. The next
    message expected with nothing held — the common case — costs no HeldMessage row at all."""
    recording = session.recording
    had_origin = session.origin is not None
    held = {message.message_id: message for message in session.held.all()} if session.holding else {}
    if arrived is not None:
        held.setdefault(arrived.message_id, arrived)
    width = 1 + len(recording.channels)
    frames, converted, gaps = [], [], []
    while held:
        if session.next_message_id not in held:
            waited = now - min(message.received_at for message in held.values())
            if not give_up_waiting and waited < timedelta(seconds=settings.INGEST_PUSH_HOLD_SECONDS):
                break  # the missing message may still come
            session.next_message_id = min(held)  # given up as lost: its span becomes a gap
        message = held.pop(session.next_message_id)
        rows = np.frombuffer(message.readings, dtype="<f8").reshape(-1, width)
        frames += _place(session, rows[:, 0], rows[:, 1:], gaps)
        session.next_message_id += 1
        converted.append(message.message_id)
    if arrived is not None and arrived.message_id in held:
        HeldMessage.objects.bulk_create([arrived], ignore_conflicts=True)  # a repeat of a held one is that one
    if not converted and session.holding == bool(held):
        return []
    archive(frames, now)
    if session.holding:
        HeldMessage.objects.filter(session=session, message_id__in=converted).delete()
    session.holding = bool(held)
    session.save()
    started_at = datetime.fromtimestamp(session.epoch_ns / 1e9 + session.origin, tz=UTC) if session.origin is not None else None
    if gaps or (not had_origin and started_at != recording.started_at):  # the first reading placed is the start
        recording.gaps = recording.gaps + gaps
        recording.started_at = started_at
        recording.save(update_fields=["gaps", "started_at"])
    return frames


def _place(session: PushSession, t: np.ndarray, values: np.ndarray, gaps: list) -> list[AcceptedFrame]:
    """A message's readings (seconds since the session's epoch) as its frame, none when they
    reach no new grid sample; the session moved past them."""
    samples = _onto_grid(session, session.recording, t, values, gaps)
    if not len(samples):
        return []
    session.next_seq += 1
    return [AcceptedFrame(session.recording_id, session.next_seq - 1, samples)]


def _onto_grid(session: PushSession, recording: Recording, t: np.ndarray, values: np.ndarray, gaps: list) -> np.ndarray:
    """The grid samples from the last one written up to the message's last reading, interpolated
    linearly from the last reading placed before (across a lost message's span too)."""
    if session.tail is not None:
        tail_t, tail_values = session.tail[0], np.asarray(session.tail[1:])
        keep = t > tail_t  # readings at or before what is on the grid already are dropped
        t, values = t[keep], values[keep]
        if not len(t):
            return np.empty((0, values.shape[1]), dtype=SAMPLE_DTYPE)
        if t[0] - tail_t > GAP_SECONDS:
            gaps.append({"at_s": round(tail_t - session.origin, 3), "seconds": round(t[0] - tail_t, 3)})
        t, values = np.concatenate([[tail_t], t]), np.vstack([tail_values, values])
    elif not len(t):
        return np.empty((0, values.shape[1]), dtype=SAMPLE_DTYPE)
    else:
        session.origin = float(t[0])
    since_origin = t - session.origin
    last = int(math.floor(since_origin[-1] * recording.rate_hz + 1e-9))
    grid = np.arange(session.next_sample, last + 1) / recording.rate_hz
    samples = np.column_stack([np.interp(grid, since_origin, values[:, i]) for i in range(values.shape[1])])
    session.next_sample = last + 1
    session.tail = [float(t[-1]), *map(float, values[-1])]
    return samples.astype(SAMPLE_DTYPE).reshape(-1, values.shape[1])
