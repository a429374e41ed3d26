"""The watch door against real Redis and PostgreSQL: protocol v1 as docs/protocol.md gives it."""

import asyncio
import uuid

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from config.redis import redis_client
from ingest.models import Device, Frame, Recording
from ingest.handoff import report_processed, stream_key
from tests.conftest import CHANNELS, connect, frame_message, random_samples, start_message

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def start(ws, session=None, **kwargs) -> dict:
    await ws.send_json_to(start_message(session, **kwargs))
    return await ws.receive_json_from()


async def send_frame(ws, session, seq, samples) -> dict:
    await ws.send_json_to(frame_message(session, seq, samples))
    return await ws.receive_json_from()


async def read_back(session) -> np.ndarray:
    recording = await Recording.objects.aget(id=session)
    return await sync_to_async(recording.read_samples)()


async def test_stream_a_recording_and_read_it_back(token):
    session = uuid.uuid4()
    sent = [random_samples(50, seed=seq) for seq in range(5)]
    ws = await connect(token)
    assert await start(ws, session) == {"type": "started", "session": str(session), "next_seq": 0}
    for seq, samples in enumerate(sent):
        assert await send_frame(ws, session, seq, samples) == {"type": "ack", "session": str(session), "seq": seq}
    await ws.send_json_to({"type": "end", "session": str(session), "last_seq": 4})
    assert await ws.receive_json_from() == {"type": "ended", "session": str(session)}
    await ws.disconnect()

    np.testing.assert_array_equal(await read_back(session), np.concatenate(sent))
    recording = await Recording.objects.aget(id=session)
    assert recording.status == Recording.Status.ENDED and recording.ended_at is not None
    entries = await sync_to_async(redis_client().xrange)(stream_key(session))
    assert [entry_id for entry_id, _ in entries] == [f"{seq}-1".encode() for seq in range(5)]
    assert np.frombuffer(entries[2][1][b"samples"], "<f4").reshape(-1, 6).tolist() == sent[2].tolist()


async def test_query_string_token_works_too(token):
    ws = await connect(token, via="query")
    assert (await start(ws))["type"] == "started"
    await ws.disconnect()


async def test_resume_after_a_dropped_connection_loses_and_doubles_nothing(token):
    session = uuid.uuid4()
    sent = [random_samples(25, seed=seq) for seq in range(6)]
    ws = await connect(token)
    await start(ws, session)
    for seq in range(3):
        await send_frame(ws, session, seq, sent[seq])
    await ws.disconnect()  # the watch lost its connection; it does not know whether frame 2 arrived

    ws = await connect(token)
    assert (await start(ws, session))["next_seq"] == 3
    # Re-sending an acknowledged frame is acknowledged again and not stored twice.
    assert await send_frame(ws, session, 2, sent[2]) == {"type": "ack", "session": str(session), "seq": 2}
    for seq in range(3, 6):
        assert (await send_frame(ws, session, seq, sent[seq]))["type"] == "ack"
    await ws.disconnect()

    np.testing.assert_array_equal(await read_back(session), np.concatenate(sent))
    assert await Frame.objects.filter(recording_id=session).acount() == 6


@pytest.mark.parametrize("how", ["none", "wrong", "revoked", "wrong scheme"])
async def test_bad_tokens_are_closed_with_4401_before_any_data(device_and_token, how):
    device, token = device_and_token
    if how == "revoked":
        await sync_to_async(device.revoke)()
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    headers = {
        "none": [],
        "wrong": [(b"authorization", b"Bearer not-a-token")],
        "revoked": [(b"authorization", f"Bearer {token}".encode())],
        "wrong scheme": [(b"authorization", f"Basic {token}".encode())],
    }[how]
    ws = WebsocketCommunicator(application, "/ws/ingest/", headers=headers)
    await ws.connect()
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == "unauthorized"
    assert (await ws.receive_output())["code"] == 4401
    assert await Recording.objects.acount() == 0


async def test_another_devices_session_is_refused(user, token):
    other_device, other_token = await sync_to_async(Device.create_with_token)(owner=user, name="Other watch")
    session = uuid.uuid4()
    ws = await connect(token)
    await start(ws, session)
    await send_frame(ws, session, 0, random_samples(10))

    intruder = await connect(other_token)
    error = await start(intruder, session)
    assert error["code"] == "session_forbidden"
    # Without a start, its frames for that session go nowhere either.
    assert (await send_frame(intruder, session, 1, random_samples(10)))["code"] == "not_started"
    await intruder.disconnect()
    await ws.disconnect()
    assert await Frame.objects.filter(recording_id=session).acount() == 1


async def expect_error(ws, message, code: str) -> dict:
    if isinstance(message, str):
        await ws.send_to(text_data=message)
    elif isinstance(message, bytes):
        await ws.send_to(bytes_data=message)
    else:
        await ws.send_json_to(message)
    reply = await ws.receive_json_from()
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert reply["detail"]  # a human sentence
    return reply


