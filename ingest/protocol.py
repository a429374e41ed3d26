"""Watch protocol v1: the messages, their validation and the error codes (docs/protocol.md).

Parsing is pydantic's Rust JSON parser straight into typed messages: it refuses NaN,
Infinity, booleans and strings where numbers belong, at ~15 µs for a 50-sample frame.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

import numpy as np
from pydantic_core import PydanticCustomError
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from classifier.channels import SENSOR_CHANNELS

CHANNELS = SENSOR_CHANNELS
CLOSE_UNAUTHORIZED = 4401


class ErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    BAD_JSON = "bad_json"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_SHAPE = "bad_shape"
    TOO_LARGE = "too_large"
    TOO_MANY_SAMPLES = "too_many_samples"
    RATE_LIMITED = "rate_limited"
    BACKLOG = "backlog"
    NOT_STARTED = "not_started"
    SESSION_FORBIDDEN = "session_forbidden"
    SESSION_MISMATCH = "session_mismatch"
    SESSION_ENDED = "session_ended"
    OUT_OF_ORDER = "out_of_order"
    MISSING_FRAMES = "missing_frames"
    BAD_LAST_SEQ = "bad_last_seq"
    STORAGE_UNAVAILABLE = "storage_unavailable"


class ProtocolError(ValueError):
    """A message the server refuses. `extra` fields travel in the error reply."""

    def __init__(self, code: ErrorCode, detail: str, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra

    def as_message(self) -> dict:
        return {"type": "error", "code": self.code.value, "detail": self.detail, **self.extra}


_strict = ConfigDict(extra="forbid", frozen=True)
Sample = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# The archive's seq is a PostgreSQL integer; at a frame a second that is 68 years of one session.
MAX_SEQ = 2**31 - 1
Seq = Annotated[int, Field(strict=True, ge=0, le=MAX_SEQ)]
# Below 10 Hz a repetition (up to ~2 a second) is not sampled well enough to count; above the
# limit no wrist sensor streams. Strict: "50" and true are not rates.
MIN_RATE_HZ, MAX_RATE_HZ = 10.0, 400.0
RateHz = Annotated[float, Field(strict=True, ge=MIN_RATE_HZ, le=MAX_RATE_HZ, allow_inf_nan=False)]
# A recording starts in this century and not after tomorrow (a watch's clock may be a time zone
# off). Instants far outside are not only wrong: PostgreSQL keeps them but Python cannot read
# them back, and one such row once stopped the final pass of every athlete.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=1)


def check_started_at(started_at: datetime) -> datetime:
    """`started_at` itself, or a ValueError saying which instants are accepted."""
    latest = datetime.now(UTC) + LATEST_START_AHEAD
    try:
        sane = EARLIEST_START <= started_at <= latest
    except OverflowError:  # its UTC instant lies outside what a datetime can hold
        sane = False
    if not sane:
        raise ValueError(f"must lie between {EARLIEST_START:%Y-%m-%d} and {latest:%Y-%m-%d} (UTC)")
    return started_at


class StartMessage(BaseModel):
    model_config = _strict
    type: Literal["start"]
    session: uuid.UUID
    rate_hz: RateHz
    channels: Annotated[list[Literal[CHANNELS]], Field(min_length=1, max_length=len(CHANNELS))]
    started_at: Annotated[AwareDatetime, AfterValidator(check_started_at)]
    # How the device is worn for this session; each defaults to the device's setting (Devices page).
    side: Literal["left", "right"] | None = None
    placement: Literal["wrist", "upper_arm", "hand"] | None = None

    @field_validator("channels")
    @classmethod
    def channels_unique(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError("each channel may appear once")
        return channels


def _as_array(rows: list[list[float]]) -> np.ndarray:
    # Converted during validation so that the 50-odd row lists die at once instead of
    # living while the frame awaits storage: survivors of that kind made the garbage
    # collector's full passes (~150 ms each) the tail of the ack latency at 1,000 watches.
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise PydanticCustomError("ragged_samples", "every sample must have the same number of values")
    return np.array(rows, dtype=np.float64)


class FrameMessage(BaseModel):
    model_config = _strict
    type: Literal["frame"]
    session: uuid.UUID
    seq: Seq
    samples: Annotated[list[list[Sample]], Field(min_length=1), AfterValidator(_as_array)]  # becomes an ndarray


class EndMessage(BaseModel):
    model_config = _strict
    type: Literal["end"]
    session: uuid.UUID
    last_seq: Annotated[int, Field(strict=True, ge=-1, le=MAX_SEQ)]  # -1: a recording with no frame


Message = Annotated[StartMessage | FrameMessage | EndMessage, Field(discriminator="type")]
_message_adapter = TypeAdapter(Message)

_CODE_OF_PYDANTIC_ERROR = {
    "json_invalid": ErrorCode.BAD_JSON,
    "union_tag_invalid": ErrorCode.UNKNOWN_TYPE,
    "union_tag_not_found": ErrorCode.UNKNOWN_TYPE,
    "finite_number": ErrorCode.NON_FINITE,
    "ragged_samples": ErrorCode.BAD_SHAPE,
}


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"][1:])  # loc[0] is the message type
    return f"{where}: {error['msg']}" if where else error["msg"]


def parse_message(text: str, *, max_chars: int) -> StartMessage | FrameMessage | EndMessage:
    if len(text) > max_chars:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"message of {len(text)} characters; the limit is {max_chars}", limit=max_chars
        )
    try:
        return _message_adapter.validate_json(text)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        code = _CODE_OF_PYDANTIC_ERROR.get(errors[0]["type"], ErrorCode.INVALID_MESSAGE)
        detail = "; ".join(_describe(error) for error in errors[:3])
        if code is ErrorCode.UNKNOWN_TYPE:
            detail = "'type' must be one of start, frame, end"
        raise ProtocolError(code, detail) from None


def check_samples(samples: np.ndarray, *, max_abs: float, **extra) -> None:
    """The one check of sensor values, for every door (a watch's frame, an imported file):
    finite, and within ±max_abs. A ProtocolError (a ValueError) says what is wrong and where."""
    finite = np.isfinite(samples)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ProtocolError(ErrorCode.NON_FINITE, f"sample {row} holds NaN or ±Infinity", **extra)
    if samples.size and np.abs(samples).max() > max_abs:
        row = int(np.argwhere(np.abs(samples) > max_abs)[0][0])
        raise ProtocolError(
            ErrorCode.OUT_OF_RANGE, f"sample {row} has a value beyond ±{max_abs:g}, beyond any watch sensor", **extra
        )


def check_rate(rate_hz: float) -> None:
    """A recording's sample rate, for every door."""
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"a rate of {rate_hz:g} Hz; accepted are {MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} Hz"
        )


def frame_array(frame: FrameMessage, n_channels: int, *, max_samples: int, max_abs: float) -> np.ndarray:
    """The frame's samples as float32 (samples × channels), or a ProtocolError saying why not."""
    array = frame.samples
    n, width = array.shape
    if n > max_samples:
        raise ProtocolError(
            ErrorCode.TOO_MANY_SAMPLES, f"{n} samples in one frame; the limit is {max_samples}",
            seq=frame.seq, limit=max_samples,
        )
    if width != n_channels:
        raise ProtocolError(
            ErrorCode.BAD_SHAPE, f"samples have {width} values each; the session has {n_channels} channels",
            seq=frame.seq,
        )
    check_samples(array, max_abs=max_abs, seq=frame.seq)
    return array.astype(np.float32)


def started(session: uuid.UUID, next_seq: int) -> dict:
    return {"type": "started", "session": str(session), "next_seq": next_seq}


def ack(session: uuid.UUID, seq: int) -> dict:
    return {"type": "ack", "session": str(session), "seq": seq}


def ended(session: uuid.UUID) -> dict:
    return {"type": "ended", "session": str(session)}
