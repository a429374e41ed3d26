"""Property-based fuzzing of the frame parser through the real consumer: whatever a watch
sends, the consumer answers (ack or error), stays up, and archives only good samples."""

import asyncio
import json
import math
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.test import override_settings

from ingest.models import SAMPLE_DTYPE, Frame, Recording
from ingest.protocol import ErrorCode, ProtocolError, frame_array, parse_message
from tests.conftest import connect, start_message

SESSION = uuid.uuid4()

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(), st.text(max_size=3), st.none(),
)
good_rows = st.lists(st.floats(-100, 100, width=32), min_size=6, max_size=6)
rows = st.one_of(good_rows, st.lists(numbers, min_size=0, max_size=8))
json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=10)


@st.composite
def frame_texts(draw) -> str:
    """Mostly frame-shaped messages with something wrong somewhere, some valid, some noise."""
    kind = draw(st.sampled_from(["frame", "frame", "frame", "json", "text"]))
    if kind == "text":
        return draw(st.text(min_size=1, max_size=200))  # the test client cannot send ""
    if kind == "json":
        return json.dumps(draw(json_values))
    message = {
        "type": draw(st.sampled_from(["frame", "frame", "frame", "start", "end", "Frame", 7])),
        "session": draw(st.sampled_from([str(SESSION), str(SESSION), "nope", None])),
        "seq": draw(st.one_of(st.integers(-2, 3), st.floats(), st.text(max_size=2))),
        "samples": draw(st.one_of(st.lists(good_rows, min_size=1, max_size=6), st.lists(rows, max_size=6))),
    }
    if draw(st.booleans()):
        message.pop(draw(st.sampled_from(sorted(message))))
    # Python's json writes NaN/Infinity literals, as a sloppy watch might.
    return json.dumps(message, allow_nan=True)


@given(text=frame_texts())
@settings(max_examples=400, deadline=None)
def test_parser_accepts_only_finite_well_formed_frames(text):
    try:
        message = parse_message(text, max_chars=128 * 1024)
        if message.type != "frame":
            return
        samples = frame_array(message, 6, max_samples=500, max_abs=1e5)
    except ProtocolError as error:
        assert isinstance(error.code, ErrorCode) and error.detail
        return
    assert samples.dtype == np.float32 and samples.shape[1] == 6 and np.isfinite(samples).all()


async def exchange(token: str, texts: list[str]) -> list[dict]:
    ws = await connect(token)
    await ws.send_json_to(start_message(SESSION))
    replies = [await ws.receive_json_from()]
    for text in texts:
        await ws.send_to(text_data=text)
        replies.append(await ws.receive_json_from(timeout=5))
    await ws.disconnect()
    return replies


@pytest.mark.django_db(transaction=True)
@given(texts=st.lists(frame_texts(), min_size=1, max_size=15))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_consumer_survives_any_input_and_stores_only_good_samples(token, texts):
    Recording.objects.filter(id=SESSION).delete()  # the database outlives each example
    with override_settings(INGEST_START_BURST=1000):  # one device starts once per example, 40 in a row
        replies = asyncio.run(exchange(token, texts))
    assert replies[0]["type"] == "started"
    assert all(reply["type"] in {"ack", "error", "started", "ended"} for reply in replies)
    for frame in Frame.objects.filter(recording_id=SESSION):
        samples = np.frombuffer(frame.samples, dtype=SAMPLE_DTYPE)
        assert len(samples) == frame.n_samples * 6
        assert all(math.isfinite(value) for value in samples)
    # Every stored frame was acknowledged, and frames are numbered without gaps.
    acked = {reply["seq"] for reply in replies if reply["type"] == "ack"}
    seqs = sorted(Frame.objects.filter(recording_id=SESSION).values_list("seq", flat=True))
    assert seqs == list(range(len(seqs)))
    assert set(seqs) == acked