async def test_every_bad_message_gets_its_code_and_the_connection_goes_on(token):
    session = uuid.uuid4()
    ws = await connect(token)
    await expect_error(ws, frame_message(session, 0, random_samples(5)), "not_started")
    await start(ws, session, channels=CHANNELS[3:])  # a gyroscope-only watch
    good = random_samples(5, 3)

    await expect_error(ws, "{not json", "bad_json")
    await expect_error(ws, b"\x00\x01", "binary_not_supported")
    await expect_error(ws, {"type": "hello"}, "unknown_type")
    await expect_error(ws, {"session": str(session)}, "unknown_type")
    await expect_error(ws, {"type": "frame", "session": "not-a-uuid", "seq": 0, "samples": [[1, 2, 3]]}, "invalid_message")
    await expect_error(ws, {"type": "frame", "session": str(session), "seq": 0, "samples": [[1, "2", 3]]}, "invalid_message")
    await expect_error(ws, {"type": "frame", "session": str(session), "seq": 0, "samples": [[1, True, 3]]}, "invalid_message")
    await expect_error(ws, {"type": "frame", "session": str(session), "seq": 0, "samples": []}, "invalid_message")
    await expect_error(ws, f'{{"type":"frame","session":"{session}","seq":0,"samples":[[1,NaN,3]]}}', "non_finite")
    await expect_error(ws, f'{{"type":"frame","session":"{session}","seq":0,"samples":[[1,2,1e999]]}}', "non_finite")
    await expect_error(ws, frame_message(session, 0, np.full((2, 3), 1e30, np.float32)), "out_of_range")
    await expect_error(ws, frame_message(session, 0, random_samples(5, 4)), "bad_shape")
    await expect_error(ws, frame_message(session, 0, random_samples(501, 3)), "too_many_samples")
    await expect_error(ws, "x" * (128 * 1024 + 1), "too_large")
    await expect_error(ws, frame_message(session, 1, good), "out_of_order")
    await expect_error(ws, {"type": "end", "session": str(session), "last_seq": 3}, "missing_frames")
    reply = await expect_error(ws, start_message(session, rate_hz=25, channels=CHANNELS[3:]), "session_mismatch")
    assert "50 Hz" in reply["detail"]
    await expect_error(ws, start_message(rate_hz=10_000), "invalid_message")
    await expect_error(ws, start_message(channels=["gyr_x", "gyr_x"]), "invalid_message")
    await expect_error(ws, start_message(channels=["temperature"]), "invalid_message")

    # After all that, the connection still takes good frames, and nothing bad was stored.
    assert (await send_frame(ws, session, 0, good))["type"] == "ack"
    await expect_error(ws, {"type": "end", "session": str(session), "last_seq": -1}, "bad_last_seq")
    await ws.send_json_to({"type": "end", "session": str(session), "last_seq": 0})
    assert (await ws.receive_json_from())["type"] == "ended"
    await expect_error(ws, frame_message(session, 1, good), "session_ended")
    assert (await send_frame(ws, session, 0, good))["type"] == "ack"  # an old frame is still acknowledged
    await ws.disconnect()
    np.testing.assert_array_equal(await read_back(session), good)


@override_settings(INGEST_MAX_FRAMES_PER_SECOND=1.0, INGEST_FRAME_BURST=3)
async def test_a_device_over_its_frame_rate_is_told_when_to_retry(token):
    session = uuid.uuid4()
    ws = await connect(token)
    await start(ws, session)
    for seq in range(3):
        assert (await send_frame(ws, session, seq, random_samples(2)))["type"] == "ack"
    error = await expect_error(ws, frame_message(session, 3, random_samples(2)), "rate_limited")
    assert 0 < error["retry_after_s"] <= 1.0 and error["seq"] == 3
    await ws.disconnect()
    assert await Frame.objects.filter(recording_id=session).acount() == 3


@override_settings(INGEST_MAX_BACKLOG_FRAMES=3, INGEST_BACKLOG_RETRY_SECONDS=2.5)
async def test_a_session_too_far_ahead_of_the_workers_is_told_to_back_off(token):
    session = uuid.uuid4()
    ws = await connect(token)
    await start(ws, session)
    for seq in range(3):
        assert (await send_frame(ws, session, seq, random_samples(2)))["type"] == "ack"
    error = await expect_error(ws, frame_message(session, 3, random_samples(2)), "backlog")
    assert error["retry_after_s"] == 2.5 and error["seq"] == 3 and "3 frames behind" in error["detail"]
    await sync_to_async(report_processed)({session: 2})  # the pipeline caught up to frame 2
    await asyncio.sleep(1.05)  # the consumer reads the pipeline's cursor once a second at most
    assert (await send_frame(ws, session, 3, random_samples(2)))["type"] == "ack"
    await ws.disconnect()
    assert await Frame.objects.filter(recording_id=session).acount() == 4


async def test_storage_outage_refuses_the_frame_and_the_resend_is_stored(token, embedded_services):
    session = uuid.uuid4()
    ws = await connect(token)
    await start(ws, session)
    samples = random_samples(10)
    assert (await send_frame(ws, session, 0, samples))["type"] == "ack"
    embedded_services.redis.stop()
    try:
        error = await expect_error(ws, frame_message(session, 1, samples), "storage_unavailable")
        assert error["seq"] == 1
    finally:
        embedded_services.redis.start()
    # Redis is back (its AOF kept frame 0): the watch re-sends frame 1.
    assert (await send_frame(ws, session, 1, samples))["type"] == "ack"
    await ws.disconnect()
    assert (await read_back(session)).shape == (20, 6)
    entries = await sync_to_async(redis_client().xrange)(stream_key(session))
    assert [entry_id for entry_id, _ in entries] == [b"0-1", b"1-1"]


async def test_a_start_says_how_the_device_is_worn_else_the_device_setting_holds(device_and_token):
    device, token = device_and_token
    device.side = "left"
    await device.asave(update_fields=["side"])
    ws = await connect(token)
    told, default = uuid.uuid4(), uuid.uuid4()
    assert (await start(ws, told, side="right", placement="upper_arm"))["type"] == "started"
    assert (await start(ws, default))["type"] == "started"  # protocol v1's first form, without them
    assert [(r.side, r.placement) async for r in Recording.objects.filter(id__in=[told, default]).order_by("side")] == [
        ("left", "wrist"), ("right", "upper_arm")]
    await expect_error(ws, {**start_message(), "side": "middle"}, "invalid_message")
    await ws.disconnect()
