"""Sensor Logger's HTTP Push: a real lift pushed as the app pushes it (wrist motion in its units,
jittered nanosecond times, messages doubled, reordered and one lost) gives the sets of the same
recording streamed over protocol v1, with the lost second shown as a gap; bad pushes get a clear
4xx and harm nothing."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator, HttpCommunicator
from django.db import connection

from bench.ingest import verify
from config.asgi import application

from ingest.models import Device, Frame, HeldMessage, Recording
from ingest.push import flush_waiting, parse_body, receive, recording_id
from ingest.pusher import Pusher, run_pushers
from ingest.recordings import import_gym_recording
from journal import pipeline
from journal.models import ExerciseSet
from tests.conftest import database_refusing_connections
from tests.test_sensor_logger import STARTED_AT, lifter_signal

pytestmark = pytest.mark.django_db(transaction=True)  # the push is stored on the ingest's own connections

URL = "/ingest/sensor-logger/"
BATCH = 100  # readings a message: the app's default batch period at 100 Hz


def wrist_readings() -> list[dict]:
    _, t_ns, user, gravity, rotation = lifter_signal()
    names = [f"{quantity}{axis}" for quantity in ("rotationRate", "gravity", "acceleration") for axis in "XYZ"]
    values = np.hstack([rotation, gravity, user])
    return [{"name": "wristmotion", "time": int(t), "accuracy": 3, "values": dict(zip(names, map(float, row)))}
            for t, row in zip(t_ns, values)]


def messages(readings: list[dict], session: str = "2024-11-27T15-30-47") -> list[dict]:
    return [{"messageId": number, "sessionId": session, "deviceId": "watch-1",
             "payload": readings[start:start + BATCH] + [{"name": "battery", "time": readings[start]["time"], "values": {"batteryLevel": 0.8, "batteryState": "unplugged"}}]}
            for number, start in enumerate(range(0, len(readings), BATCH))]


def post(body: bytes, query: str = "", *, method: str = "POST", headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """Through the server's whole ASGI application, as the app's request arrives."""
    async def send() -> dict:
        request = HttpCommunicator(application, method, f"{URL}?{query}", body,
                                   [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()])
        return await request.get_response(timeout=30)

    answer = async_to_sync(send)()
    return answer["status"], orjson.loads(answer["body"])


def push(token, message, **query) -> tuple[int, dict]:
    return post(orjson.dumps(message), "&".join(f"{k}={v}" for k, v in {"token": token, **query}.items()))


def sets_of(workout) -> list[tuple]:
    return [(s.exercise_id, s.reps, s.start_s, s.end_s) for s in ExerciseSet.objects.filter(workout=workout).order_by("ordinal")]


def test_a_pushed_lift_doubled_reordered_and_one_message_lost_gives_the_sets_of_the_streamed_one(client, user, token, settings):
    settings.INGEST_PUSH_HOLD_SECONDS = 3.0
    signal = lifter_signal()[0]
    direct, _ = import_gym_recording(signal, owner=user, started_at=STARTED_AT)  # the path of protocol v1's frames
    want = sets_of(pipeline.final_pass(direct.pk))

    sent = messages(wrist_readings())
    lost = len(sent) - 3  # two messages come after it, and are held for it
    order = [m for m in sent if m["messageId"] != lost]
    order[3], order[4] = order[4], order[3]  # out of order
    order.insert(10, sent[7])  # sent twice
    stored = {}
    for message in order:
        status, answer = push(token, message)
        assert status == 200, answer
        stored.setdefault(message["messageId"], answer["stored"])
    assert stored[0] == BATCH and stored[7] == BATCH
    pushed = Recording.objects.get(pk=recording_id(sent[0]["sessionId"]))
    assert HeldMessage.objects.filter(session_id=pushed.pk).exists()  # held behind the lost one
    time.sleep(3.1)
    assert {frame.recording_id for frame in flush_waiting()} == {pushed.pk}  # the sweep's task: the app has gone quiet
    assert not HeldMessage.objects.exists()

    pushed.refresh_from_db()
    assert abs(pushed.started_at - STARTED_AT).total_seconds() < 0.01 and pushed.rate_hz == signal.rate_hz
    samples = pushed.read_samples()
    assert abs(len(samples) - len(signal.samples)) <= 1  # the lost second filled in, nothing shifted
    after = slice((lost + 1) * BATCH + 5, (lost + 2) * BATCH)
    assert np.median(np.abs(samples[after, :3] - signal.samples[after, :3])) < 0.01
    assert len(pushed.gaps) == 1
    assert pushed.gaps[0]["at_s"] == pytest.approx(lost * BATCH / signal.rate_hz, abs=0.02)
    assert pushed.gaps[0]["seconds"] == pytest.approx(1.0, abs=0.03)

    got = sets_of(pipeline.final_pass(pushed.pk))
    assert want and len(got) == len(want)
    for (exercise, reps, start, end), (exercise_want, reps_want, start_want, end_want) in zip(got, want):
        assert exercise == exercise_want and abs(reps - reps_want) <= 1
        assert abs(start - start_want) < 1.0 and abs(end - end_want) < 1.0

    client.force_login(user)
    page = client.get(f"/workouts/{pushed.pk}/").content.decode()
    minute, second = divmod(int(pushed.gaps[0]["at_s"]), 60)
    assert f"1 s missing at {minute}:{second:02d}" in page


def test_a_session_another_web_process_moved_is_read_again_not_written_over(device_and_token):
    device, token = device_and_token
    sent = messages(wrist_readings())[:4]
    assert push(token, sent[0]) == (200, {"stored": BATCH})  # this process now knows the session: the quick way next
    elsewhere = parse_body(orjson.dumps(sent[1]))  # another web process takes message 1, straight to the database
    assert receive(device, elsewhere, ios=True)[0] == BATCH
    assert push(token, sent[1]) == (200, {"stored": 0})  # a repeat, though this process last saw the session before it
    assert push(token, sent[2]) == (200, {"stored": BATCH})
    assert push(token, sent[3]) == (200, {"stored": BATCH})  # the quick way again

    moved = Recording.objects.get(pk=recording_id(sent[0]["sessionId"]))
    assert list(Frame.objects.filter(recording=moved).order_by("seq").values_list("seq", flat=True)) == [0, 1, 2, 3]
    for message in messages(wrist_readings(), session="one door")[:4]:
        assert push(token, message)[0] == 200
    one_door = Recording.objects.get(pk=recording_id("one door"))
    assert np.array_equal(moved.read_samples(), one_door.read_samples())


def test_a_phone_push_reads_the_phones_sensors_in_the_journals_sign(token):
    _, t_ns, user_acc, gravity, rotation = lifter_signal()
    g = 9.80665

    def reading(name, t, xyz):
        return {"name": name, "time": int(t), "values": dict(zip("xyz", map(float, xyz)))}

    payload = [reading(name, t, v) for t, u, gr, r in zip(t_ns[:200], user_acc[:200] * g, gravity[:200] * g, rotation[:200])
               for name, v in (("accelerometer", u), ("gravity", gr), ("gyroscope", r))]
    status, answer = push(token, {"messageId": 0, "sessionId": "phone-1", "deviceId": "p", "payload": payload})
    assert status == 200 and answer == {"stored": 200}
    recording = Recording.objects.get(pk=recording_id("phone-1"))
    assert recording.push.sensor == "phone" and recording.channels == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    signal = lifter_signal()[0]
    samples = recording.read_samples()
    difference = np.median(np.abs(samples[:150] - signal.samples[:150]), axis=0)
    assert difference[:3].max() < 0.01 and difference[3:].max() < 1.0  # g; deg/s, ±1 ms of jitter


def test_a_message_without_motion_readings_is_answered_and_starts_nothing(token):
    status, answer = push(token, {"messageId": 0, "sessionId": "test", "deviceId": "x",
                                          "payload": [{"name": "location", "time": 1_700_000_000_000_000_000, "values": {"latitude": 1.0}}]})
    assert status == 200 and answer == {"stored": 0}
    assert not Recording.objects.exists()


def good_message(**changes) -> dict:
    return {**messages(wrist_readings()[:BATCH])[0], **changes}


def wrist(**values) -> dict:
    reading = dict(wrist_readings()[0])
    reading["values"] = {**reading["values"], **values}
    return reading


BAD_PUSHES = {
    "not JSON": (b"{messageId: 1", 400, "bad_json"),
    "no payload": (orjson.dumps({"messageId": 0, "sessionId": "s"}), 400, "invalid_message"),
    "a string for messageId": (orjson.dumps(good_message(messageId="3")), 400, "invalid_message"),
    "a NaN (null, as JavaScript sends it)": (orjson.dumps(good_message(payload=[wrist(rotationRateX=None)] * 3)), 422, "non_finite"),
    "a field missing": (orjson.dumps(good_message(payload=[{**wrist(), "values": {"rotationRateX": 0.1}}] * 3)), 400, "invalid_message"),
    "a value beyond any sensor": (orjson.dumps(good_message(payload=[wrist(gravityX=1e9)] * 3)), 422, "out_of_range"),
    "times going backwards": (orjson.dumps(good_message(payload=wrist_readings()[:10][::-1])), 400, "invalid_message"),
    "a time far in the future": (orjson.dumps(good_message(payload=[{**wrist(), "time": 4_000_000_000 * 10**9}] * 3)), 422, "out_of_range"),
    "readings spanning a day (a grid of millions of samples)": (orjson.dumps(good_message(payload=wrist_readings()[:3] + [
        {**wrist_readings()[3], "time": wrist_readings()[3]["time"] + 86_000 * 10**9}])), 422, "out_of_range"),
}


@pytest.mark.parametrize("case", sorted(BAD_PUSHES))
def test_a_bad_push_gets_a_code_and_a_sentence_and_the_stream_goes_on(token, case):
    body, status, code = BAD_PUSHES[case]
    answered, answer = post(body, f"token={token}")
    assert answered == status and answer["code"] == code and answer["detail"]
    assert not Recording.objects.exists() and not Frame.objects.exists()
    assert push(token, good_message()) == (200, {"stored": BATCH})  # the next good message is taken


def test_a_push_needs_a_token_of_the_sessions_own_device(user, token):
    assert push("wrong", good_message())[0] == 401
    assert post(orjson.dumps(good_message()), headers={"Authorization": f"Bearer {token}"})[0] == 200  # as the URL
    _, other_token = Device.create_with_token(user, "another phone")
    status, answer = push(other_token, good_message(messageId=1))
    assert status == 403 and answer["code"] == "session_forbidden"
    assert Frame.objects.count() == 1  # nothing of the refused


@pytest.fixture
def server_env(server_env) -> dict:
    return {**server_env, "INGEST_REVOCATION_CHECK_SECONDS": "0.2"}


def test_a_revoked_device_is_refused_by_a_running_server_within_the_check(device_and_token, web_server):
    device, token = device_and_token
    url = f"{web_server.http_url}{URL}?token={token}"
    assert httpx.post(url, content=orjson.dumps(good_message()), timeout=30).status_code == 200
    device.revoke()
    time.sleep(1.0)  # the server's revocation check runs every 0.2 s here
    answer = httpx.post(url, content=orjson.dumps(good_message(messageId=1)), timeout=30)
    assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
    assert Frame.objects.count() == 1  # what was accepted stays


def test_a_body_over_the_limit_is_refused_before_it_is_read(token, settings):
    settings.INGEST_MAX_PUSH_BYTES = 1000
    status, answer = push(token, good_message())
    assert status == 413 and answer["code"] == "too_large"

    async def declared_too_large() -> dict:
        request = ApplicationCommunicator(application, {
            "type": "http", "http_version": "1.1", "method": "POST", "path": URL, "query_string": f"token={token}".encode(),
            "headers": [(b"content-length", b"5000000")]})
        await request.send_input({"type": "http.request", "body": b"{", "more_body": True})  # the rest never comes
        return await request.receive_output(timeout=10)

    assert async_to_sync(declared_too_large)()["status"] == 413
    assert not Recording.objects.exists()


def test_the_door_takes_only_posts(token):
    status, answer = post(b"", f"token={token}", method="GET")
    assert status == 405 and answer["code"] == "method_not_allowed"


def test_a_new_session_id_is_a_new_recording(token):
    assert push(token, good_message(sessionId="monday"))[0] == 200
    assert push(token, good_message(sessionId="tuesday"))[0] == 200
    assert {r.push.session_id for r in Recording.objects.all()} == {"monday", "tuesday"}


def test_simulated_apps_pushing_to_a_running_server_lose_and_double_nothing(user, web_server):
    signal = lifter_signal()[0]
    fleet = [Pusher(url=f"{web_server.http_url}{URL}", token=Device.create_with_token(user, f"phone {i}")[1],
                    samples=signal.samples[i * 100:i * 100 + 250], rate_hz=signal.rate_hz) for i in range(3)]
    reports = asyncio.run(run_pushers(fleet))
    assert [r.frames_acked for r in reports] == [p.n_messages for p in fleet] == [3, 3, 3]
    assert verify(fleet, reports) == (0, 0)  # what `bench ingest --push` checks, read back from the archive


def test_a_push_while_redis_is_away_is_stored_and_answered(token, embedded_services):
    embedded_services.redis.stop()
    try:
        assert push(token, good_message()) == (200, {"stored": BATCH})  # durable in the archive, the stream follows later
    finally:
        embedded_services.redis.start()
    assert Frame.objects.count() == 1
    assert push(token, good_message(messageId=1, payload=wrist_readings()[BATCH:2 * BATCH]))[0] == 200


def test_a_push_while_the_database_is_away_is_refused_with_503_and_the_next_one_is_taken(token):
    assert push(token, good_message())[0] == 200
    with database_refusing_connections():
        status, answer = push(token, good_message(messageId=1, payload=wrist_readings()[BATCH:2 * BATCH]))
    assert status == 503 and answer["code"] == "storage_unavailable" and answer["retry_after_s"] > 0
    connection.close()  # the test's own connection was dropped too
    assert push(token, good_message(messageId=1, payload=wrist_readings()[BATCH:2 * BATCH]))[0] == 200
    assert Frame.objects.count() == 2


def test_a_message_long_after_the_last_is_refused_not_turned_into_hours_of_grid(token):
    assert push(token, good_message())[0] == 200
    later = [{**reading, "time": reading["time"] + 3600 * 10**9} for reading in wrist_readings()[BATCH:2 * BATCH]]
    status, answer = push(token, good_message(messageId=1, payload=later))
    assert status == 422 and answer["code"] == "out_of_range" and "new recording" in answer["detail"]
    assert Frame.objects.count() == 1


def test_a_pushed_recording_ends_when_the_app_goes_quiet_and_a_late_message_is_told_so(token, settings, monkeypatch):
    from journal import tasks

    assert push(token, good_message())[0] == 200
    settings.PIPELINE_QUIET_SECONDS = 0
    monkeypatch.setattr(tasks.process_recordings, "delay", lambda *a, **k: tasks.process_recordings.apply(a, k))
    tasks.sweep_recordings()  # as beat runs it: the app's silence ends the recording and its final pass follows
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.ENDED and recording.ended_at is not None
    assert recording.workout.finalized_at is not None
    status, answer = push(token, good_message(messageId=1, payload=wrist_readings()[BATCH:2 * BATCH]))
    assert status == 409 and answer["code"] == "session_ended"
